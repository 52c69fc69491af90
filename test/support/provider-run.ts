// An emulation of a CI provider, for the providers whose runner and cache do not run
// here: it runs a generated pipeline's shell steps the way the provider would, against
// real Nix, and carries the cache directory between runs by the provider's key rules as
// its documentation states them. Each provider test supplies the steps (extracted from
// the generated file) and a cache store with the provider's semantics; this file does the
// rest. Tests that use it say "emulated" in their names.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
// GitHub's own expression language, as the workflow parser uses it (a dependency of
// @actions/workflow-parser): `if:` conditions are evaluated by it, not by a guess.
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import { expect } from "vitest";
import { main } from "../../src/cli.js";
import { cleanEnv, countBuilt, deleteGraph, type Graph, run, uniqueTag, writeGraph } from "./nix.js";
import { scratchDir } from "./scratch.js";

/**
 * One step: a shell script run in its own shell (as every provider does), or an
 * action the provider performs itself, such as restoring or saving the cache.
 */
export interface Step {
  name: string;
  /** GitHub's and Forgejo's step id: its outcome and outputs go to `steps.<id>` for later conditions. */
  id?: string;
  script?: string;
  /** Returns the step's outputs, if any. */
  action?: () => Record<string, string> | undefined | void;
  /** Runs after an earlier step failed (`if: always()`, `when: always`, after_script). */
  always?: boolean;
  /** A GitHub `if:`, evaluated by GitHub's expression evaluator instead of `always`. */
  condition?: string;
  /** Decided before anything else: false skips the step (a step inside a composite action that did not run). */
  gate?: () => boolean;
  /** The shell the provider uses, as argv before the script file. */
  shell?: string[];
}

export interface StepsResult {
  status: number;
  log: string;
  built: number;
  /** `steps.<id>` as GitHub's expressions see them after the job. */
  steps: Record<string, StepState>;
}

export interface StepState {
  outcome: "success" | "failure" | "skipped";
  outputs: Record<string, string>;
}

const STATUS_FUNCTIONS = ["always", "success", "failure", "cancelled"] as const;

/**
 * Whether a step with this `if:` runs, as GitHub decides it: GitHub's expression
 * evaluator (with its loose comparisons: a missing output is null, and null equals
 * '0'), and `success() && (…)` when the condition calls no status function.
 */
export function actionsCondition(condition: string, failed: boolean, steps: Record<string, StepState>): boolean {
  const text = STATUS_FUNCTIONS.some((f) => condition.includes(`${f}()`)) ? condition : `success() && (${condition})`;
  const functions = STATUS_FUNCTIONS.map((name) => ({
    name,
    description: name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(name === "always" || (name === "success" ? !failed : name === "failure" ? failed : false)),
  }));
  const parsed = new Parser(new Lexer(text).lex().tokens, ["steps"], functions).parse();
  const dictionary = (entries: Record<string, data.ExpressionData>) =>
    new data.Dictionary(...Object.entries(entries).map(([key, value]) => ({ key, value })));
  const context = dictionary({
    steps: dictionary(
      Object.fromEntries(
        Object.entries(steps).map(([id, state]) => [
          id,
          dictionary({
            outcome: new data.StringData(state.outcome),
            outputs: dictionary(Object.fromEntries(Object.entries(state.outputs).map(([k, v]) => [k, new data.StringData(v)]))),
          }),
        ]),
      ),
    ),
  });
  const result = new Evaluator(parsed, context, new Map(functions.map((f) => [f.name, f]))).evaluate();
  switch (result.kind) {
    case data.Kind.Null:
      return false;
    case data.Kind.Boolean:
      return (result as data.BooleanData).value;
    case data.Kind.String:
      return (result as data.StringData).value !== "";
    case data.Kind.Number:
      return (result as data.NumberData).value !== 0 && !Number.isNaN((result as data.NumberData).value);
    default:
      return true;
  }
}

/** A step of a GitHub or Forgejo workflow, or of a composite action, as the tests read it. */
export interface WorkflowStep {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, string>;
}

/**
 * `${{ … }}` in `text` as GitHub's and Forgejo's runners expand it, for what our files
 * use: `hashFiles(…)` (one SHA-256 over the named files of `dir`) and the values in
 * `known`; any other expression is an error.
 */
export function expandExpressions(text: string, dir: string, known: Record<string, string>): string {
  return text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
    const files = /^hashFiles\((.*)\)$/.exec(expr);
    if (files) {
      const hash = createHash("sha256");
      for (const f of (files[1] ?? "").split(",").map((s) => s.trim().replace(/^'|'$/g, ""))) {
        hash.update(readFileSync(join(dir, f)));
      }
      return hash.digest("hex");
    }
    if (!(expr in known)) throw new Error(`unexpected expression ${expr}`);
    return known[expr] as string;
  });
}

/** Where a provider lets one step hand variables to the next. */
export type Handover = "github-env" | "bash-env" | "none";

/**
 * Runs steps in order in `dir`. Like every provider: after the first failure only
 * `always` steps run, and the job's status is the first failure's.
 */
export function runSteps(dir: string, steps: Step[], handover: Handover, env: Record<string, string> = {}): StepsResult {
  const scratch = scratchDir("ncc-steps-");
  const githubEnv = join(scratch, "github_env");
  const githubPath = join(scratch, "github_path");
  const bashEnv = join(scratch, "bash_env");
  for (const file of [githubEnv, githubPath, bashEnv]) writeFileSync(file, "");
  let status = 0;
  let log = "";
  let stepEnv: Record<string, string> = cleanEnv(env);
  const states: Record<string, StepState> = {};
  for (const [index, step] of steps.entries()) {
    const runs =
      (step.gate?.() ?? true) &&
      (step.condition !== undefined ? actionsCondition(step.condition, status !== 0, states) : status === 0 || step.always);
    if (!runs) {
      if (step.id) states[step.id] = { outcome: "skipped", outputs: {} };
      log += `--- ${step.name} (skipped)\n`;
      continue;
    }
    if (step.action) {
      const outputs = step.action() ?? {};
      if (step.id) states[step.id] = { outcome: "success", outputs };
      log += `--- ${step.name} (action)\n`;
      continue;
    }
    const scriptFile = join(scratch, `step${index}.sh`);
    writeFileSync(scriptFile, step.script ?? "");
    const vars: Record<string, string> = { ...stepEnv };
    const githubOutput = join(scratch, `output${index}`);
    if (handover === "github-env") {
      writeFileSync(githubOutput, "");
      Object.assign(vars, { GITHUB_ENV: githubEnv, GITHUB_PATH: githubPath, GITHUB_OUTPUT: githubOutput });
    }
    if (handover === "bash-env") vars.BASH_ENV = bashEnv;
    const shell = step.shell ?? ["bash", "-e"];
    const result = run(`${shell.join(" ")} "$NCC_STEP"`, { cwd: dir, env: { ...vars, NCC_STEP: scriptFile } });
    log += `--- ${step.name} (exit ${result.status})\n${result.stdout}${result.stderr}`;
    if (result.status !== 0 && status === 0) status = result.status;
    if (step.id) {
      const outputs = handover === "github-env" ? readGithubEnv(githubOutput) : {};
      states[step.id] = { outcome: result.status === 0 ? "success" : "failure", outputs };
    }
    if (handover === "github-env") stepEnv = { ...stepEnv, ...readGithubEnv(githubEnv) };
    const paths = readFileSync(githubPath, "utf8").split("\n").filter(Boolean).reverse();
    if (paths.length > 0) stepEnv.PATH = [...paths, cleanEnv().PATH].join(":");
  }
  rmSync(scratch, { recursive: true, force: true });
  return { status, log, built: countBuilt(log), steps: states };
}

/** `NAME=value` and `NAME<<DELIMITER` … `DELIMITER` lines, as GitHub reads `$GITHUB_ENV`. */
export function readGithubEnv(file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const lines = readFileSync(file, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? "");
      vars[name] = value.join("\n");
    } else if (line.includes("=")) {
      vars[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
    }
  }
  return vars;
}

/** A provider's cache: saved entries by key, each an archive of the cache directory. */
export class CacheStore {
  private readonly dir = scratchDir("ncc-provider-cache-");
  private readonly entries: Array<{ key: string; archive: string }> = [];

  get keys(): string[] {
    return this.entries.map((e) => e.key);
  }

  /** Archives `cacheDir` of the checkout under `key`; immutable stores keep the first save. */
  save(checkout: string, cacheDir: string, key: string, immutable: boolean): boolean {
    if (!existsSync(join(checkout, cacheDir))) return false;
    const existing = this.entries.findIndex((e) => e.key === key);
    if (existing >= 0 && immutable) return false;
    const archive = join(this.dir, `${this.entries.length}.tar`);
    const r = run(`tar -cf "$ARCHIVE" -C "$CHECKOUT" -- "$CACHE_DIR"`, {
      env: cleanEnv({ ARCHIVE: archive, CHECKOUT: checkout, CACHE_DIR: cacheDir }),
    });
    expect(r.status, r.stderr).toBe(0);
    if (existing >= 0) this.entries.splice(existing, 1);
    this.entries.push({ key, archive });
    return true;
  }

  /** Deletes these entries, as a provider's "delete cache" does. */
  remove(keys: string[]): void {
    for (const key of keys) {
      const index = this.entries.findIndex((e) => e.key === key);
      if (index >= 0) this.entries.splice(index, 1);
    }
  }

  /** Exact key first, then for each prefix the newest entry that starts with it. */
  restoreByPrefix(checkout: string, key: string, prefixes: string[]): string | undefined {
    const exact = this.entries.find((e) => e.key === key);
    const entry =
      exact ?? prefixes.map((p) => [...this.entries].reverse().find((e) => e.key.startsWith(p))).find((e) => e !== undefined);
    return entry ? this.extract(checkout, entry) : undefined;
  }

  /** Exact keys only, in order (GitLab's key then fallback_keys). */
  restoreExact(checkout: string, keys: string[]): string | undefined {
    const entry = keys.map((k) => this.entries.find((e) => e.key === k)).find((e) => e !== undefined);
    return entry ? this.extract(checkout, entry) : undefined;
  }

  private extract(checkout: string, entry: { key: string; archive: string }): string {
    const r = run(`tar -xf "$ARCHIVE" -C "$CHECKOUT"`, { env: cleanEnv({ ARCHIVE: entry.archive, CHECKOUT: checkout }) });
    expect(r.status, r.stderr).toBe(0);
    return entry.key;
  }
}

export interface Project {
  /** The source tree that every checkout copies: config, generated files and graph.nix. */
  source: string;
  graph: Graph;
}

/**
 * A repository with a hermetic Nix graph, initialised by the CLI with `initArgs`.
 * Its path has a space and a `$`, as users' paths may.
 */
export async function projectWithGraph(initArgs: string[]): Promise<Project> {
  const base = scratchDir("ncc-provider-");
  const source = join(base, "source $repo");
  mkdirSync(source);
  const graph = writeGraph(source, uniqueTag());
  // The generated pipelines run plain `nix-build`, which builds default.nix.
  writeFileSync(join(source, "default.nix"), "import ./graph.nix\n");
  const out: string[] = [];
  const code = await main([...initArgs, "--yes", "--cwd", source], {
    out: (l) => out.push(l),
    err: (l) => out.push(l),
    env: {},
    interactive: false,
  });
  expect(code, out.join("\n")).toBe(0);
  return { source, graph };
}

/** A fresh checkout of the project, as each CI job starts with. */
export function checkout(project: Project, name: string): string {
  const dir = join(project.source, "..", `checkout ${name}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(project.source, dir, { recursive: true });
  return dir;
}

/** What a new runner has of the graph: nothing. Removes the checkout's GC roots first. */
export function forgetGraph(project: Project, checkoutDir: string): void {
  for (const name of readdirSync(checkoutDir).filter((n) => /^result(-\d+)?$/.test(n))) {
    rmSync(join(checkoutDir, name), { force: true });
  }
  deleteGraph(project.graph.tag);
}

/**
 * Where saved keys are immutable: run 1 on an empty cache builds the whole graph and
 * saves one key; run 2 in a fresh checkout on an emptied store restores that key by
 * prefix and builds nothing. It saves under a key of its own where the provider saves
 * every run, and nothing where the pipeline skips the save when save.sh added nothing
 * (`savesUnchanged: false`).
 */
export function coldThenWarmWithImmutableKeys(
  project: Project,
  store: CacheStore,
  job: (dir: string, runId: number) => StepsResult & { restoredKey: () => string | undefined },
  { savesUnchanged }: { savesUnchanged: boolean },
): void {
  const first = checkout(project, "run 1");
  const cold = job(first, 101);
  expect(cold.status, cold.log).toBe(0);
  expect(cold.built).toBe(project.graph.packages.length + 1);
  expect(cold.restoredKey()).toBeUndefined();
  expect(store.keys).toHaveLength(1);
  forgetGraph(project, first);

  const second = checkout(project, "run 2");
  const warm = job(second, 102);
  expect(warm.status, warm.log).toBe(0);
  expect(warm.restoredKey()).toBe(store.keys[0]);
  expect(warm.built, warm.log).toBe(0);
  // Keys are immutable: a second save is a key of its own.
  expect(store.keys).toHaveLength(savesUnchanged ? 2 : 1);
  forgetGraph(project, second);
}

/**
 * runSteps with no handover, after a first step, `restoreStep`, that restores the
 * cache by `restore`: the key it restored (if any) is the result's `restored`.
 */
export function runAfterRestore(
  dir: string,
  restoreStep: string,
  restore: () => string | undefined,
  steps: Step[],
): StepsResult & { restored: string | undefined } {
  let restored: string | undefined;
  const first: Step = {
    name: restoreStep,
    action: () => {
      restored = restore();
    },
  };
  const result = runSteps(dir, [first, ...steps], "none");
  return { ...result, restored };
}

/**
 * Where a new branch starts from a cache it did not write: run 1, on main on an empty
 * cache, builds the whole graph; run 2, on the new branch "topic" in a fresh checkout on
 * an emptied store, restores `restored` and builds nothing. The cache then holds `keys`.
 */
export function coldThenNewBranch(
  project: Project,
  store: CacheStore,
  job: (dir: string, branch: string) => StepsResult & { restored: string | undefined },
  expected: { restored: string; keys: string[] },
): void {
  const first = checkout(project, "run 1");
  const cold = job(first, "main");
  expect(cold.status, cold.log).toBe(0);
  expect(cold.restored).toBeUndefined();
  expect(cold.built).toBe(project.graph.packages.length + 1);
  forgetGraph(project, first);

  const second = checkout(project, "run 2");
  const warm = job(second, "topic");
  expect(warm.status, warm.log).toBe(0);
  expect(warm.restored).toBe(expected.restored);
  expect(warm.built, warm.log).toBe(0);
  expect(store.keys).toEqual(expected.keys);
  forgetGraph(project, second);
}

/** What the tests read of a drone-cache plugin step (Woodpecker and Drone). */
export interface DroneCacheStep {
  name: string;
  image?: string;
  settings: { restore?: boolean; rebuild?: boolean; [key: string]: unknown };
}

/**
 * The drone-cache plugin (`plugins/cache`, drone-plugins/drone-meltwater-cache
 * v1.10.9), a container this machine does not run, as its source reads:
 * - with `mount` given, restore reads exactly `<key>/<mount>` (cache/restorer.go: the
 *   prefix listing and strict-key-matching apply only without `mount`); a key that is
 *   not there is an error the plugin logs, and it exits 0 unless `exit_code` is set
 *   (main.go). Each restore extracts over what is there (archive/tar: files are opened
 *   with O_CREATE, nothing is removed), so a later restore (the branch's own cache)
 *   goes on top of an earlier one.
 * - rebuild writes `<key>/<mount>`, over an existing one unless `override: false`
 *   (cache/rebuilder.go; `override` defaults to true).
 * The remote path no longer has the repository's name in front (plugin.go): the cache
 * store here is keyed by the key alone.
 */
export function droneCacheStep(
  step: DroneCacheStep,
  run: { store: CacheStore; dir: string; cacheDir: string; key: string; always: boolean; restored: string[] },
): Step {
  expect(step.image).toMatch(/^plugins\/cache:\d+\.\d+\.\d+$/);
  expect(step.settings).toMatchObject({ backend: "filesystem", archive_format: "tar", mount: [run.cacheDir] });
  expect(step.settings.override ?? true).toBe(true);
  expect(step.settings.exit_code ?? false).toBe(false);
  if (step.settings.restore) {
    return {
      name: step.name,
      action: () => {
        const hit = run.store.restoreExact(run.dir, [run.key]);
        if (hit) run.restored.push(hit);
      },
    };
  }
  if (step.settings.rebuild) {
    return { name: step.name, always: run.always, action: () => void run.store.save(run.dir, run.cacheDir, run.key, false) };
  }
  throw new Error(`plugin step ${step.name} neither restores nor rebuilds`);
}
