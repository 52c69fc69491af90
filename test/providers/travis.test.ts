import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, coldThenNewBranch, projectWithGraph, runAfterRestore } from "../support/provider-run.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const PIPELINE = ".travis.yml";
const withTravis = exampleDirs(PIPELINE);
const SCHEMA = "travis.json";

/** Travis's phases of a job, in the order it runs them (before the cache upload). */
const SETUP_PHASES = ["before_install", "install", "before_script"] as const;

interface TravisJob {
  language: string;
  os: string[];
  cache: { directories: string[]; timeout: number };
  before_install?: string[];
  install?: string[];
  before_script?: string[];
  script: string[];
  before_cache?: string[];
}

/**
 * The job as the one bash script Travis runs: a failing setup phase ends the job
 * (errored, no cache upload); every script command runs and a failure only marks
 * the job failed; before_cache runs after the script phase whatever its result.
 */
function travisScript(job: TravisJob): string {
  const lines = ["travis_result=0"];
  for (const phase of SETUP_PHASES) for (const cmd of job[phase] ?? []) lines.push(`{\n${cmd}\n} || exit`);
  for (const cmd of job.script) lines.push(`{\n${cmd}\n} || travis_result=1`);
  for (const cmd of job.before_cache ?? []) lines.push(cmd);
  lines.push('exit "$travis_result"');
  return lines.join("\n");
}

/** What we generated, in the order Travis runs it, as one script for shellcheck. */
const generatedShell = (job: TravisJob) =>
  [...SETUP_PHASES.flatMap((phase) => job[phase] ?? []), ...job.script, ...(job.before_cache ?? [])].join("\n");

describe("Travis CI pipeline", () => {
  it.each(withTravis)("examples/%s follows Travis's phase rules and passes shellcheck", async (name) => {
    const text = readFileSync(join(examples, name, PIPELINE), "utf8");
    const job: TravisJob = parse(text);
    // No published parser checks these: Travis installs Nix for `language: nix`,
    // caches only listed directories, and uploads after `before_cache`.
    expect(job.language).toBe("nix");
    expect(job.cache.directories).toEqual([".nix-ci-cache/cache"]);
    expect(job.install).toContain(". .nix-ci-cache/env.sh");
    expect(job.before_cache).toEqual(["sh .nix-ci-cache/save.sh"]);
    expect(job.os).toEqual(name.endsWith("linux-macos") ? ["linux", "osx"] : ["linux"]);
    // Travis runs every phase in one bash session.
    expect(await shellcheckErrors(generatedShell(job), "bash", ["SC1091"])).toEqual([]);
  });

  it("the schema check can fail: a broken cache stanza is reported", async () => {
    const text = readFileSync(join(examples, "travis/linux", PIPELINE), "utf8");
    expect(providerSchemaErrors(SCHEMA, text.replace("timeout: 1000", "timeout: soon"))).toContainEqual(
      expect.stringMatching(/^\/cache\/timeout: must be number/),
    );
  });

  it("runs twice on real Nix; a new branch starts from the default branch's cache and builds nothing (emulated Travis runner and cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "travis"]);
    const job: TravisJob = parse(readFileSync(join(project.source, PIPELINE), "utf8"));
    const cacheDir = job.cache.directories[0] as string;
    const store = new CacheStore();
    // One cache per branch and os; a branch without one reads the default branch's.
    const key = (branch: string) => `linux-${branch}`;

    function build(dir: string, branch: string) {
      return runAfterRestore(dir, "fetch cache", () => store.restoreExact(dir, [key(branch), key("main")]), [
        // Checkout and Nix (`language: nix`) are the machine's own here.
        { name: "job", script: travisScript(job), shell: ["bash"] },
        // Uploaded after the script phase, failed or not; replaces the branch's cache.
        { name: "store cache", always: true, action: () => void store.save(dir, cacheDir, key(branch), false) },
      ]);
    }

    coldThenNewBranch(project, store, build, { restored: key("main"), keys: [key("main"), key("topic")] });
  });
});
