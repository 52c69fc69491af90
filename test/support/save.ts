// Projects with the file-mode runtime, jobs run in them, and what their cache holds:
// shared by the save.sh tests.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect } from "vitest";
import type { Config } from "../../src/model.js";
import {
  cleanEnv,
  deleteGraph,
  type Graph,
  graphBuildArgs,
  makeProjectDir,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./nix.js";
import { runtimeContext } from "./render-runtime.js";

export const CACHE = ".nix-ci-cache/cache";

/** A project with the file-mode runtime rendered from `more`. */
export function project(label: string, more: Partial<Config> = {}, cacheDir = CACHE): string {
  const dir = makeProjectDir(label);
  writeRuntime(dir, runtimeContext("file", cacheDir, "zstd", more));
  return dir;
}

/** A project and its graph, as withGraphProject gives them; `build` builds the graph without result links. */
export interface GraphProject {
  dir: string;
  tag: string;
  g: Graph;
  build: string;
}

/**
 * A project (as `project`) with a graph of `packages` packages under a new tag, for
 * `body`; the project's result links and the graph's store paths are deleted
 * afterwards, whatever happened.
 */
export async function withGraphProject(
  label: string,
  more: Partial<Config>,
  packages: number,
  body: (p: GraphProject) => void | Promise<void>,
): Promise<void> {
  requireNix();
  const tag = uniqueTag();
  const dir = project(label, more);
  try {
    const g = writeGraph(dir, tag, packages);
    await body({ dir, tag, g, build: `nix-build graph.nix ${graphBuildArgs(g)} --no-out-link` });
  } finally {
    dropResults(dir);
    deleteGraph(tag);
  }
}

export function job(dir: string, buildCmd: string, env = cleanEnv()) {
  return run(`. .nix-ci-cache/env.sh || exit 90\n${buildCmd} || exit 91\n.nix-ci-cache/save.sh || exit 92`, { cwd: dir, env });
}

/** What a provider does between jobs: archive the cache directory, restore it elsewhere. */
export function carryCache(from: string, to: string): void {
  const tar = join(dirname(from), "cache.tar");
  const r = run(`tar -C "$F" -cf "$T" '${CACHE}' && mkdir -p "$D" && tar -C "$D" -xf "$T"`, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", F: from, T: tar, D: to },
  });
  expect(r.status, r.stderr).toBe(0);
}

/** Store path names (without hash) of the cache's narinfos. */
export function cachedNames(cache: string): string[] {
  return readdirSync(cache)
    .filter((n) => n.endsWith(".narinfo"))
    .map((n) => /^StorePath: \/nix\/store\/[a-z0-9]+-(.*)$/m.exec(readFileSync(join(cache, n), "utf8"))?.[1] ?? `garbage ${n}`)
    .sort();
}

/** Every narinfo's references have a narinfo, and every NAR it names exists. */
export function expectClosureComplete(cache: string): void {
  const hashes = new Set(
    readdirSync(cache)
      .filter((n) => n.endsWith(".narinfo"))
      .map((n) => n.slice(0, 32)),
  );
  for (const h of hashes) {
    const text = readFileSync(join(cache, `${h}.narinfo`), "utf8");
    const refs = (/^References: ?(.*)$/m.exec(text)?.[1] ?? "").split(" ").filter(Boolean);
    for (const r of refs) expect(hashes.has(r.slice(0, 32)), `${h} refers to ${r}, not cached`).toBe(true);
    const url = /^URL: (.*)$/m.exec(text)?.[1] as string;
    const size = Number(/^FileSize: (.*)$/m.exec(text)?.[1]);
    expect(statSync(join(cache, url)).size).toBe(size);
  }
  const urls = new Set(
    [...hashes].map((h) => /^URL: (.*)$/m.exec(readFileSync(join(cache, `${h}.narinfo`), "utf8"))?.[1]?.replace(/^nar\//, "")),
  );
  const nars = existsSync(join(cache, "nar")) ? readdirSync(join(cache, "nar")) : [];
  expect(
    nars.filter((n) => !urls.has(n)),
    "orphan NARs",
  ).toEqual([]);
  expect(run(`find "$C" -name '*.tmp.*'`, { env: cleanEnv({ C: cache }) }).stdout.trim(), "temporary files").toBe("");
}

export function lastSave(cache: string): Record<string, string> {
  const lines = readFileSync(join(cache, "nix-ci-cache", "saves"), "utf8")
    .trim()
    .split("\n");
  return Object.fromEntries((lines.at(-1) ?? "").split(" ").map((kv) => kv.split("=") as [string, string]));
}

export function dropResults(dir: string): void {
  for (const n of readdirSync(dir)) if (n.startsWith("result") || n.endsWith("link")) rmSync(join(dir, n));
}
