import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, projectWithGraph, runSteps } from "../support/provider-run.js";
import { shellcheckErrors } from "../support/validators.js";

const PIPELINE = "bitbucket-pipelines.yml";
const withBitbucket = exampleDirs(PIPELINE);

type CacheDefinition = string | { key?: { files: string[] }; path: string };
interface BitbucketStep {
  name: string;
  caches?: string[];
  script: string[];
  "after-script"?: string[];
}
interface BitbucketPipeline {
  image: string;
  definitions: { caches: Record<string, CacheDefinition> };
  pipelines: { default: Array<{ step: BitbucketStep }> };
}

/** Bitbucket's predefined caches: a custom cache must not reuse their names. */
const PREDEFINED = ["docker", "composer", "dotnetcore", "gradle", "ivy2", "maven", "node", "pip", "sbt"];

/**
 * No schema or parser for bitbucket-pipelines.yml is published in npm; these are
 * the rules of Bitbucket's cache documentation that the generated file relies on.
 */
function cacheRuleErrors(pipeline: BitbucketPipeline, cacheDir: string): string[] {
  const errors: string[] = [];
  const caches = pipeline.definitions?.caches ?? {};
  for (const [name, definition] of Object.entries(caches)) {
    if (PREDEFINED.includes(name)) errors.push(`cache ${name}: the name of a predefined cache`);
    const path = typeof definition === "string" ? definition : definition?.path;
    if (path !== cacheDir) errors.push(`cache ${name}: path is ${path}, not ${cacheDir}`);
    if (typeof definition === "object" && definition.key && !(definition.key.files?.length > 0)) {
      errors.push(`cache ${name}: key needs files`);
    }
  }
  for (const { step } of pipeline.pipelines?.default ?? []) {
    for (const name of step?.caches ?? []) if (!(name in caches)) errors.push(`step ${step.name}: cache ${name} is not defined`);
    if (!step?.caches?.some((name) => name in caches)) errors.push(`step ${step?.name}: uses no custom cache`);
    const script = step?.script ?? [];
    // Caches are saved only after a successful step: save.sh must run in `script`,
    // env.sh first, since all script commands share one shell.
    if (script[0] !== ". .nix-ci-cache/env.sh") errors.push(`step ${step?.name}: script does not start with env.sh`);
    if (script.at(-1) !== "sh .nix-ci-cache/save.sh") errors.push(`step ${step?.name}: script does not end with save.sh`);
  }
  return errors;
}

describe("Bitbucket Pipelines file", () => {
  it.each(withBitbucket)("examples/%s follows Bitbucket's cache rules and passes shellcheck", async (name) => {
    const pipeline: BitbucketPipeline = parse(readFileSync(join(examples, name, PIPELINE), "utf8"));
    expect(cacheRuleErrors(pipeline, ".nix-ci-cache/cache")).toEqual([]);
    for (const { step } of pipeline.pipelines.default) {
      // The nixos/nix image's /bin/sh runs the script: check it as POSIX sh.
      expect(await shellcheckErrors(step.script.join("\n"), "sh", ["SC1091"])).toEqual([]);
    }
  });

  it("the rule check can fail: a broken cache stanza is reported", () => {
    const text = readFileSync(join(examples, "bitbucket/linux", PIPELINE), "utf8");
    expect(
      cacheRuleErrors(parse(text.replace("- nix-ci-cache\n", "- nix-cache\n")), ".nix-ci-cache/cache").length,
    ).toBeGreaterThan(0);
    expect(
      cacheRuleErrors(parse(text.replace("- sh .nix-ci-cache/save.sh", "- true")), ".nix-ci-cache/cache").length,
    ).toBeGreaterThan(0);
  });

  it("runs twice on real Nix with the cache restored by name and key-file hash, saved once; the second run builds nothing", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "bitbucket"]);
    const pipeline: BitbucketPipeline = parse(readFileSync(join(project.source, PIPELINE), "utf8"));
    const step = pipeline.pipelines.default[0]?.step as BitbucketStep;
    const store = new CacheStore();

    function job(dir: string, script = step.script) {
      // A custom cache's version is its name plus the hash of its key files.
      const versions = (step.caches ?? []).map((name) => {
        const definition = pipeline.definitions.caches[name] as CacheDefinition;
        const path = typeof definition === "string" ? definition : definition.path;
        const hash = createHash("sha256");
        for (const file of typeof definition === "string" ? [] : (definition.key?.files ?? [])) {
          hash.update(readFileSync(join(dir, file)));
        }
        return { key: `${name}-${hash.digest("hex")}`, path };
      });
      const restored: Array<string | undefined> = [];
      const result = runSteps(
        dir,
        [
          {
            name: "Build setup",
            action: () => {
              for (const v of versions) restored.push(store.restoreExact(dir, [v.key]));
            },
          },
          // The script's commands run in one shell, which stops at the first failure.
          { name: step.name, script: script.join("\n"), shell: ["sh", "-e"] },
          // Build teardown: only after a successful step, and only caches that do not exist yet.
          {
            name: "Build teardown",
            action: () => {
              for (const v of versions) store.save(dir, v.path, v.key, true);
            },
          },
        ],
        "none",
      );
      return { ...result, restored };
    }

    const failed = checkout(project, "failed run");
    const broken = job(failed, [...step.script.slice(0, -1), "exit 4", ...step.script.slice(-1)]);
    expect(broken.status, broken.log).toBe(4);
    expect(store.keys).toEqual([]);
    forgetGraph(project, failed);

    const first = checkout(project, "run 1");
    const cold = job(first);
    expect(cold.status, cold.log).toBe(0);
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(cold.restored).toEqual([undefined]);
    expect(store.keys).toHaveLength(1);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const warm = job(second);
    expect(warm.status, warm.log).toBe(0);
    expect(warm.restored).toEqual(store.keys);
    expect(warm.built, warm.log).toBe(0);
    // The cache exists for this key: Bitbucket keeps the first one.
    expect(store.keys).toHaveLength(1);
    forgetGraph(project, second);
  });
});
