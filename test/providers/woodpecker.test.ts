import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import {
  CacheStore,
  checkout,
  droneCacheStep,
  forgetGraph,
  projectWithGraph,
  runSteps,
  type Step,
} from "../support/provider-run.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const PIPELINE = ".woodpecker.yaml";
const withWoodpecker = exampleDirs(PIPELINE);

interface WhenCondition {
  event?: string[];
  status?: string[];
  evaluate?: string;
}

interface WoodpeckerStep {
  name: string;
  image: string;
  commands?: string[];
  volumes?: string[];
  settings?: {
    backend?: string;
    restore?: boolean;
    rebuild?: boolean;
    cache_key?: string;
    archive_format?: string;
    mount?: string[];
  };
  when?: WhenCondition[];
}

/** What Woodpecker does to the file before running it: `${CI_*}` substituted, `$$` a literal `$`. */
function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Z_]+)\}/g, (match, name?: string) => {
    if (match === "$$") return "$";
    if (name === undefined || !(name in vars)) throw new Error(`unexpected variable ${match}`);
    return vars[name] as string;
  });
}

/**
 * Whether a step runs for this event, and whether it also runs after a failure
 * (`status: [success, failure]`; runSteps applies that part).
 */
function stepRuns(step: WoodpeckerStep, event: string, vars: Record<string, string>): { runs: boolean; always: boolean } {
  const conditions = step.when ?? [{}];
  const always = conditions.some((c) => c.status?.includes("failure") ?? false);
  const holds = (c: WhenCondition) => {
    if (c.evaluate === undefined) return true;
    // The only expression we generate: one variable unequal to another.
    const m = /^(\w+) != (\w+)$/.exec(c.evaluate);
    if (!m) throw new Error(`unexpected evaluate expression ${c.evaluate}`);
    return vars[m[1] as string] !== vars[m[2] as string];
  };
  return { runs: conditions.some((c) => (c.event === undefined || c.event.includes(event)) && holds(c)), always };
}

describe("Woodpecker pipeline", () => {
  it.each(withWoodpecker)("examples/%s: the build step's commands pass shellcheck as one sh script", async (name) => {
    const steps: WoodpeckerStep[] = parse(readFileSync(join(examples, name, PIPELINE), "utf8")).steps;
    const build = steps.filter((s) => s.commands);
    expect(build).toHaveLength(1);
    // Woodpecker runs a step's commands as one script under `sh -e`.
    const script = substitute((build[0]?.commands ?? []).join("\n"), {});
    expect(await shellcheckErrors(script, "sh", ["SC1091"])).toEqual([]);
  });

  it("the schema check can fail: a broken pipeline is reported", () => {
    const text = readFileSync(join(examples, "woodpecker/linux", PIPELINE), "utf8").replace(
      "status: [success, failure]",
      "status: [always]",
    );
    expect(providerSchemaErrors("woodpecker.json", text)).toContainEqual(
      expect.stringMatching(/\/when\/0\/status\/0: must be equal to one of the allowed values/),
    );
  });

  it("runs on real Nix with the cache carried by drone-cache's branch key; a pull request reads its target branch's cache, a new branch the default branch's, and both build nothing; a failed build still saves (emulated Woodpecker runner and drone-cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "woodpecker"]);
    const steps: WoodpeckerStep[] = parse(readFileSync(join(project.source, PIPELINE), "utf8")).steps;
    const cacheDir = ".nix-ci-cache/cache";
    const store = new CacheStore();

    /** `build` replaces the build step's last command, the build. */
    function pipeline(dir: string, event: string, branch: string, build?: string) {
      // For pull requests CI_COMMIT_BRANCH is the target branch.
      const vars = { CI_REPO_OWNER: "owner", CI_REPO_NAME: "repo", CI_COMMIT_BRANCH: branch, CI_REPO_DEFAULT_BRANCH: "main" };
      const restored: string[] = [];
      const run: Step[] = steps.flatMap((s): Step[] => {
        const { runs, always } = stepRuns(s, event, vars);
        if (!runs) return [];
        if (s.settings) {
          const key = substitute(String(s.settings.cache_key ?? ""), vars);
          return [droneCacheStep({ ...s, settings: s.settings }, { store, dir, cacheDir, key, always, restored })];
        }
        // The nixos/nix image: this machine has Nix, so the commands run here.
        const commands = build ? [...(s.commands ?? []).slice(0, -1), build] : (s.commands ?? []);
        return [{ name: s.name, always, script: substitute(commands.join("\n"), vars), shell: ["sh", "-e"] }];
      });
      return { ...runSteps(dir, run, "none"), restored };
    }

    const main = "nix-ci-cache-owner-repo-linux-main";
    const first = checkout(project, "run 1");
    const cold = pipeline(first, "push", "main");
    expect(cold.status, cold.log).toBe(0);
    expect(cold.restored).toEqual([]);
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(cold.log).toMatch(/nix-ci-cache: saved \d+ new paths/);
    expect(store.keys).toEqual([main]);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const pr = pipeline(second, "pull_request", "main");
    expect(pr.status, pr.log).toBe(0);
    expect(pr.restored).toEqual(["nix-ci-cache-owner-repo-linux-main"]);
    expect(pr.built, pr.log).toBe(0);
    // The pull request did not save: it cannot write its target branch's cache.
    expect(store.keys).toEqual([main]);
    forgetGraph(project, second);

    // A new branch has no cache of its own: it starts from the default branch's.
    const third = checkout(project, "run 3");
    const topic = pipeline(third, "push", "topic");
    expect(topic.status, topic.log).toBe(0);
    expect(topic.restored).toEqual([main]);
    expect(topic.built, topic.log).toBe(0);
    expect(store.keys).toEqual([main, "nix-ci-cache-owner-repo-linux-topic"]);
    forgetGraph(project, third);

    // A failing build on a pushed branch: save.sh runs on exit and the plugin still saves.
    const fourth = checkout(project, "run 4");
    rmSync(join(fourth, "default.nix"));
    const failed = pipeline(fourth, "push", "broken");
    expect(failed.status, failed.log).not.toBe(0);
    expect(failed.log).toMatch(/nix-ci-cache: saved \d+ new paths/);
    expect(store.keys).toContain("nix-ci-cache-owner-repo-linux-broken");
    forgetGraph(project, fourth);

    // A build that leaves the shell elsewhere, then a save that fails: the trap still
    // finds save.sh, and the step keeps the build's status (0).
    const fifth = checkout(project, "run 5");
    writeFileSync(join(fifth, ".nix-ci-cache/save.sh"), "echo 'nix-ci-cache: save failed: disk full' >&2\nexit 1\n");
    writeFileSync(join(fifth, "default.nix"), "import ../graph.nix\n");
    mkdirSync(join(fifth, "sub"));
    renameSync(join(fifth, "default.nix"), join(fifth, "sub", "default.nix"));
    const elsewhere = pipeline(fifth, "push", "elsewhere", "cd sub && nix-build --no-out-link");
    expect(elsewhere.status, elsewhere.log).toBe(0);
    expect(elsewhere.log).toContain("save failed: disk full");
  });
});
