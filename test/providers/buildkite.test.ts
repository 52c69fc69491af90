import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildkite } from "../../src/providers/buildkite.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, checkout, coldThenNewBranch, projectWithGraph, runAfterRestore } from "../support/provider-run.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const PIPELINE = ".buildkite/pipeline.yml";
const FRAGMENT = ".buildkite/nix-ci-cache.yml";
const SCHEMA = "buildkite.json";
const withBuildkite = exampleDirs(FRAGMENT);

interface CacheOptions {
  path: string;
  restore?: string;
  save?: string | string[];
  force?: boolean;
  "key-extra"?: string;
  "soft-fail"?: boolean;
  [option: string]: unknown;
}

interface CommandStep {
  label: string;
  key: string;
  plugins: Array<Record<string, CacheOptions>>;
  command: string;
}

const LEVELS = ["file", "step", "branch", "pipeline", "all"];
const OPTIONS = [
  "path",
  "restore",
  "save",
  "backend",
  "compression",
  "force",
  "soft-fail",
  "keep-compressed-artifacts",
  "key-extra",
  "manifest",
  "retries",
];

/**
 * The cache plugin's documented configuration (README and plugin.yml of
 * buildkite-plugins/cache-buildkite-plugin v1.12.0): no published schema covers it,
 * and Buildkite's pipeline schema accepts any plugin options.
 */
function cachePluginProblems(step: CommandStep): string[] {
  const problems: string[] = [];
  const entries = step.plugins.flatMap((p) => Object.entries(p)).filter(([name]) => /^cache#v\d+\.\d+\.\d+$/.test(name));
  if (entries.length !== 1) return [`${step.key}: expected one pinned cache plugin entry`];
  const options = (entries[0] as [string, CacheOptions])[1];
  for (const option of Object.keys(options)) if (!OPTIONS.includes(option)) problems.push(`unknown option ${option}`);
  if (typeof options.path !== "string") problems.push("path is required");
  if (options.restore !== undefined && !LEVELS.includes(options.restore))
    problems.push(`restore: unknown level ${options.restore}`);
  for (const level of [options.save ?? []].flat()) if (!LEVELS.includes(level)) problems.push(`save: unknown level ${level}`);
  const needsManifest = options.restore === "file" || [options.save ?? []].flat().includes("file");
  if (needsManifest && options.manifest === undefined) problems.push("the file level needs a manifest");
  return problems;
}

const stepsOf = (dir: string): CommandStep[] => parse(readFileSync(join(dir, FRAGMENT), "utf8")).steps;

describe("Buildkite pipeline", () => {
  it.each(withBuildkite)("examples/%s passes the cache plugin's options and shellcheck", async (name) => {
    const dir = join(examples, name);
    const steps = stepsOf(dir);
    expect(steps.map((s) => s.key)).toEqual(
      name.endsWith("linux-macos") ? ["nix-ci-cache-linux", "nix-ci-cache-darwin"] : ["nix-ci-cache-linux"],
    );
    for (const step of steps) {
      expect(cachePluginProblems(step)).toEqual([]);
      // The agent runs a step's command as one bash script.
      expect(await shellcheckErrors(step.command, "bash", ["SC1091"])).toEqual([]);
    }
    // Platforms share the pipeline's cache levels: key-extra keeps their entries apart.
    expect(new Set(steps.map((s) => Object.values(s.plugins[0] ?? {})[0]?.["key-extra"])).size).toBe(steps.length);
    expect(readFileSync(join(dir, PIPELINE), "utf8")).toContain(`buildkite-agent pipeline upload ${FRAGMENT}`);
  });

  it("the validators can fail: a broken pipeline and a broken plugin entry are reported", async () => {
    const text = readFileSync(join(examples, "buildkite/linux", FRAGMENT), "utf8");
    expect(providerSchemaErrors(SCHEMA, text.replace("key: nix-ci-cache-linux", "key: [nix-ci-cache-linux]"))).toContainEqual(
      expect.stringMatching(/^\/steps\/0\/key: must be string/),
    );
    const step = parse(text.replace("restore: pipeline", "restore: everything").replace("soft-fail:", "soft_fail:")).steps[0];
    expect(cachePluginProblems(step)).toEqual(["unknown option soft_fail", "restore: unknown level everything"]);
  });

  it("adds the upload step to an existing pipeline once, keeping the rest", () => {
    const edit = (buildkite.userFiles ?? [])[0];
    const existing = "# ours\nsteps:\n  - label: test # keep\n    command: make test\n";
    const updated = edit?.update(existing) ?? "";
    expect(updated).toContain("# ours\n");
    expect(updated).toContain("command: make test\n");
    expect(parse(updated).steps[1]).toEqual({
      label: ":pipeline: nix-ci-cache",
      command: `buildkite-agent pipeline upload ${FRAGMENT}`,
    });
    expect(edit?.update(updated)).toBeUndefined();
    expect(() => edit?.update("env: {}\n")).toThrow(/no "steps:" list/);
  });

  it("runs on real Nix; a new branch starts from the pipeline-level entry and builds nothing; a failed build saves nothing (emulated Buildkite agent and cache plugin)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "buildkite"]);
    const [step] = stepsOf(project.source);
    if (!step) throw new Error("no step");
    const options = Object.values(step.plugins[0] ?? {})[0] as CacheOptions;
    expect(options.restore).toBe("pipeline");
    expect(options.force).toBe(true);
    const store = new CacheStore();
    // The plugin's keys per level; key-extra separates platforms within a level.
    const key = (level: string, branch: string) =>
      level === "branch" ? `branch-${branch}-${options["key-extra"]}` : `${level}-${options["key-extra"]}`;

    function job(dir: string, branch: string) {
      // pre-command hook: the first level that exists, up to `restore`.
      const restore = () => store.restoreExact(dir, [key("branch", branch), key("pipeline", branch)]);
      return runAfterRestore(dir, "cache plugin restore", restore, [
        // The install part of the command is skipped by its own `command -v nix`.
        { name: step?.label ?? "command", script: step?.command ?? "", shell: ["bash", "-e"] },
        {
          // post-command hook: only after a successful command; `force` overwrites.
          name: "cache plugin save",
          action: () => {
            for (const level of [options.save ?? []].flat()) store.save(dir, options.path, key(level, branch), !options.force);
          },
        },
      ]);
    }

    coldThenNewBranch(project, store, job, {
      restored: key("pipeline", "topic"),
      keys: [key("branch", "main"), key("branch", "topic"), key("pipeline", "topic")],
    });

    // A failed command: the agent's bash -e stops before save.sh, and the plugin's
    // post-command hook skips the save. The cache stays as it was.
    const third = checkout(project, "run 3");
    rmSync(join(third, "default.nix"));
    const failed = job(third, "broken");
    expect(failed.status, failed.log).not.toBe(0);
    expect(failed.log).not.toMatch(/nix-ci-cache: saved/);
    expect(store.keys).toEqual([key("branch", "main"), key("branch", "topic"), key("pipeline", "topic")]);
  });
});
