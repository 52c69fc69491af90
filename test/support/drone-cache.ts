// Drone and Woodpecker: one pipeline shape (a build step of shell commands between
// drone-cache plugin steps that restore and rebuild a branch's cache), one way of
// substituting variables, and one round trip on real Nix. Each provider's test file
// supplies what differs: its variables, its `when:` rules and its file's own checks.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parse } from "yaml";
import {
  CacheStore,
  checkout,
  type DroneCacheStep,
  droneCacheStep,
  forgetGraph,
  projectWithGraph,
  runSteps,
  type Step,
} from "./provider-run.js";
import { shellcheckErrors } from "./validators.js";

/** What the tests read of a step of either pipeline. */
export interface PipelineStep {
  name: string;
  image: string;
  commands?: string[];
  settings?: DroneCacheStep["settings"] & {
    backend?: string;
    cache_key?: string;
    archive_format?: string;
    mount?: string[];
  };
}

/** What Drone and Woodpecker do to the file before running it: `${NAME}` substituted, `$$` a literal `$`. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Z_]+)\}/g, (match, name?: string) => {
    if (match === "$$") return "$";
    if (name === undefined || !(name in vars)) throw new Error(`unexpected variable ${match}`);
    return vars[name] as string;
  });
}

/** The one build step of the pipeline `file`, its commands as one `sh -e` script (as both run them), passes shellcheck. */
export async function expectBuildStepPassesShellcheck(file: string): Promise<void> {
  const steps: PipelineStep[] = parse(readFileSync(file, "utf8")).steps;
  const build = steps.filter((s) => s.commands);
  expect(build).toHaveLength(1);
  const script = substitute((build[0]?.commands ?? []).join("\n"), {});
  expect(await shellcheckErrors(script, "sh", ["SC1091"])).toEqual([]);
}

export interface DroneCacheProvider<S extends PipelineStep> {
  /** What `init --provider` takes. */
  provider: string;
  /** The pipeline file. */
  pipeline: string;
  /** The variables of a run on `branch`; for pull requests, `branch` is the target branch. */
  vars: (branch: string) => Record<string, string>;
  /** Whether a step runs for this event, and whether it also runs after a failure (runSteps applies that part). */
  stepRuns: (step: S, event: string, vars: Record<string, string>) => { runs: boolean; always: boolean };
  /** The provider's own checks of a plugin step; `file` is the parsed pipeline. */
  checkPluginStep?: (step: S, file: Record<string, unknown>) => void;
  /** The keys a pull request to main restores, in order. */
  pullRequestRestores: string[];
}

/**
 * The generated pipeline on real Nix, run after run with the cache carried by
 * drone-cache's branch key: a push to main builds all and saves; a pull request reads
 * its target branch's cache and saves nothing; a new branch starts from the default
 * branch's; a failed build still saves; a build that leaves the shell elsewhere and a
 * save that fails keep the build's status.
 */
export async function droneCacheRoundTrip<S extends PipelineStep>(p: DroneCacheProvider<S>): Promise<void> {
  const project = await projectWithGraph(["init", "--provider", p.provider]);
  const file = parse(readFileSync(join(project.source, p.pipeline), "utf8"));
  const steps: S[] = file.steps;
  const cacheDir = ".nix-ci-cache/cache";
  const store = new CacheStore();

  /** `build` replaces the build step's last command, the build. */
  function pipeline(dir: string, event: string, branch: string, build?: string) {
    const vars = p.vars(branch);
    const restored: string[] = [];
    const run: Step[] = steps.flatMap((s): Step[] => {
      const { runs, always } = p.stepRuns(s, event, vars);
      if (!runs) return [];
      if (s.settings) {
        p.checkPluginStep?.(s, file);
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
  expect(pr.restored).toEqual(p.pullRequestRestores);
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
}
