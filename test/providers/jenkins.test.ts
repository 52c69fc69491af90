import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseSize } from "../../src/text.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, projectWithGraph, runSteps, type Step } from "../support/provider-run.js";
import { shellcheckErrors } from "../support/validators.js";

const PIPELINE = "Jenkinsfile";
const LIBRARY = ".jenkins/nix-ci-cache.groovy";
const withJenkins = exampleDirs(LIBRARY);

/**
 * No parser or schema for Jenkinsfiles exists outside Jenkins, so this file
 * states the rules it checks: Groovy's strings and delimiters close, the
 * declarative skeleton (pipeline, agent, stages, stage, steps, script around
 * `load`), and the Job Cacher `cache` step as its documentation gives it
 * (jenkins.io/doc/pipeline/steps/jobcacher): maxCacheSize in MB, defaultBranch,
 * caches of arbitraryFileCache(path, includes, excludes, useDefaultExcludes,
 * cacheName, cacheValidityDecidingFile, compressionMethod ∈ NONE, ZIP, TARGZ,
 * TARGZ_BEST_SPEED, TAR, TAR_ZSTD).
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
const TRIPLE = "'''";
/** The GString the library names its caches with. */
const PLATFORM_VARIABLE = `\${platform}`;

/** An `sh` step with a triple-quoted script, or the call of the closure the Jenkinsfile passes in. */
interface GroovyStep {
  script?: string;
  body?: true;
  /** Inside catchError: a failure marks the build failed and the block goes on. */
  caught: boolean;
}

interface Library {
  cache: { maxCacheSize: number; defaultBranch: string; caches: Record<string, string>[] };
  steps: GroovyStep[];
}

interface JenkinsStage {
  name: string;
  label: string;
  loads: string;
  platform: string;
  steps: GroovyStep[];
}

/** The quote that opens a string at `rest`, if one does. */
const quoteAt = (rest: string) =>
  rest.startsWith(TRIPLE) ? TRIPLE : rest[0] === "'" || rest[0] === '"' ? (rest[0] as string) : undefined;

/** Index just past the string that opens at `i` with `quote`, or -1 when it never closes. */
function stringEnd(text: string, i: number, quote: string): number {
  let end = i + quote.length;
  while (end < text.length && !text.startsWith(quote, end)) end += text[end] === "\\" ? 2 : 1;
  return end >= text.length ? -1 : end + quote.length;
}

/** The text with comments blanked out (strings kept), and any string or delimiter that does not close. */
function scan(text: string): { code: string; errors: string[] } {
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const stack: string[] = [];
  const errors: string[] = [];
  let code = "";
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const quote = quoteAt(rest);
    if (quote) {
      const end = stringEnd(text, i, quote);
      if (end < 0) return { code, errors: [`unterminated string at offset ${i}`] };
      code += text.slice(i, end);
      i = end;
    } else if (rest.startsWith("//") || rest.startsWith("/*")) {
      const line = rest.startsWith("//");
      const found = text.indexOf(line ? "\n" : "*/", i + 2);
      const stop = found < 0 ? text.length : line ? found : found + 2;
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

/** Index just past the delimiter that closes the one at `open` (comments already blanked). */
function closing(code: string, open: number): number {
  const pair: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
  const opener = code[open] as string;
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const quote = quoteAt(code.slice(i));
    if (quote) {
      i = stringEnd(code, i, quote) - 1;
      continue;
    }
    if (code[i] === opener) depth++;
    if (code[i] === pair[opener] && --depth === 0) return i + 1;
  }
  throw new Error(`no closing delimiter for offset ${open}`);
}

/** What Groovy makes of the inside of a single- or triple-quoted literal. */
const groovyText = (literal: string) => literal.replace(/\\(.)/g, "$1");

/** `name: value` arguments; strings without their quotes (a GString keeps its `${…}`). */
function namedArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+):\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\d+|true|false|\[)/g)) {
    const value = m[2] as string;
    out[m[1] as string] = /^['"]/.test(value) ? groovyText(value.slice(1, -1)) : value;
  }
  return out;
}

/** The sh steps and `body()` calls of a block, in order, each marked when inside catchError. */
function blockSteps(block: string): GroovyStep[] {
  const caught = [...block.matchAll(/catchError\([^)]*\)\s*\{/g)].map((c) => [
    c.index,
    closing(block, c.index + c[0].length - 1),
  ]);
  const inside = (at: number) => caught.some(([from, to]) => at > (from as number) && at < (to as number));
  return [...block.matchAll(/\bsh\s+'''([\s\S]*?)'''|\bbody\(\)/g)].map(
    (s): GroovyStep =>
      s[0].startsWith("body")
        ? { body: true, caught: inside(s.index) }
        : { script: groovyText(s[1] as string).replace(/^\n/, ""), caught: inside(s.index) },
  );
}

function parseLibrary(text: string): { library?: Library; errors: string[] } {
  const { code, errors } = scan(text);
  if (errors.length > 0) return { errors };
  const def = /def withNixCache\(String platform, Closure body\)\s*\{/.exec(code);
  if (!def) return { errors: ["no def withNixCache(String platform, Closure body)"] };
  if (!/\breturn this\s*$/.test(code)) errors.push("does not end with `return this`, so `load` returns nothing to call");
  const fn = code.slice(def.index, closing(code, def.index + def[0].length - 1));
  const call = /\bcache\(/.exec(fn);
  if (!call) return { errors: [...errors, "withNixCache has no cache step"] };
  const argsEnd = closing(fn, call.index + "cache".length);
  const args = fn.slice(call.index + "cache(".length, argsEnd - 1);
  const top = namedArgs(args.replace(/\[[\s\S]*\]/, "["));
  const caches = [...args.matchAll(/arbitraryFileCache\(([^)]*)\)/g)].map((c) => namedArgs(c[1] as string));
  const blockStart = fn.indexOf("{", argsEnd);
  const steps = blockSteps(fn.slice(blockStart, closing(fn, blockStart)));
  return {
    library: { cache: { maxCacheSize: Number(top.maxCacheSize), defaultBranch: top.defaultBranch ?? "", caches }, steps },
    errors,
  };
}

function parseJenkinsfile(text: string): { stages: JenkinsStage[]; errors: string[] } {
  const { code, errors } = scan(text);
  if (errors.length > 0) return { stages: [], errors };
  for (const word of ["pipeline", "agent", "stages", "steps", "script"]) {
    if (!new RegExp(`\\b${word}\\b`).test(code)) errors.push(`declarative pipeline without "${word}"`);
  }
  const stages: JenkinsStage[] = [];
  for (const m of code.matchAll(/stage\('([^']+)'\)\s*\{\s*agent\s*\{\s*label\s+'([^']+)'\s*\}\s*steps\s*\{\s*script\s*\{/g)) {
    const body = code.slice(m.index, closing(code, m.index + m[0].length - 1));
    const use = /load\('([^']+)'\)\.withNixCache\('([^']+)'\)\s*\{/.exec(body);
    if (!use) {
      errors.push(`stage ${m[1]}: does not call withNixCache`);
      continue;
    }
    const open = use.index + use[0].length - 1;
    stages.push({
      name: m[1] as string,
      label: m[2] as string,
      loads: use[1] as string,
      platform: use[2] as string,
      steps: blockSteps(body.slice(open, closing(body, open))),
    });
  }
  if (stages.length === 0) errors.push("no stage with an agent label whose script calls withNixCache");
  return { stages, errors };
}

/** The Job Cacher rules for our cache step: what makes Jenkins save and restore the directory. */
function jobCacherErrors(library: Library, cacheDir: string, maxSizeBytes: number): string[] {
  const errors: string[] = [];
  const { maxCacheSize, defaultBranch, caches } = library.cache;
  if (!Number.isInteger(maxCacheSize)) errors.push("maxCacheSize must be a whole number of MB");
  // Above maxCacheSize Job Cacher deletes everything: it must sit above save.sh's budget.
  else if (maxCacheSize * 1024 * 1024 <= maxSizeBytes) errors.push(`maxCacheSize ${maxCacheSize} MB is not above the budget`);
  if (!defaultBranch) errors.push("no defaultBranch, so a new branch starts empty");
  if (caches.length !== 1) errors.push(`expected one arbitraryFileCache, found ${caches.length}`);
  for (const cache of caches) {
    for (const key of Object.keys(cache)) if (!CACHE_PARAMS.includes(key)) errors.push(`unknown parameter ${key}`);
    if (cache.path !== cacheDir) errors.push(`path ${cache.path} is not ${cacheDir}`);
    if (!COMPRESSION.includes(cache.compressionMethod ?? "")) errors.push(`compressionMethod ${cache.compressionMethod}`);
    // With a deciding file the cache is only saved when that file changed.
    if (cache.cacheValidityDecidingFile) errors.push("cacheValidityDecidingFile stops saves");
    // Linux and macOS caches must not mix.
    if (!cache.cacheName?.includes(PLATFORM_VARIABLE)) errors.push(`cacheName ${cache.cacheName} is not per platform`);
  }
  const body = library.steps.findIndex((s) => s.body);
  const save = library.steps.findIndex((s) => s.script?.includes("sh .nix-ci-cache/save.sh"));
  if (body < 0 || !library.steps[body]?.caught) errors.push("body() is not inside catchError, so a failed build skips the save");
  if (save <= body || library.steps[save]?.caught) errors.push("save.sh must run after body(), outside catchError");
  return errors;
}

/** Each stage loads our library on its platform's agent and sources env.sh with its build. */
function stageErrors(stage: JenkinsStage): string[] {
  const errors: string[] = [];
  if (stage.loads !== LIBRARY) errors.push(`${stage.name}: loads ${stage.loads}, not ${LIBRARY}`);
  if (!["linux", "darwin"].includes(stage.platform)) errors.push(`${stage.name}: platform ${stage.platform}`);
  if (!stage.steps.every((s) => s.script?.includes(". .nix-ci-cache/env.sh")))
    errors.push(`${stage.name}: an sh step without env.sh`);
  return errors;
}

function checkExample(name: string) {
  const root = join(examples, name);
  const config = parse(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8"));
  const { library, errors: libraryErrors } = parseLibrary(readFileSync(join(root, LIBRARY), "utf8"));
  const { stages, errors } = parseJenkinsfile(readFileSync(join(root, PIPELINE), "utf8"));
  const budget = parseSize(config.maxSize ?? "2G");
  const all = [
    ...libraryErrors,
    ...errors,
    ...(library ? jobCacherErrors(library, config.cacheDir, budget) : []),
    ...stages.flatMap(stageErrors),
  ];
  return { library, stages, errors: all };
}

describe("Jenkins pipeline", () => {
  it("there are examples to check", () => expect(withJenkins).toEqual(["jenkins/linux", "jenkins/linux-macos"]));

  it.each(withJenkins)("examples/%s follows the declarative and Job Cacher rules; its sh steps pass shellcheck", async (name) => {
    const { library, stages, errors } = checkExample(name);
    expect(errors).toEqual([]);
    expect(stages.map((s) => [s.platform, s.label])).toEqual(
      name.endsWith("macos")
        ? [
            ["linux", "linux"],
            ["darwin", "macos"],
          ]
        : [["linux", "linux"]],
    );
    for (const step of [...(library?.steps ?? []), ...stages.flatMap((s) => s.steps)]) {
      // Jenkins runs each sh step with `sh -xe`. SC1091: env.sh is checked on its own.
      if (step.script !== undefined) expect(await shellcheckErrors(step.script, "sh", ["SC1091"])).toEqual([]);
    }
  });

  it("the checks can fail: broken Groovy, wrong Job Cacher options, a misplaced save and a broken script are reported", async () => {
    const library = readFileSync(join(examples, "jenkins/linux", LIBRARY), "utf8");
    const pipeline = readFileSync(join(examples, "jenkins/linux", PIPELINE), "utf8");
    const libraryErrors = (text: string) => {
      const parsed = parseLibrary(text);
      return [
        ...parsed.errors,
        ...(parsed.library ? jobCacherErrors(parsed.library, ".nix-ci-cache/cache", parseSize("2G")) : []),
      ];
    };
    expect(libraryErrors(library)).toEqual([]);
    expect(libraryErrors(library.replace("body()", "body("))).toEqual([
      expect.stringMatching(/^unbalanced "\}"/),
      'unclosed "{"',
    ]);
    expect(libraryErrors(library.replace("return this", ""))).toHaveLength(1);
    expect(
      libraryErrors(
        library.replace("compressionMethod: 'TAR'", "compressionMethod: 'GZIP', cacheValidityDecidingFile: 'flake.lock'"),
      ),
    ).toHaveLength(2);
    expect(
      libraryErrors(library.replace("catchError(buildResult: 'FAILURE', stageResult: 'FAILURE') {", "dir('.') {")),
    ).toHaveLength(1);
    expect(parseJenkinsfile(pipeline.replace("steps {", "steps {{")).errors).toEqual(['unclosed "{"']);
    expect(parseJenkinsfile(pipeline.replace("script {", "{")).errors).toContain('declarative pipeline without "script"');
    expect(await shellcheckErrors('trap "sh $1" EXIT', "sh")).toEqual([expect.stringMatching(/\[SC2064\]$/)]);
  });

  it("runs on real Nix with Job Cacher's branch caches; a pull request starts from main's cache and builds nothing; a failed build still saves (emulated Jenkins agent and Job Cacher)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "jenkins"]);
    const { library, errors: libraryErrors } = parseLibrary(readFileSync(join(project.source, LIBRARY), "utf8"));
    const { stages, errors } = parseJenkinsfile(readFileSync(join(project.source, PIPELINE), "utf8"));
    expect([...libraryErrors, ...errors]).toEqual([]);
    const lib = library as Library;
    const stage = stages[0] as JenkinsStage;
    const cache = lib.cache.caches[0] as Record<string, string>;
    const cacheDir = cache.path as string;
    const cacheName = (cache.cacheName as string).replace(PLATFORM_VARIABLE, stage.platform);
    const store = new CacheStore();

    function build(dir: string, job: string) {
      // Job Cacher keeps one cache per job (a branch or pull request) and name; a
      // job without one reads defaultBranch's.
      const key = (branch: string) => `${branch}/${cacheName}`;
      let restored: string | undefined;
      // withNixCache's steps, with the Jenkinsfile's closure where body() is called.
      const groovySteps = lib.steps.flatMap((s) => (s.body ? stage.steps.map((b) => ({ ...b, caught: s.caught })) : [s]));
      let caught = false;
      const steps: Step[] = [
        {
          name: "restore",
          action: () => {
            restored = store.restoreExact(dir, [key(job), key(lib.cache.defaultBranch)]);
          },
        },
        // Every sh step, the Nix installer's included: it does nothing where Nix is on PATH, as here.
        ...groovySteps.map((s, i): Step => {
          // After a caught failure the block goes on, so the later steps still run.
          const always = caught;
          caught ||= s.caught;
          return { name: `sh ${i}`, script: s.script ?? "", shell: ["sh", "-xe"], always };
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
    expect(failed.log).toMatch(/--- sh 2 \(exit 0\)\n[\s\S]*nix-ci-cache: saved \d+ new paths/);
    expect(store.keys).toContain("PR-2/nix-ci-cache-linux");
  });
});
