// A Nix store that other jobs use at the same time (self-hosted runners, one daemon
// for several executors), against real Nix: another project's job running beside this
// one must not put its paths into this project's cache, and a store that keeps changing
// under env.sh and save.sh must not fail the job.
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Daemon, startDaemon } from "./support/daemon.js";
import {
  BASE_NIX_CONFIG,
  cleanEnv,
  countBuilt,
  deleteGraph,
  type Graph,
  graphBuildArgs,
  makeProjectDir,
  readText,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE, cachedNames, expectClosureComplete } from "./support/save.js";

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

interface Project {
  dir: string;
  tag: string;
  g: Graph;
}

function project(label: string): Project {
  const dir = makeProjectDir(label);
  const tag = uniqueTag();
  writeRuntime(dir, runtimeContext("file"));
  const g = writeGraph(dir, tag, 3);
  cleanup.push(() => {
    for (const n of readdirSync(dir)) if (n.startsWith("result")) rmSync(join(dir, n));
    deleteGraph(tag);
  });
  return { dir, tag, g };
}

/** One step of a job: a new shell; env.sh sourced again continues the job (NIX_CI_CACHE_DIR came through the provider). */
function step(p: Project, env: Record<string, string>, cmd: string) {
  return run(`. .nix-ci-cache/env.sh || exit 90\n${cmd}`, {
    cwd: p.dir,
    env: { ...env, NIX_CI_CACHE_DIR: join(p.dir, CACHE) },
  });
}

/** A whole job in one shell: env.sh sourced, `build`, then save.sh. */
function wholeJob(p: Project, env: Record<string, string>, build: string) {
  return run(`. .nix-ci-cache/env.sh && ${build} && .nix-ci-cache/save.sh`, { cwd: p.dir, env });
}

/** A whole job that builds p0 alone: it passes, and the cache holds p0 and the toolchain it was built with. */
function p0Job(p: Project, env: Record<string, string>) {
  const r = wholeJob(p, env, "nix-build graph.nix -A p0 --no-out-link");
  expect(r.status, r.stderr).toBe(0);
  expect(cachedNames(join(p.dir, CACHE))).toEqual([`busybox-src-${p.tag}`, `p0-${p.tag}`, `toolchain-${p.tag}`]);
  return r;
}

describe("a store other jobs use at the same time (real Nix, private daemon)", () => {
  it("two projects' jobs overlap on one daemon: neither fails, and neither caches the other's paths", () => {
    requireNix();
    const daemon: Daemon = startDaemon({ trustedUsers: "root" });
    cleanup.push(() => daemon.stop());
    const env = daemon.clientEnv();
    const a = project("a");
    const b = project("b");

    // A starts; B starts while A runs and builds; A builds (one result linked, one only
    // built) and saves while B still runs; then B saves.
    const a1 = run(". .nix-ci-cache/env.sh", { cwd: a.dir, env });
    expect(a1.status, a1.stderr).toBe(0);
    const b1 = run(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(b.g)} -o result`, { cwd: b.dir, env });
    expect(b1.status, b1.stderr).toBe(0);
    const a2 = step(a, env, `nix-build graph.nix -A p2 -o result && nix-build graph.nix -A p0 --no-out-link`);
    expect(a2.status, a2.stderr).toBe(0);
    const a3 = run(".nix-ci-cache/save.sh", { cwd: a.dir, env });
    expect(a3.status, a3.stderr).toBe(0);
    const b2 = run(".nix-ci-cache/save.sh", { cwd: b.dir, env });
    expect(b2.status, b2.stderr).toBe(0);

    for (const r of [a3, b2]) expect(r.stderr).toContain("a job of another project used this Nix store while this one ran");
    const inA = cachedNames(join(a.dir, CACHE));
    const inB = cachedNames(join(b.dir, CACHE));
    // What A's result needs, with its build closure; B's paths never.
    expect(inA).toEqual([`busybox-src-${a.tag}`, `p0-${a.tag}`, `p1-${a.tag}`, `p2-${a.tag}`, `toolchain-${a.tag}`]);
    expect(inB).toEqual([`busybox-src-${b.tag}`, `p0-${b.tag}`, `p1-${b.tag}`, `p2-${b.tag}`, `toolchain-${b.tag}`]);
    expectClosureComplete(join(a.dir, CACHE));
    // Job marks never enter a cache.
    expect([...inA, ...inB].filter((n) => n.includes("nix-ci-cache-"))).toEqual([]);

    // Alone, a job caches everything that appeared, also what no result needs.
    for (const p of [a, b]) for (const n of readdirSync(p.dir)) if (n.startsWith("result")) rmSync(join(p.dir, n));
    deleteGraph(a.tag);
    rmSync(join(a.dir, CACHE), { recursive: true });
    const alone = p0Job(a, env);
    expect(alone.stderr).not.toContain("other projects");
  });

  it("jobs of one project may share a cache: their marks do not narrow what is saved", () => {
    requireNix();
    const a = project("same");
    // Another job of the same project (the same cache directory) started and never saved.
    const other = run(". .nix-ci-cache/env.sh", { cwd: a.dir, env: cleanEnv() });
    expect(other.status, other.stderr).toBe(0);
    const r = p0Job(a, cleanEnv());
    expect(r.stderr).not.toContain("other projects");
  });
});

describe("a store that keeps changing under the scripts (emulated: an ls whose -ct listing fails as a garbage collection makes it)", () => {
  /**
   * An `ls` first on PATH whose `-ct` listing of the store fails $1 times as a path
   * deleted by another process while ls reads the times makes it (GNU ls: the other
   * names, a message, status 1); and a `nix` that records every `path-info --all`.
   */
  function flakyLs(times: number): { env: Record<string, string>; pathInfoAll: () => number } {
    const bin = join(makeProjectDir("flaky"), "..", "flaky-bin");
    mkdirSync(bin, { recursive: true });
    const realLs = run("command -v ls").stdout.trim();
    const realNix = run("command -v nix").stdout.trim();
    const count = join(bin, "count");
    const all = join(bin, "path-info-all");
    writeFileSync(count, "0");
    writeFileSync(all, "");
    writeFileSync(
      join(bin, "ls"),
      `#!/bin/sh
case " $* " in
  *" -ct "*)
    n=$(cat '${count}'); echo $((n + 1)) >'${count}'
    if [ "$n" -lt ${times} ]; then
      ${realLs} "$@"
      echo "ls: cannot access '/nix/store/00000000000000000000000000000000-gone': No such file or directory" >&2
      exit 1
    fi ;;
esac
exec ${realLs} "$@"
`,
    );
    writeFileSync(
      join(bin, "nix"),
      `#!/bin/sh
case " $* " in *" path-info --all "*) echo called >>'${all}' ;; esac
exec ${realNix} "$@"
`,
    );
    chmodSync(join(bin, "ls"), 0o755);
    chmodSync(join(bin, "nix"), 0o755);
    return {
      env: cleanEnv({ PATH: `${bin}:${process.env.PATH}`, NIX_CONFIG: BASE_NIX_CONFIG }),
      pathInfoAll: () => readText(all).split("\n").filter(Boolean).length,
    };
  }

  it("save.sh asks again: two failures cost nothing, and the job caches as usual, without ever listing every valid path", () => {
    requireNix();
    const a = project("flaky2");
    const { env, pathInfoAll } = flakyLs(2);
    const r = p0Job(a, env);
    expect(r.stderr).not.toContain("note:");
    // Neither env.sh nor save.sh asks Nix for every valid path: seconds in a large store.
    expect(pathInfoAll()).toBe(0);
  });

  it("save.sh never fails the job: after three failures it caches what the results need", () => {
    requireNix();
    const a = project("flaky9");
    const { env } = flakyLs(99);
    const r = wholeJob(a, env, `nix-build graph.nix ${graphBuildArgs(a.g)} -o result`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("nix-ci-cache: note: listing /nix/store failed three times (ls: cannot access");
    expect(r.stderr).toContain("so this save does not know what appeared in the store");
    expect(countBuilt(r.stderr)).toBe(4);
    expect(readText(join(a.dir, ".nix-ci-cache", "state", "names-at-start"))).toMatch(/^[0-9a-z]{32}-/m);
    expect(cachedNames(join(a.dir, CACHE))).toEqual(
      [`busybox-src-${a.tag}`, ...a.g.packages.map((p) => `${p}-${a.tag}`), `toolchain-${a.tag}`].sort(),
    );
  });
});
