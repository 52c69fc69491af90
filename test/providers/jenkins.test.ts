import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseSize } from "../../src/config.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, projectWithGraph, runSteps, type Step } from "../support/provider-run.js";
import { shellcheckErrors } from "../support/validators.js";

const PIPELINE = "Jenkinsfile";
const withJenkins = exampleDirs(PIPELINE);

/**
 * No parser or schema for Jenkinsfiles exists outside Jenkins, so this file
 * states the rules it checks: Groovy's delimiters balance, the declarative
 * skeleton (pipeline, agent, stages, stage, steps), and the Job Cacher `cache`
 * step as its documentation gives it (jenkins.io/doc/pipeline/steps/jobcacher):
 * maxCacheSize in MB, defaultBranch, caches of arbitraryFileCache(path,
 * includes, excludes, useDefaultExcludes, cacheName, cacheValidityDecidingFile,
 * compressionMethod ∈ NONE, ZIP, TARGZ, TARGZ_BEST_SPEED, TAR, TAR_ZSTD).
 */
const COMPRESSION = ["NONE", "ZIP", "TARGZ", "TARGZ_BEST_SPEED", "TAR", "TAR_ZSTD"];
const CACHE_PARAMS = [
  "path",
  "includes",
  "excludes",
  "useDefaultExcludes",
  "cacheName",
  "cacheValidityDecidingFile",
  "compressionMethod",
];

interface ShStep {
  script: string;
  /** Inside catchError: a failure marks the build failed and the block goes on. */
  caught: boolean;
}

interface JenkinsStage {
  name: string;
  label: string;
  cache: { maxCacheSize: number; defaultBranch: string; caches: Record<string, string>[] };
  steps: ShStep[];
}

/** The text with comments blanked out (strings kept), or the first delimiter error. */
function scan(text: string): { code: string; errors: string[] } {
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  const errors: string[] = [];
  let code = "";
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const quote = rest.startsWith("'''") ? "'''" : rest[0] === "'" || rest[0] === '"' ? (rest[0] as string) : undefined;
    if (quote) {
      let end = i + quote.length;
      while (end < text.length && !text.startsWith(quote, end)) end += text[end] === "\\" ? 2 : 1;
      if (end >= text.length) return { code, errors: [`unterminated string at offset ${i}`] };
      code += text.slice(i, end + quote.length);
      i = end + quote.length;
    } else if (rest.startsWith("//")) {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      code += " ".repeat(stop - i);
      i = stop;
    } else {
      const c = text[i] as string;
      if ("([{".includes(c)) stack.push(c);
      if (c in pairs && stack.pop() !== pairs[c]) errors.push(`unbalanced "${c}" at offset ${i}`);
      code += c;
      i++;
    }
  }
  if (stack.length > 0) errors.push(`unclosed "${stack.join("")}"`);
  return { code, errors };
}

/** Index just past the delimiter that closes the one at `open`. */
function closing(code: string, open: number): number {
  const pair: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
  const opener = code[open] as string;
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const rest = code.slice(i);
    if (rest.startsWith("'''") || rest[0] === "'") {
      const q = rest.startsWith("'''") ? "'''" : "'";
      let end = i + q.length;
      while (!code.startsWith(q, end)) end += code[end] === "\\" ? 2 : 1;
      i = end + q.length - 1;
      continue;
    }
    if (code[i] === opener) depth++;
    if (code[i] === pair[opener] && --depth === 0) return i + 1;
  }
  throw new Error(`no closing delimiter for offset ${open}`);
}

/** What Groovy makes of a `'…'` or `'''…'''` literal. */
const groovyText = (literal: string) => literal.replace(/\\(.)/g, "$1");

function namedArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+):\s*('(?:[^'\\]|\\.)*'|\d+|true|false|\[)/g)) {
    const value = m[2] as string;
    out[m[1] as string] = value.startsWith("'") ? groovyText(value.slice(1, -1)) : value;
  }
  return out;
}

function parseJenkinsfile(text: string): { stages: JenkinsStage[]; errors: string[] } {
  const { code, errors } = scan(text);
  if (errors.length > 0) return { stages: [], errors };
  for (const word of ["pipeline", "agent", "stages", "steps"]) {
    if (!new RegExp(`\\b${word}\\b`).test(code)) errors.push(`declarative pipeline without "${word}"`);
  }
  const stages: JenkinsStage[] = [];
  for (const m of code.matchAll(/stage\('([^']+)'\)\s*\{\s*agent\s*\{\s*label\s+'([^']+)'\s*\}\s*steps\s*\{/g)) {
    const body = code.slice(m.index, closing(code, m.index + m[0].length - 1));
    const call = /cache\(/.exec(body);
    if (!call) {
      errors.push(`stage ${m[1]}: no cache step`);
      continue;
    }
    const argsEnd = closing(body, call.index + "cache".length);
    const args = body.slice(call.index + "cache(".length, argsEnd - 1);
    const top = namedArgs(args.replace(/\[[\s\S]*\]/, "["));
    const caches = [...args.matchAll(/arbitraryFileCache\(([^)]*)\)/g)].map((c) => namedArgs(c[1] as string));
    const blockStart = body.indexOf("{", argsEnd);
    const block = body.slice(blockStart, closing(body, blockStart));
    const caughtRanges = [...block.matchAll(/catchError\([^)]*\)\s*\{/g)].map((c) => [
      c.index,
      closing(block, c.index + c[0].length - 1),
    ]);
    const steps = [...block.matchAll(/\bsh\s+'''([\s\S]*?)'''/g)].map((s) => ({
      script: groovyText(s[1] as string).replace(/^\n/, ""),
      caught: caughtRanges.some(([from, to]) => s.index > (from as number) && s.index < (to as number)),
    }));
    stages.push({
      name: m[1] as string,
      label: m[2] as string,
      cache: { maxCacheSize: Number(top.maxCacheSize), defaultBranch: top.defaultBranch ?? "", caches },
      steps,
    });
  }
  if (stages.length === 0) errors.push("no stage with an agent label and steps");
  return { stages, errors };
}

/** The Job Cacher rules for our cache step: what makes Jenkins save and restore the directory. */
function jobCacherErrors(stage: JenkinsStage, cacheDir: string, maxSizeBytes: number): string[] {
  const errors: string[] = [];
  const { maxCacheSize, defaultBranch, caches } = stage.cache;
  if (!Number.isInteger(maxCacheSize)) errors.push(`${stage.name}: maxCacheSize must be a whole number of MB`);
  // Above maxCacheSize Job Cacher deletes everything: it must sit above save.sh's budget.
  else if (maxCacheSize * 1024 * 1024 <= maxSizeBytes)
    errors.push(`${stage.name}: maxCacheSize ${maxCacheSize} MB is not above the budget`);
  if (!defaultBranch) errors.push(`${stage.name}: no defaultBranch, so a new branch starts empty`);
  if (caches.length !== 1) errors.push(`${stage.name}: expected one arbitraryFileCache, found ${caches.length}`);
  for (const cache of caches) {
    for (const key of Object.keys(cache)) if (!CACHE_PARAMS.includes(key)) errors.push(`${stage.name}: unknown parameter ${key}`);
    if (cache.path !== cacheDir) errors.push(`${stage.name}: path ${cache.path} is not ${cacheDir}`);
    if (!COMPRESSION.includes(cache.compressionMethod ?? ""))
      errors.push(`${stage.name}: compressionMethod ${cache.compressionMethod}`);
    // With a deciding file the cache is only saved when that file changed.
    if (cache.cacheValidityDecidingFile) errors.push(`${stage.name}: cacheValidityDecidingFile stops saves`);
  }
  const save = stage.steps.findIndex((s) => s.script.includes("sh .nix-ci-cache/save.sh"));
  const build = stage.steps.findIndex((s) => s.script.includes(". .nix-ci-cache/env.sh"));
  if (build < 0 || !stage.steps[build]?.caught)
    errors.push(`${stage.name}: the build is not inside catchError, so a failure skips the save`);
  if (save <= build || stage.steps[save]?.caught)
    errors.push(`${stage.name}: save.sh must run after the build, outside catchError`);
  return errors;
}

function checkExample(name: string): { stages: JenkinsStage[]; errors: string[] } {
  const root = join(examples, name);
  const config = parse(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8"));
  const text = readFileSync(join(root, PIPELINE), "utf8");
  const { stages, errors } = parseJenkinsfile(text);
  const budget = parseSize(config.maxSize ?? "2G");
  return { stages, errors: [...errors, ...stages.flatMap((s) => jobCacherErrors(s, config.cacheDir, budget))] };
}

describe("Jenkinsfile", () => {
  it("there are examples to check", () => expect(withJenkins).toEqual(["jenkins/linux", "jenkins/linux-macos"]));

  it.each(withJenkins)("examples/%s follows the declarative and Job Cacher rules; its sh steps pass shellcheck", async (name) => {
    const { stages, errors } = checkExample(name);
    expect(errors).toEqual([]);
    expect(stages.map((s) => s.label)).toEqual(name.endsWith("macos") ? ["linux", "macos"] : ["linux"]);
    for (const step of stages.flatMap((s) => s.steps)) {
      // Jenkins runs each sh step with `sh -xe`. SC1091: env.sh and Nix's profile are checked elsewhere.
      expect(await shellcheckErrors(step.script, "sh", ["SC1091"])).toEqual([]);
    }
  });

  it("the checks can fail: broken Groovy, a wrong Job Cacher option and a broken script are reported", async () => {
    const text = readFileSync(join(examples, "jenkins/linux", PIPELINE), "utf8");
    expect(parseJenkinsfile(text.replace("steps {", "steps {{")).errors.length).toBeGreaterThan(0);
    const wrong = parseJenkinsfile(
      text.replace("compressionMethod: 'TAR'", "compressionMethod: 'GZIP', cacheValidityDecidingFile: 'flake.lock'"),
    );
    expect(wrong.errors).toEqual([]);
    expect(wrong.stages.flatMap((s) => jobCacherErrors(s, ".nix-ci-cache/cache", parseSize("2G")))).toHaveLength(2);
    const uncaught = parseJenkinsfile(text.replace("catchError(buildResult: 'FAILURE', stageResult: 'FAILURE') {", "dir('.') {"));
    expect(uncaught.stages.flatMap((s) => jobCacherErrors(s, ".nix-ci-cache/cache", parseSize("2G")))).toHaveLength(1);
    expect((await shellcheckErrors('trap "sh $1" EXIT', "sh")).length).toBeGreaterThan(0);
  });

  it("runs twice on real Nix with Job Cacher's branch caches; a pull request starts from main's cache and builds nothing; a failed build still saves", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "jenkins"]);
    const { stages, errors } = parseJenkinsfile(readFileSync(join(project.source, PIPELINE), "utf8"));
    expect(errors).toEqual([]);
    const stage = stages[0] as JenkinsStage;
    const cache = stage.cache.caches[0] as Record<string, string>;
    const cacheDir = cache.path as string;
    const store = new CacheStore();

    function build(dir: string, job: string) {
      // Job Cacher keeps one cache per job (a branch or pull request) and name; a
      // job without one reads defaultBranch's.
      const key = (branch: string) => `${branch}/${cache.cacheName}`;
      let restored: string | undefined;
      let caught = false;
      const steps: Step[] = [
        {
          name: "restore",
          action: () => {
            restored = store.restoreExact(dir, [key(job), key(stage.cache.defaultBranch)]);
          },
        },
        // Every sh step, the Nix installer's included: it does nothing where Nix is on PATH, as here.
        ...stage.steps.map((s, i): Step => {
          // After a caught failure the block goes on, so the later steps still run.
          const always = caught;
          caught ||= s.caught;
          return { name: `sh ${i}`, script: s.script, shell: ["sh", "-xe"], always };
        }),
        // The block finished (catchError caught the build's failure): Job Cacher saves.
        { name: "save", always: true, action: () => void store.save(dir, cacheDir, key(job), false) },
      ];
      return { ...runSteps(dir, steps, "none"), restored: () => restored };
    }

    const first = checkout(project, "run 1");
    const cold = build(first, "main");
    expect(cold.status, cold.log).toBe(0);
    expect(cold.restored()).toBeUndefined();
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(cold.log).toMatch(/nix-ci-cache: saved \d+ new paths/);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const warm = build(second, "PR-1");
    expect(warm.status, warm.log).toBe(0);
    expect(warm.restored()).toBe("main/nix-ci-cache-linux");
    expect(warm.built, warm.log).toBe(0);
    expect(store.keys).toEqual(["main/nix-ci-cache-linux", "PR-1/nix-ci-cache-linux"]);
    forgetGraph(project, second);

    // A failing build: the build fails, save.sh still runs and Job Cacher still saves.
    const third = checkout(project, "run 3");
    rmSync(join(third, "default.nix"));
    const failed = build(third, "PR-2");
    expect(failed.status, failed.log).not.toBe(0);
    expect(failed.log).toMatch(/--- sh 2 \(exit 0\)\n[^]*nix-ci-cache: saved \d+ new paths/);
    expect(store.keys).toContain("PR-2/nix-ci-cache-linux");
  });
});
