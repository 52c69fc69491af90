import { readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { checkout, forgetGraph, projectWithGraph, runSteps } from "../support/provider-run.js";
import { scratchDir } from "../support/scratch.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const MANIFEST = ".build.yml";
const SCHEMA = "sourcehut-build-0.65.0.json";
const withSourcehut = exampleDirs(MANIFEST);

interface Manifest {
  image: string;
  packages: string[];
  environment: Record<string, string>;
  tasks: Array<Record<string, string>>;
}

const tasksOf = (m: Manifest) => m.tasks.map((t) => Object.entries(t)[0] as [string, string]);

describe("SourceHut build manifest", () => {
  it.each(withSourcehut)("examples/%s says it has no cache, and its tasks pass shellcheck", async (name) => {
    const text = readFileSync(join(examples, name, MANIFEST), "utf8");
    const manifest: Manifest = parse(text);
    expect(manifest.image).toBe("nixos/latest");
    // builds.sr.ht has no cache: the manifest says so where users look.
    expect(text).toMatch(/has NO cache between builds/);
    expect(manifest.environment.NIX_CI_CACHE_REMOTE).toBe("");
    for (const [task, script] of tasksOf(manifest)) {
      // Task names: lowercase letters, digits, _ and -, at most 128 characters.
      expect(task).toMatch(/^[a-z0-9_-]{1,128}$/);
      // Each task is a bash script of its own.
      expect(await shellcheckErrors(script, "bash", ["SC1091"]), task).toEqual([]);
    }
  });

  it("the schema check can fail: a broken manifest is reported", async () => {
    const text = readFileSync(join(examples, "sourcehut/linux", MANIFEST), "utf8");
    expect(providerSchemaErrors(SCHEMA, text.replace("image: nixos/latest", "image: [nixos]"))).toEqual([
      expect.stringMatching(/^\/image: must be string/),
    ]);
  });

  it("runs twice on real Nix with a local directory as the remote; a failed build still saves, the next builds nothing (emulated builds.sr.ht runner)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "sourcehut"]);
    const tasks = tasksOf(parse(readFileSync(join(project.source, MANIFEST), "utf8")));
    // The remote the user would fill in: here a directory that outlives the builds.
    const remote = join(scratchDir("ncc-srht-remote-"), "nix-cache");

    function build(dir: string, failAtEnd = false) {
      // builds.sr.ht clones into ~/<repo> and starts each task in ~ with `set -xe`.
      const home = scratchDir("ncc-srht-home-");
      symlinkSync(dir, join(home, "repo"));
      return runSteps(
        home,
        tasks.map(([name, script], i) => ({
          name,
          // A build that fails after building: the save on the way out must still run.
          script: `set -xe\n${script}${failAtEnd && i === tasks.length - 1 ? "\nfalse" : ""}`,
          shell: ["bash"],
        })),
        "none",
        { HOME: home, NIX_CI_CACHE_REMOTE: remote },
      );
    }

    const first = checkout(project, "run 1");
    const cold = build(first, true);
    expect(cold.status, cold.log).toBe(1);
    expect(cold.log).toMatch(/nix-ci-cache: saved \d+ new paths/);
    expect(cold.log).toContain("nothing restored from");
    expect(cold.built).toBe(project.graph.packages.length + 1);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const warm = build(second);
    expect(warm.status, warm.log).toBe(0);
    expect(warm.log).not.toContain("nothing restored from");
    expect(warm.built, warm.log).toBe(0);
    expect(warm.log).toMatch(/nix-ci-cache: saved 0 new paths/);
    forgetGraph(project, second);
  });
});
