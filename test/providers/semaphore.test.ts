import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { cleanEnv, requireNix, run } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, projectWithGraph, runSteps, type Step } from "../support/provider-run.js";
import { shellcheckErrors } from "../support/validators.js";

const PIPELINE = ".semaphore/semaphore.yml";
const withSemaphore = exampleDirs(PIPELINE);

interface Machine {
  type: string;
  os_image: string;
}
interface Block {
  name: string;
  dependencies: string[];
  task: {
    agent: { machine: Machine };
    jobs: Array<{ name: string; commands: string[] }>;
    epilogue: { always: { commands: string[] } };
  };
}
interface Pipeline {
  version: string;
  name: string;
  agent: { machine: Machine };
  blocks: Block[];
}

// Semaphore publishes no schema or parser for its pipeline YAML; these are the rules of
// its pipeline reference (docs.semaphoreci.com/reference/pipeline-yaml) and cache
// reference that the generated file relies on.
const PIPELINE_KEYS = [
  "version",
  "name",
  "agent",
  "blocks",
  "execution_time_limit",
  "fail_fast",
  "auto_cancel",
  "global_job_config",
  "promotions",
  "queue",
  "after_pipeline",
];
const BLOCK_KEYS = ["name", "dependencies", "task", "run", "skip", "execution_time_limit"];
const TASK_KEYS = ["agent", "jobs", "prologue", "epilogue", "env_vars", "secrets"];
const LINUX_IMAGES = /^ubuntu(2004|2204|2404)$/;
const MACOS_IMAGES = /^macos-xcode\d+$/;

function pipelineProblems(p: Pipeline): string[] {
  const problems: string[] = [];
  const unknown = (keys: string[], value: object, where: string) => {
    for (const k of Object.keys(value)) if (!keys.includes(k)) problems.push(`${where}: unknown key ${k}`);
  };
  const machine = (m: Machine | undefined, where: string) => {
    if (!m || typeof m.type !== "string") return problems.push(`${where}: agent.machine.type is required`);
    const linux = /^[ef]1-standard-\d+$/.test(m.type);
    const mac = /^a\d-standard-\d+$/.test(m.type);
    if (!linux && !mac) problems.push(`${where}: unknown machine type ${m.type}`);
    if (linux && !LINUX_IMAGES.test(m.os_image)) problems.push(`${where}: ${m.os_image} is not a Linux image`);
    if (mac && !MACOS_IMAGES.test(m.os_image)) problems.push(`${where}: ${m.os_image} is not a macOS image`);
  };
  unknown(PIPELINE_KEYS, p, "/");
  if (p.version !== "v1.0") problems.push("/version: must be v1.0");
  machine(p.agent?.machine, "/agent");
  if (!Array.isArray(p.blocks) || p.blocks.length === 0) problems.push("/blocks: at least one block");
  const withDeps = p.blocks.filter((b) => b.dependencies !== undefined).length;
  if (withDeps !== 0 && withDeps !== p.blocks.length) problems.push("/blocks: dependencies on all blocks or none");
  for (const [i, b] of p.blocks.entries()) {
    unknown(BLOCK_KEYS, b, `/blocks/${i}`);
    unknown(TASK_KEYS, b.task, `/blocks/${i}/task`);
    machine(b.task.agent?.machine, `/blocks/${i}/task`);
    for (const job of b.task.jobs)
      if (!job.commands.every((c) => typeof c === "string")) problems.push(`/blocks/${i}: commands are strings`);
    const store = b.task.epilogue?.always?.commands.find((c) => c.startsWith("cache store "));
    const restore = b.task.jobs[0]?.commands.find((c) => c.startsWith("cache restore "));
    // Keys are immutable: the stored key must be new every job and found by the restore keys.
    if (!store?.includes("$SEMAPHORE_JOB_ID")) problems.push(`/blocks/${i}: cache store needs a key unique per job`);
    const storeKey = store?.split(" ")[2]?.replaceAll('"', "") ?? "";
    const restoreKeys = restore?.split(" ")[2]?.replaceAll('"', "").split(",") ?? [];
    if (restoreKeys.length === 0 || !restoreKeys.every((k) => storeKey.startsWith(k))) {
      problems.push(`/blocks/${i}: every restore key must be a prefix of the stored key`);
    }
  }
  return problems;
}

const read = (dir: string): Pipeline => parse(readFileSync(join(dir, PIPELINE), "utf8"));

describe("Semaphore pipeline", () => {
  it.each(withSemaphore)("examples/%s follows Semaphore's pipeline and cache rules and passes shellcheck", async (name) => {
    const pipeline = read(join(examples, name));
    expect(pipelineProblems(pipeline)).toEqual([]);
    expect(pipeline.blocks.map((b) => b.task.agent.machine.os_image.startsWith("macos"))).toEqual(
      name.endsWith("linux-macos") ? [false, true] : [false],
    );
    for (const block of pipeline.blocks) {
      // A job's commands share one bash session; the epilogue runs after them.
      const job = block.task.jobs[0]?.commands ?? [];
      expect(await shellcheckErrors([...job, ...block.task.epilogue.always.commands].join("\n"), "bash", ["SC1091"])).toEqual([]);
    }
  });

  it("the rules can fail: a broken pipeline is reported", async () => {
    const text = readFileSync(join(examples, "semaphore/linux", PIPELINE), "utf8");
    const broken = parse(
      text
        .replace("$SEMAPHORE_JOB_ID", "latest")
        .replaceAll("os_image: ubuntu2204", "os_image: macos-xcode15")
        .replace('cache restore "nix-ci-cache-', 'cache restore "'),
    );
    expect(pipelineProblems(broken)).toEqual([
      "/agent: macos-xcode15 is not a Linux image",
      "/blocks/0/task: macos-xcode15 is not a Linux image",
      "/blocks/0: cache store needs a key unique per job",
      "/blocks/0: every restore key must be a prefix of the stored key",
    ]);
  });

  it("runs twice on real Nix with the cache restored from the newest matching key; the second run builds nothing (emulated Semaphore agent and cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "semaphore"]);
    const block = read(project.source).blocks[0] as Block;
    const commands = block.task.jobs[0]?.commands ?? [];
    const epilogue = block.task.epilogue.always.commands;
    const store = new CacheStore();

    // What bash hands to `cache`, with the toolbox's `checksum` (md5 of a file) and the
    // job's variables as Semaphore sets them.
    const cacheArgs = (cmd: string, dir: string, jobId: string) => {
      const r = run(`checksum() { md5sum "$1" | cut -d' ' -f1; }; cache() { printf '%s\\n' "$@"; }; ${cmd}`, {
        cwd: dir,
        env: cleanEnv({ SEMAPHORE_JOB_ID: jobId }),
        shell: ["bash"],
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.split("\n");
    };

    function job(dir: string, jobId: string) {
      let restored: string | undefined;
      const toStep = (cmd: string, always: boolean): Step | undefined => {
        if (cmd.startsWith("cache restore ")) {
          return {
            name: cmd,
            action: () => {
              const keys = (cacheArgs(cmd, dir, jobId)[1] ?? "").split(",");
              restored = store.restoreByPrefix(dir, keys[0] ?? "", keys);
            },
          };
        }
        if (cmd.startsWith("cache store ")) {
          // `cache store` keeps an existing key: immutable.
          return {
            name: cmd,
            always,
            action: () => {
              const [, key, path] = cacheArgs(cmd, dir, jobId);
              store.save(dir, path ?? "", key ?? "", true);
            },
          };
        }
        // `checkout` is Semaphore's own; this machine has the checkout.
        if (cmd === "checkout") return undefined;
        return { name: cmd, script: cmd, always, shell: ["bash"] };
      };
      // Commands run one after another in one shell and stop at the first failure;
      // consecutive shell commands are therefore one script here.
      const steps: Step[] = [];
      for (const [list, always] of [
        [commands, false],
        [epilogue, true],
      ] as const) {
        for (const cmd of list) {
          const step = toStep(cmd, always);
          const last = steps[steps.length - 1];
          if (step?.script !== undefined && last?.script !== undefined && last.always === step.always) {
            last.script += `\n${step.script}`;
          } else if (step) {
            steps.push(step);
          }
        }
      }
      for (const s of steps) if (s.script !== undefined) s.script = `set -e\n${s.script}`;
      return { ...runSteps(dir, steps, "none"), restored: () => restored };
    }

    const first = checkout(project, "run 1");
    const cold = job(first, "job-1");
    expect(cold.status, cold.log).toBe(0);
    expect(cold.restored()).toBeUndefined();
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(store.keys).toHaveLength(1);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const warm = job(second, "job-2");
    expect(warm.status, warm.log).toBe(0);
    expect(warm.restored()).toBe(store.keys[0]);
    expect(warm.built, warm.log).toBe(0);
    // A new key per job: the first job's entry is still there.
    expect(store.keys).toHaveLength(2);
    expect(store.keys[1]).toMatch(/^nix-ci-cache-linux-[0-9a-f]{32}-job-2$/);
    forgetGraph(project, second);
  });
});
