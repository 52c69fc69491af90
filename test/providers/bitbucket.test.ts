import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { cleanEnv, requireNix, writeGraph } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, type Project, projectWithGraph, runSteps } from "../support/provider-run.js";
import { scratchDir } from "../support/scratch.js";
import { shellcheckErrors } from "../support/validators.js";

const PIPELINE = "bitbucket-pipelines.yml";
const REFRESH = "nix-ci-cache-refresh";
const CACHE = "nix-ci-cache";
const withBitbucket = exampleDirs(PIPELINE);

type CacheDefinition = string | { key?: { files: string[] }; path: string };
interface BitbucketStep {
  name: string;
  caches?: string[];
  script: string[];
  artifacts?: string[];
  clone?: { enabled?: boolean };
}
interface BitbucketPipeline {
  image: string;
  definitions: { caches: Record<string, CacheDefinition> };
  pipelines: { default: Array<{ step: BitbucketStep }>; custom?: Record<string, Array<{ step: BitbucketStep }>> };
}

/** Bitbucket's predefined caches: a custom cache must not reuse their names. */
const PREDEFINED = ["docker", "composer", "dotnetcore", "gradle", "ivy2", "maven", "node", "pip", "sbt"];

/** Bitbucket resolves YAML anchors and `<<:` merge keys (its "YAML anchors" documentation). */
const readPipeline = (text: string): BitbucketPipeline => parse(text, { merge: true });

const pathOf = (definition: CacheDefinition) => (typeof definition === "string" ? definition : definition.path);

/**
 * No schema or parser for bitbucket-pipelines.yml is published in npm; these are the
 * rules of Bitbucket's cache and artifact documentation that the generated file relies on.
 */
function cacheRuleErrors(pipeline: BitbucketPipeline, cacheDir: string): string[] {
  const errors: string[] = [];
  const caches = pipeline.definitions?.caches ?? {};
  for (const [name, definition] of Object.entries(caches)) {
    if (PREDEFINED.includes(name)) errors.push(`cache ${name}: the name of a predefined cache`);
    if (pathOf(definition) !== cacheDir) errors.push(`cache ${name}: path is ${pathOf(definition)}, not ${cacheDir}`);
    if (typeof definition === "object" && definition.key && !(definition.key.files?.length > 0)) {
      errors.push(`cache ${name}: key needs files`);
    }
  }
  const allSteps = [...(pipeline.pipelines?.default ?? []), ...Object.values(pipeline.pipelines?.custom ?? {}).flat()];
  for (const { step } of allSteps) {
    for (const name of step?.caches ?? []) if (!(name in caches)) errors.push(`step ${step.name}: cache ${name} is not defined`);
  }
  for (const { step } of pipeline.pipelines?.default ?? []) {
    if (!step?.caches?.some((name) => name in caches)) errors.push(`step ${step?.name}: uses no custom cache`);
    const script = step?.script ?? [];
    // Caches are saved only after a successful step: save.sh must run in `script`,
    // env.sh first, since all script commands share one shell.
    if (script[0] !== ". .nix-ci-cache/env.sh") errors.push(`step ${step?.name}: script does not start with env.sh`);
    if (script.at(-1) !== "sh .nix-ci-cache/save.sh") errors.push(`step ${step?.name}: script does not end with save.sh`);
  }
  // The refresh: a build whose grown cache directory goes on as an artifact ("files in
  // BITBUCKET_CLONE_DIR … available to all the following steps"), a step that deletes
  // the cache and uses none, and a step that uses the cache and so saves it, none
  // existing any more.
  const [build, remove, save] = (pipeline.pipelines?.custom?.[REFRESH] ?? []).map((s) => s.step);
  if (!build || !remove || !save) return [...errors, `custom pipeline ${REFRESH}: needs three steps`];
  if (!build.caches?.includes(CACHE)) errors.push(`${REFRESH}: the build step does not restore the cache`);
  if (!build.artifacts?.includes(`${cacheDir}/**`))
    errors.push(`${REFRESH}: the build step does not keep ${cacheDir} as an artifact`);
  if (remove.caches?.includes(CACHE)) errors.push(`${REFRESH}: the step that deletes the cache uses it`);
  if (!remove.script.join("\n").includes(`pipelines-config/caches?name=${CACHE}`))
    errors.push(`${REFRESH}: the delete step does not delete the cache ${CACHE}`);
  if (!save.caches?.includes(CACHE)) errors.push(`${REFRESH}: the last step does not save the cache`);
  return errors;
}

describe("Bitbucket Pipelines file", () => {
  it.each(withBitbucket)("examples/%s follows Bitbucket's cache and artifact rules and passes shellcheck", async (name) => {
    const pipeline = readPipeline(readFileSync(join(examples, name, PIPELINE), "utf8"));
    expect(cacheRuleErrors(pipeline, ".nix-ci-cache/cache")).toEqual([]);
    const steps = [...pipeline.pipelines.default, ...Object.values(pipeline.pipelines.custom ?? {}).flat()];
    for (const { step } of steps) {
      // The nixos/nix image's /bin/sh runs the script: check it as POSIX sh.
      expect(await shellcheckErrors(step.script.join("\n"), "sh", ["SC1091"]), step.name).toEqual([]);
    }
  });

  it("the rule check can fail: a broken cache stanza or refresh pipeline is reported", () => {
    const text = readFileSync(join(examples, "bitbucket/linux", PIPELINE), "utf8");
    for (const [broken, error] of [
      [text.replace("- nix-ci-cache\n", "- nix-cache\n"), "step Nix build: cache nix-cache is not defined"],
      [text.replace("- sh .nix-ci-cache/save.sh", "- true"), "step Nix build: script does not end with save.sh"],
      [
        text.replace("- .nix-ci-cache/cache/**", "- result/**"),
        `${REFRESH}: the build step does not keep .nix-ci-cache/cache as an artifact`,
      ],
      [
        text.replace("caches?name=nix-ci-cache", "caches?name=node"),
        `${REFRESH}: the delete step does not delete the cache nix-ci-cache`,
      ],
    ] as const) {
      expect(broken).not.toBe(text);
      expect(cacheRuleErrors(readPipeline(broken), ".nix-ci-cache/cache")).toContain(error);
    }
  });
});

describe("Bitbucket Pipelines on real Nix, with Bitbucket's documented cache and artifact rules emulated", () => {
  /**
   * Runs pipeline steps as Bitbucket does: each step is a fresh clone (or an empty
   * directory with `clone: enabled: false`). Build setup restores each custom cache by
   * its name and the hash of its key files, then the artifacts of earlier steps; the
   * script runs in one `sh -e`; build teardown, only after a successful step, saves
   * each cache for which none exists, and keeps the artifacts. `curl` is a stub that
   * answers the REST API: DELETE …/pipelines-config/caches?name=N with a bearer token
   * deletes every version of N (204), without one it answers 401.
   */
  function pipelineRun(project: Project, store: CacheStore, pipeline: BitbucketPipeline) {
    return (name: string, steps: BitbucketStep[], env: Record<string, string> = {}) => {
      const artifacts = scratchDir("ncc-bitbucket-artifacts-");
      const stub = scratchDir("ncc-bitbucket-curl-");
      const requests = join(stub, "requests");
      writeFileSync(
        join(stub, "curl"),
        `#!/bin/sh
# The stub of Bitbucket's REST API: records the request, answers with the status.
method=GET url= auth=
while [ $# -gt 0 ]; do
  case $1 in
    --request) method=$2; shift ;;
    --header) case $2 in "Authorization: Bearer "?*) auth=yes ;; esac; shift ;;
    --output | --write-out) shift ;;
    -*) ;;
    *) url=$1 ;;
  esac
  shift
done
if [ -z "$auth" ]; then printf 401; exit 0; fi
printf '%s %s\\n' "$method" "$url" >>"${requests}"
printf 204
`,
      );
      chmodSync(join(stub, "curl"), 0o755);
      const restored: Array<string | undefined> = [];
      const results: Array<{ dir: string; result: ReturnType<typeof runSteps> }> = [];
      for (const [index, step] of steps.entries()) {
        const dir = step.clone?.enabled === false ? scratchDir("ncc-bitbucket-noclone-") : checkout(project, `${name} ${index}`);
        const versions = (step.caches ?? []).map((cache) => {
          const definition = pipeline.definitions.caches[cache] as CacheDefinition;
          const hash = createHash("sha256");
          for (const file of typeof definition === "string" ? [] : (definition.key?.files ?? [])) {
            hash.update(readFileSync(join(dir, file)));
          }
          return { key: `${cache}-${hash.digest("hex")}`, path: pathOf(definition) };
        });
        const result = runSteps(
          dir,
          [
            {
              name: "Build setup",
              action: () => {
                for (const v of versions) restored.push(store.restoreExact(dir, [v.key]));
                if (existsSync(join(artifacts, "files"))) cpSync(join(artifacts, "files"), dir, { recursive: true });
              },
            },
            { name: step.name, script: step.script.join("\n"), shell: ["sh", "-e"] },
            {
              name: "Build teardown",
              action: () => {
                for (const v of versions) store.save(dir, v.path, v.key, true);
                for (const glob of step.artifacts ?? []) {
                  const path = glob.replace(/\/\*\*$/, "");
                  expect(`${path}/**`, "only directory globs are emulated").toBe(glob);
                  if (existsSync(join(dir, path))) cpSync(join(dir, path), join(artifacts, "files", path), { recursive: true });
                }
                if (existsSync(requests)) {
                  for (const line of readFileSync(requests, "utf8").split("\n").filter(Boolean)) {
                    const m =
                      /^DELETE https:\/\/api\.bitbucket\.org\/2\.0\/repositories\/ws\/repo\/pipelines-config\/caches\?name=(.+)$/.exec(
                        line,
                      );
                    expect(m, line).not.toBeNull();
                    store.remove(store.keys.filter((k) => k.startsWith(`${m?.[1]}-`)));
                  }
                  rmSync(requests);
                }
              },
            },
          ],
          "none",
          { ...env, BITBUCKET_WORKSPACE: "ws", BITBUCKET_REPO_SLUG: "repo", PATH: `${stub}:${cleanEnv().PATH}` },
        );
        results.push({ dir, result });
        // A failed step stops the pipeline.
        if (result.status !== 0) break;
      }
      const failedAt = results.findIndex((r) => r.result.status !== 0);
      return { results, restored, failedAt };
    };
  }

  it("the default pipeline saves once and never updates; the refresh pipeline saves what builds added since; without its token it changes nothing (emulated Bitbucket runner and cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "bitbucket"]);
    const pipeline = readPipeline(readFileSync(join(project.source, PIPELINE), "utf8"));
    const store = new CacheStore();
    const run = pipelineRun(project, store, pipeline);
    const build = pipeline.pipelines.default.map((s) => s.step);
    const refresh = (pipeline.pipelines.custom?.[REFRESH] ?? []).map((s) => s.step);
    expect(refresh).toHaveLength(3);
    const built = (r: ReturnType<typeof run>) => r.results.reduce((n, { result }) => n + result.built, 0);

    // A failed step saves nothing.
    const failing = run("failed", [{ ...(build[0] as BitbucketStep), script: [...(build[0]?.script ?? []), "exit 4"] }]);
    expect(failing.failedAt).toBe(0);
    expect(store.keys).toEqual([]);
    forgetGraph(project, failing.results[0]?.dir as string);

    const cold = run("cold", build);
    expect(cold.failedAt).toBe(-1);
    expect(built(cold)).toBe(project.graph.packages.length + 1);
    expect(store.keys).toHaveLength(1);
    const key = store.keys[0];
    forgetGraph(project, cold.results[0]?.dir as string);

    // The project grows by one package: the default pipeline builds it, and Bitbucket
    // keeps the cache as it was.
    const grown = writeGraph(project.source, project.graph.tag, project.graph.packages.length + 1);
    const stale = run("stale", build);
    expect(stale.restored).toEqual([key]);
    expect(built(stale)).toBe(1);
    forgetGraph(project, stale.results[0]?.dir as string);
    const again = run("again", build);
    expect(built(again), "the cache still lacks the new package").toBe(1);
    forgetGraph(project, again.results[0]?.dir as string);

    // Without the token the delete step fails, and the pipeline stops there.
    const noToken = run("no token", refresh);
    expect(noToken.failedAt).toBe(1);
    expect(noToken.results[1]?.result.log).toContain("set the secured repository variable NIX_CI_CACHE_BITBUCKET_TOKEN");
    expect(store.keys).toEqual([key]);
    for (const r of noToken.results) forgetGraph(project, r.dir);

    const refreshed = run("refresh", refresh, { NIX_CI_CACHE_BITBUCKET_TOKEN: "repository-access-token" });
    expect(refreshed.failedAt, refreshed.results.map((r) => r.result.log).join("\n")).toBe(-1);
    expect(refreshed.results[1]?.result.log).toContain("deleted the cache nix-ci-cache");
    // Same key, new content: the build step's directory, carried past the delete.
    expect(store.keys).toEqual([key]);
    for (const r of refreshed.results) forgetGraph(project, r.dir);

    const warm = run("warm", build);
    expect(warm.restored).toEqual([key]);
    expect(built(warm), warm.results[0]?.result.log).toBe(0);
    expect(grown.packages).toHaveLength(project.graph.packages.length + 1);
  });
});
