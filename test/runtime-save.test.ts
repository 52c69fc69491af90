// save.sh against real Nix: capture policies, prune to a budget, two saves at once,
// and a damaged cache.
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cacheStats } from "../src/stats.js";
import { fakeBin } from "./support/fakes.js";
import {
  BASE_NIX_CONFIG,
  cleanEnv,
  countBuilt,
  deleteGraph,
  graphBuildArgs,
  killWhen,
  makeProjectDir,
  removeDir,
  requireNix,
  run,
  runAsync,
  uniqueTag,
  writeGraph,
  writeLeafGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import {
  CACHE,
  cachedNames,
  dropResults,
  expectClosureComplete,
  job,
  lastSave,
  project,
  withGraphProject,
} from "./support/save.js";

const cleanup: Array<() => void> = [];
afterAll(() => {
  for (const f of cleanup.reverse()) f();
});

/** A second binary cache standing in for cache.nixos.org, holding the toolchain. */
function upstreamWithToolchain(dir: string, tag: string): string {
  const upstream = mkdtempSync(join(tmpdir(), "ncc-upstream-"));
  cleanup.push(() => removeDir(upstream));
  const r = run(`nix-build graph.nix -A toolchain --no-out-link | xargs nix copy --to "file://$U?compression=zstd"`, {
    cwd: dir,
    env: cleanEnv({ U: upstream }),
  });
  expect(r.status, r.stderr).toBe(0);
  deleteGraph(tag);
  return upstream;
}

function withSubstituter(upstream: string): Record<string, string> {
  return cleanEnv({ NIX_CONFIG: `${BASE_NIX_CONFIG}\nsubstituters = file://${upstream}?trusted=1` });
}

describe("save.sh capture policies (real Nix)", () => {
  it("build-closure caches a build-time-only dependency downloaded from another cache; built does not", () => {
    requireNix();
    const tag = uniqueTag();
    const closure = project("bc");
    const built = project("built", { capture: "built" });
    try {
      const g = writeGraph(closure, tag, 4);
      writeGraph(built, tag, 4);
      const upstream = upstreamWithToolchain(closure, tag);
      const packages = g.packages.map((p) => `${p}-${tag}`);

      let r = job(closure, `nix-build graph.nix ${graphBuildArgs(g)} --no-out-link`, withSubstituter(upstream));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`copying path '[^']*-toolchain-${tag}' from 'file://`));
      expect(countBuilt(r.stderr)).toBe(4);
      // The source is an input of the toolchain's derivation, valid since evaluation.
      expect(cachedNames(join(closure, CACHE)), r.stderr).toEqual([`busybox-src-${tag}`, ...packages, `toolchain-${tag}`].sort());
      // The copy started from the store listing took everything; the one after the queries had nothing left.
      expect(lastSave(join(closure, CACHE))).toMatchObject({ capture: "build-closure", added: "6", head_start: "ok" });
      deleteGraph(tag);

      r = job(built, `nix-build graph.nix ${graphBuildArgs(g)} --no-out-link`, withSubstituter(upstream));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(4);
      expect(cachedNames(join(built, CACHE))).toEqual([...packages].sort());
      expectClosureComplete(join(built, CACHE));
      expect(lastSave(join(built, CACHE))).toMatchObject({ capture: "built", head_start: "none" });
    } finally {
      deleteGraph(tag);
    }
  });

  it("build-closure: a name in the store that is not a valid path fails the head-start copy, and the copy after the queries takes everything", async () => {
    await withGraphProject("partial", {}, 4, ({ dir, tag, g, build }) => {
      // What a build killed halfway, or another job's build in progress, leaves in the store directory.
      const partial = `/nix/store/${"0".repeat(32)}-partial-${tag}`;
      cleanup.push(() => rmSync(partial, { recursive: true, force: true }));
      const r = job(dir, `${build} && mkdir "${partial}"`);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(5);
      expect(cachedNames(join(dir, CACHE))).toEqual(
        [`busybox-src-${tag}`, ...g.packages.map((p) => `${p}-${tag}`), `toolchain-${tag}`].sort(),
      );
      expectClosureComplete(join(dir, CACHE));
      expect(lastSave(join(dir, CACHE))).toMatchObject({ added: "6", head_start: "failed" });
      expect(r.stderr).not.toMatch(/is not valid/);
    });
  });

  it("build-closure: what a killed build left in the store directory before the job does not stop the head-start copy", async () => {
    await withGraphProject("leftover", {}, 4, ({ dir, tag, build }) => {
      const leftover = `/nix/store/${"1".repeat(32)}-leftover-${tag}`;
      mkdirSync(leftover);
      cleanup.push(() => rmSync(leftover, { recursive: true, force: true }));
      const r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      expect(lastSave(join(dir, CACHE))).toMatchObject({ added: "6", head_start: "ok" });
    });
  });

  it("build-closure: a path built during the job over a leftover of the same name (a build killed before the job) is cached", async () => {
    await withGraphProject("reborn", {}, 2, ({ dir, tag }) => {
      // p1's output, not yet built: its name is in the store directory when the job starts.
      const q = run('nix-store -q --outputs "$(nix-instantiate graph.nix -A p1)"', { cwd: dir, env: cleanEnv() });
      expect(q.status, q.stderr).toBe(0);
      const out = q.stdout.trim();
      expect(out).toMatch(new RegExp(`^/nix/store/[0-9a-z]{32}-p1-${tag}$`));
      mkdirSync(join(out, "share"), { recursive: true });
      writeFileSync(join(out, "share", "data"), "half");
      cleanup.push(() => rmSync(out, { recursive: true, force: true }));
      // p1 alone, without an out link: nothing else the job makes refers to it, nor is it a result.
      const r = job(dir, "nix-build graph.nix -A p1 --no-out-link");
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(3);
      expect(cachedNames(join(dir, CACHE))).toEqual([`busybox-src-${tag}`, `p0-${tag}`, `p1-${tag}`, `toolchain-${tag}`]);
      expectClosureComplete(join(dir, CACHE));
      expect(r.stderr).not.toContain("note:");
    });
  });

  it("build-closure: when a garbage collection takes the job's mark, save.sh says so and finds what the job added from the names", async () => {
    await withGraphProject("markgone", {}, 4, ({ dir, tag, g, build }) => {
      const mark = "ls /nix/store | grep -e \"-nix-ci-cache-job-$(cat .nix-ci-cache/state/job)\\$\" | sed 's|^|/nix/store/|'";
      const r = job(dir, `${build} && nix-store --delete $(${mark}) >/dev/null 2>&1 && test -z "$(${mark})"`);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain("note: this job's mark is not in /nix/store any more");
      expect(cachedNames(join(dir, CACHE))).toEqual(
        [`busybox-src-${tag}`, ...g.packages.map((p) => `${p}-${tag}`), `toolchain-${tag}`].sort(),
      );
      expectClosureComplete(join(dir, CACHE));
      expect(lastSave(join(dir, CACHE))).toMatchObject({ added: "6", head_start: "ok" });
    });
  });

  it("runtime-closure caches only the results' run-time closure; extraRoots and exclude apply", () => {
    requireNix();
    const tag = uniqueTag();
    const rc = project("rc", { capture: "runtime-closure" });
    const more = project("more", { capture: "runtime-closure", extraRoots: ["tc link"], exclude: ["p1-*"] });
    try {
      const g = writeGraph(rc, tag, 4);
      writeGraph(more, tag, 4);
      // The toolchain is built here, so "built" would keep it; the results do not need it.
      let r = job(rc, `nix-build graph.nix -A p2 -o result`);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(4);
      expect(cachedNames(join(rc, CACHE))).toEqual([`p0-${tag}`, `p1-${tag}`, `p2-${tag}`]);
      dropResults(rc);
      deleteGraph(tag);

      // p1 is excluded, so p2 (which refers to it) goes too; the extra root brings the toolchain.
      r = job(more, `nix-build graph.nix -A toolchain -o 'tc link' && nix-build graph.nix ${graphBuildArgs(g)} --no-out-link`);
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(join(more, CACHE))).toEqual([`p0-${tag}`, `toolchain-${tag}`]);
      expectClosureComplete(join(more, CACHE));
    } finally {
      dropResults(rc);
      dropResults(more);
      deleteGraph(tag);
    }
  });
});

/** The narinfo whose StorePath is named `name` (another entry's References may name it too). */
function narinfoOf(cache: string, name: string): string {
  const own = new RegExp(`^StorePath: [^\n]*/[0-9a-z]{32}-${name}$`, "m");
  const n = readdirSync(cache)
    .filter((f) => f.endsWith(".narinfo"))
    .find((f) => own.test(readFileSync(join(cache, f), "utf8")));
  if (!n) throw new Error(`no narinfo for ${name}`);
  return join(cache, n);
}

/** `names(ps)`: the cached names of the packages `ps` of the graph `tag`, sorted. */
const namesIn = (tag: string) => (ps: string[]) => ps.map((p) => `${p}-${tag}`).sort();

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * An environment whose `sleep` returns at once and records its argument: save.sh's
 * wait for a lock (900 sleeps of a second) takes a moment, and where a test expects no
 * wait, a bug that waits fails it at once instead of hanging it for 15 minutes.
 */
function countingSleep(dir: string): { env: Record<string, string>; sleeps: () => string[] } {
  const bin = fakeBin(dirname(dir));
  bin.add("sleep", ":");
  return {
    env: cleanEnv({ PATH: `${bin.dir}:${process.env.PATH}` }),
    sleeps: () => bin.calls().map((call) => call.replace(/^sleep /, "")),
  };
}

/** Another save's lock: its owner line ("<host> <pid> <time taken>"), if any, and the directory's mtime. */
function holdLock(lock: string, owner?: string, mtime = nowSeconds()): void {
  mkdirSync(lock, { recursive: true });
  if (owner !== undefined) writeFileSync(join(lock, "owner"), `${owner}\n`);
  utimesSync(lock, mtime, mtime);
}

describe("save.sh prune (real Nix)", () => {
  it("evicts the least recently used entry to fit the budget; a warm run of the latest roots builds 0", async () => {
    requireNix();
    const tag = uniqueTag();
    const dir = project("prune");
    const cache = join(dir, CACHE);
    try {
      writeLeafGraph(dir, tag, "v1");
      let r = job(dir, "nix-build leaf.nix -o result");
      expect(r.status, r.stderr).toBe(0);
      const size1 = Number(lastSave(cache).size);
      expect(cachedNames(cache)).toEqual([`busybox-src-${tag}`, `leaf-v1-${tag}`, `lib-${tag}`, `toolchain-${tag}`]);
      // Last-used times are in seconds: the next save must be later.
      await new Promise((res) => setTimeout(res, 1100));

      writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { maxSize: String(size1 + 100_000) }));
      writeLeafGraph(dir, tag, "v2");
      r = job(dir, "nix-build leaf.nix -o result");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/pruned 1 paths/);
      const save = lastSave(cache);
      expect(Number(save.size)).toBeLessThanOrEqual(size1 + 100_000);
      expect(save).toMatchObject({ added: "1", pruned: "1" });
      expect(cachedNames(cache)).toEqual([`busybox-src-${tag}`, `leaf-v2-${tag}`, `lib-${tag}`, `toolchain-${tag}`]);
      expectClosureComplete(cache);
      // What `npx nix-ci-cache stats` reads.
      const stats = cacheStats(cache);
      expect(stats).toMatchObject({ kind: "file", entries: 4, damaged: 0, orphans: 0, untracked: 0, compression: { zstd: 4 } });
      expect(stats.saves.map((s) => s.pruned)).toEqual(["0", "1"]);
      // The size stats reports is the one the save counted against maxSize and recorded,
      // and its NAR files are the files on disk (issue 11: 18.1 KiB reported for 17.4 KiB).
      expect(stats.kind === "file" && stats.bytes).toBe(Number(save.size));
      const onDisk = readdirSync(join(cache, "nar")).reduce((sum, n) => sum + statSync(join(cache, "nar", n)).size, 0);
      expect(stats.kind === "file" && stats.narFileBytes).toBe(onDisk);

      dropResults(dir);
      deleteGraph(tag);
      r = run(". .nix-ci-cache/env.sh && nix-build leaf.nix --no-out-link", { cwd: dir });
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
    } finally {
      dropResults(dir);
      deleteGraph(tag);
    }
  });

  it("evicts an entry together with everything that refers to it, although they were used later; what is left is closure-complete", async () => {
    await withGraphProject("prune-refs", {}, 6, ({ dir, tag, g, build }) => {
      const cache = join(dir, CACHE);
      const names = namesIn(tag);
      let r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      const size = Number(lastSave(cache).size);
      // p0 last used long ago, all that refers to it (p1, p3, and through them p2,
      // p4, p5) recently: as after jobs on a runner that kept p0 in its store.
      const hashOf = (name: string) => narinfoOf(cache, `${name}-${tag}`).slice(-40, -8);
      const times = ["p0", "p1", "p2", "p3", "p4", "p5", "toolchain", "busybox-src"].map(
        (n) => `${hashOf(n)} ${n === "p0" ? 1000 : 2000}`,
      );
      writeFileSync(join(cache, "nix-ci-cache", "entries"), `${times.join("\n")}\n`);
      // One byte over: evicting p0 alone would fit.
      writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { maxSize: String(size - 1) }));
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(cache)).toEqual(names(["busybox-src", "toolchain"]));
      expect(lastSave(cache)).toMatchObject({ pruned: "6", paths: "2" });
      expectClosureComplete(cache);

      deleteGraph(tag);
      r = run(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} --no-out-link`, { cwd: dir });
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`copying path '[^']*-toolchain-${tag}' from 'file://`));
    });
  });

  it.each(["dash", "bash", "busybox sh"])("%s: evicts an entry together with what refers to it, oldest first", (shell) => {
    requireNix();
    const dir = project("refs", { maxSize: "2500" });
    const cache = join(dir, CACHE);
    const h = (c: string) => c.repeat(32);
    mkdirSync(join(cache, "nix-ci-cache"), { recursive: true });
    mkdirSync(join(cache, "nar"));
    const entry = (c: string, refs: string[]) => {
      writeFileSync(join(cache, "nar", `${c}.nar`), "x".repeat(1000));
      writeFileSync(
        join(cache, `${h(c)}.narinfo`),
        `StorePath: /nix/store/${h(c)}-${c}\nURL: nar/${c}.nar\nCompression: none\nFileSize: 1000\nNarSize: 1000\nReferences: ${refs.map((x) => `${h(x)}-${x}`).join(" ")}\n`,
      );
    };
    entry("a", []);
    entry("b", ["a", "b"]);
    entry("c", []);
    // a is the oldest, so it goes first, and b, which needs it, with it, although c is older than b.
    writeFileSync(join(cache, "nix-ci-cache", "entries"), `${h("a")} 100\n${h("b")} 300\n${h("c")} 200\n`);
    const r = run(`. .nix-ci-cache/env.sh && ${shell} .nix-ci-cache/save.sh`, { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    expect(cachedNames(cache)).toEqual(["c"]);
    expect(readdirSync(join(cache, "nar"))).toEqual(["c.nar"]);
    expect(lastSave(cache)).toMatchObject({ pruned: "2", paths: "1" });
    expect(readFileSync(join(cache, "nix-ci-cache", "entries"), "utf8")).toBe(`${h("c")} 200\n`);
  });
});

describe("save.sh under real conditions (real Nix)", () => {
  it("takes over a lock more than an hour old, and writes the summary to $GITHUB_STEP_SUMMARY", () => {
    requireNix();
    const dir = project("lock");
    const lock = join(dir, CACHE, "nix-ci-cache", "lock");
    expect(run(". .nix-ci-cache/env.sh", { cwd: dir }).status).toBe(0);
    // Another host's: its process cannot be asked, only the time in its owner line tells.
    const owner = `another-runner 4242 ${nowSeconds() - 61 * 60}`;
    holdLock(lock, owner);
    const summary = join(dirname(dir), "step summary.md");
    const sleep = countingSleep(dir);
    const r = run(".nix-ci-cache/save.sh", { cwd: dir, env: { ...sleep.env, GITHUB_STEP_SUMMARY: summary } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`removed a stale lock (${owner}): it is more than an hour old`);
    expect(r.stderr).not.toContain("waiting for another save");
    expect(sleep.sleeps()).toEqual([]);
    expect(existsSync(lock)).toBe(false);
    const md = readFileSync(summary, "utf8");
    expect(md).toMatch(
      /^### nix-ci-cache \(file mode, capture build-closure\)\n\n\| added \| pruned \| repaired \| cache size \| budget \| paths \| time \|\n\|---/,
    );
    expect(md).toMatch(/\| 0 paths, 0 B \| 0 paths, 0 B \| 0 \| 0 B \(0%\) \| 4\.0 GiB \| 0 \| \d+s \|/);
    // No shared cache in this config: where the new paths came from, without upstream.
    expect(r.stderr).toMatch(
      /^nix-ci-cache: the job's new paths: \d+ from the cache directory, \d+ from other substituters, \d+ built here$/m,
    );
    expect(md).toContain("| new paths from the cache directory | from other substituters | built here |\n|---|---|---|\n");
    expect(readFileSync(join(dir, CACHE, "nix-ci-cache", "saves"), "utf8")).toMatch(/ from_upstream=- /);
  });

  it("a lock without an owner line (its owner killed before writing it) is stale after an hour by the directory's age", () => {
    requireNix();
    const dir = project("lock-age");
    const lock = join(dir, CACHE, "nix-ci-cache", "lock");
    expect(run(". .nix-ci-cache/env.sh", { cwd: dir }).status).toBe(0);
    holdLock(lock, undefined, nowSeconds() - 61 * 60);
    const sleep = countingSleep(dir);
    const r = run(".nix-ci-cache/save.sh", { cwd: dir, env: sleep.env });
    expect(r.status, r.stderr).toBe(0);
    expect(sleep.sleeps()).toEqual([]);
    expect(r.stderr).toContain("removed a stale lock (owner unknown): it is more than an hour old");
  });

  it.each([
    ["its owner line", (lock: string) => holdLock(lock, `another-runner 4242 ${nowSeconds() - 59 * 60}`, 0)],
    ["the directory's age (no owner line)", (lock: string) => holdLock(lock, undefined, nowSeconds() - 59 * 60)],
  ])("a lock 59 minutes old by %s is another save's: save.sh waits for it, then saves", async (_, hold) => {
    requireNix();
    const tag = uniqueTag();
    const dir = project("lock-wait");
    const cache = join(dir, CACHE);
    const lock = join(cache, "nix-ci-cache", "lock");
    try {
      writeLeafGraph(dir, tag, "v1");
      expect(run(". .nix-ci-cache/env.sh && nix-build leaf.nix -o result", { cwd: dir }).status).toBe(0);
      hold(lock);
      // The other save ends as soon as this one says it waits.
      let released = false;
      const r = await runAsync(".nix-ci-cache/save.sh", {
        cwd: dir,
        onStderr: (stderr) => {
          if (!released && stderr.includes("waiting for another save into this cache to finish (")) {
            released = true;
            rmSync(lock, { recursive: true });
          }
        },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(released, r.stderr).toBe(true);
      expect(r.stderr).not.toContain("stale");
      expect(cachedNames(cache)).toEqual([`busybox-src-${tag}`, `leaf-v1-${tag}`, `lib-${tag}`, `toolchain-${tag}`]);
    } finally {
      dropResults(dir);
      deleteGraph(tag);
    }
  });

  it("waits at most 15 minutes for a live lock, then fails naming it and leaves the cache as it was (sleep emulated)", () => {
    requireNix();
    const dir = project("lock-timeout");
    const cache = join(dir, CACHE);
    const lock = join(cache, "nix-ci-cache", "lock");
    expect(run(". .nix-ci-cache/env.sh", { cwd: dir }).status).toBe(0);
    const owner = `another-runner 4242 ${nowSeconds() - 59 * 60}`;
    holdLock(lock, owner, 0);
    // 15 minutes of waiting in seconds of the test.
    const sleep = countingSleep(dir);
    const before = readdirSync(cache).sort();
    const r = run(".nix-ci-cache/save.sh", { cwd: dir, env: sleep.env });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toBe(
      `nix-ci-cache: save failed: the cache '${cache}' is locked by '${owner}' (another save) for more than 15 minutes; if no save is running, remove '${lock}'`,
    );
    const sleeps = sleep.sleeps();
    expect(sleeps).toHaveLength(900);
    expect(new Set(sleeps)).toEqual(new Set(["1"]));
    expect(readFileSync(join(lock, "owner"), "utf8")).toBe(`${owner}\n`);
    expect(readdirSync(cache).sort()).toEqual(before);
  });

  it("an entry whose reference left the cache goes, with all that refers to it; the next job rebuilds exactly those", async () => {
    await withGraphProject("refs-gone", {}, 6, ({ dir, tag, g }) => {
      const cache = join(dir, CACHE);
      const names = namesIn(tag);
      const build = `nix-build graph.nix ${graphBuildArgs(g)} -o result`;
      let r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(cache)).toEqual(names(["busybox-src", "p0", "p1", "p2", "p3", "p4", "p5", "toolchain"]));
      // p2 leaves the cache (a partial restore, a hand clean-up): p3 refers to it, p4
      // to p3, p5 to p4 and p2. Nothing in this job needs them.
      const p2 = narinfoOf(cache, `p2-${tag}`);
      rmSync(join(cache, /^URL: (.*)$/m.exec(readFileSync(p2, "utf8"))?.[1] as string));
      rmSync(p2);
      dropResults(dir);
      deleteGraph(tag);
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(cache)).toEqual(names(["busybox-src", "p0", "p1", "toolchain"]));
      expect(lastSave(cache)).toMatchObject({ repaired: "3", added: "0" });
      expectClosureComplete(cache);

      r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(4);
      expect(cachedNames(cache)).toEqual(names(["busybox-src", "p0", "p1", "p2", "p3", "p4", "p5", "toolchain"]));
      expectClosureComplete(cache);
    });
  });

  it("two saves into one cache directory at once: both complete, nothing lost, nothing corrupt", async () => {
    requireNix();
    const shared = join(mkdtempSync(join(tmpdir(), "ncc-shared-")), "shared cache $x");
    cleanup.push(() => removeDir(dirname(shared)));
    const tags = [uniqueTag(), uniqueTag()];
    const dirs = tags.map((_, i) => project(`conc${i}`, {}, shared));
    try {
      const graphs = dirs.map((d, i) => writeGraph(d, tags[i] as string, 6));
      const builds = dirs.map((d, i) =>
        run(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(graphs[i] as never)} -o result`, { cwd: d }),
      );
      for (const b of builds) expect(b.status, b.stderr).toBe(0);
      const saves = await Promise.all(dirs.map((d) => runAsync(".nix-ci-cache/save.sh", { cwd: d })));
      for (const s of saves) expect(s.status, s.stderr).toBe(0);
      expect(saves.map((s) => s.stderr).join("")).toMatch(/waiting for another save into this cache to finish/);
      const names = cachedNames(shared);
      for (const t of tags)
        expect(
          names.filter((n) => n.endsWith(t)),
          saves.map((s) => s.stderr).join("\n"),
        ).toHaveLength(8);
      expectClosureComplete(shared);
      expect(existsSync(join(shared, "nix-ci-cache", "lock"))).toBe(false);

      for (const d of dirs) dropResults(d);
      for (const t of tags) deleteGraph(t);
      for (const [i, d] of dirs.entries()) {
        const r = run(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(graphs[i] as never)} --no-out-link`, {
          cwd: d,
        });
        expect(r.status, r.stderr).toBe(0);
        expect(countBuilt(r.stderr)).toBe(0);
      }
    } finally {
      for (const d of dirs) dropResults(d);
      for (const t of tags) deleteGraph(t);
    }
  });

  it("a save killed halfway, a truncated NAR and a garbage narinfo: the build falls back, the next save repairs", async () => {
    await withGraphProject("damage", {}, 6, async ({ dir, tag, g }) => {
      const cache = join(dir, CACHE);
      const build = `nix-build graph.nix ${graphBuildArgs(g)} -o result`;
      let r = run(`. .nix-ci-cache/env.sh && ${build}`, { cwd: dir });
      expect(r.status, r.stderr).toBe(0);

      // Killed with SIGKILL as soon as the first NAR is written: no trap runs, the lock stays.
      const child = spawn("/bin/sh", ["-c", "exec .nix-ci-cache/save.sh"], { cwd: dir, env: cleanEnv(), detached: true });
      await killWhen(child, () => existsSync(join(cache, "nar")) && readdirSync(join(cache, "nar")).length > 0);
      writeFileSync(join(cache, "nar", "leftover.nar.zst.tmp.4242.1"), "partial");

      // Its process is gone: the lock is stale at once, not after a wait.
      const sleep = countingSleep(dir);
      r = run(".nix-ci-cache/save.sh", { cwd: dir, env: sleep.env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/removed a stale lock \([^ ]+ \d+ \d+\): its process \d+ is gone/);
      expect(sleep.sleeps()).toEqual([]);
      expectClosureComplete(cache);
      expect(cachedNames(cache)).toHaveLength(8);

      // Damage two entries.
      const p2 = readFileSync(narinfoOf(cache, `p2-${tag}`), "utf8");
      const nar = join(cache, /^URL: (.*)$/m.exec(p2)?.[1] as string);
      truncateSync(nar, Math.floor(statSync(nar).size / 2));
      writeFileSync(narinfoOf(cache, `p4-${tag}`), "\u0000garbage\nStorePath: nonsense\n");

      dropResults(dir);
      deleteGraph(tag);
      r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBeGreaterThan(0);
      expect(Number(lastSave(cache).repaired)).toBeGreaterThanOrEqual(2);
      expectClosureComplete(cache);
      expect(cachedNames(cache)).toHaveLength(8);

      dropResults(dir);
      deleteGraph(tag);
      r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
    });
  });
});

describe("save.sh when the job added nothing (real Nix)", () => {
  it("leaves the cache as it is, gives what the job used the job's time, and still finds and repairs damage", async () => {
    await withGraphProject("noop", {}, 6, async ({ dir, tag, g }) => {
      const cache = join(dir, CACHE);
      const all = namesIn(tag)(["busybox-src", "p0", "p1", "p2", "p3", "p4", "p5", "toolchain"]);
      const times = () =>
        readFileSync(join(cache, "nix-ci-cache", "entries"), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(" ")[1])
          .sort();
      const second = () => new Promise((res) => setTimeout(res, 1100));
      // The results stay, and so do their paths in the store: the next jobs add nothing.
      let r = job(dir, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(cache)).toEqual(all);
      const files = () =>
        readdirSync(cache)
          .concat(readdirSync(join(cache, "nar")))
          .sort();
      const before = files();
      const index = readFileSync(join(cache, "nix-ci-cache", "index"), "utf8");

      await second();
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      let save = lastSave(cache);
      expect(save).toMatchObject({ added: "0", pruned: "0", repaired: "0", paths: "8" });
      expect(files()).toEqual(before);
      expect(readFileSync(join(cache, "nix-ci-cache", "index"), "utf8")).toBe(index);
      // Every entry was used by this job (the results' build closure): its time, for the prune.
      expect(times()).toEqual(Array(8).fill(save.time));

      // A truncated NAR: the entry goes, with what refers to it, and is copied again.
      const narOf = (name: string) =>
        join(cache, /^URL: (.*)$/m.exec(readFileSync(narinfoOf(cache, `${name}-${tag}`), "utf8"))?.[1] as string);
      const p2 = narOf("p2");
      truncateSync(p2, Math.floor(statSync(p2).size / 2));
      await second();
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      save = lastSave(cache);
      expect(Number(save.repaired), r.stderr).toBeGreaterThanOrEqual(1);
      expect(Number(save.added)).toBeGreaterThanOrEqual(1);
      expect(cachedNames(cache)).toEqual(all);
      expectClosureComplete(cache);

      // A narinfo without its NAR.
      rmSync(narOf("p1"));
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      expect(Number(lastSave(cache).repaired), r.stderr).toBeGreaterThanOrEqual(1);
      expect(cachedNames(cache)).toEqual(all);
      expectClosureComplete(cache);

      // A reference gone: p0's narinfo, and its NAR left behind.
      rmSync(narinfoOf(cache, `p0-${tag}`));
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      expect(Number(lastSave(cache).repaired), r.stderr).toBeGreaterThanOrEqual(1);
      expect(cachedNames(cache)).toEqual(all);
      expectClosureComplete(cache);

      // A narinfo rewritten with garbage of the same size: the same files, with the same sizes.
      const p4 = narinfoOf(cache, `p4-${tag}`);
      writeFileSync(p4, "x".repeat(statSync(p4).size));
      r = job(dir, "true");
      expect(r.status, r.stderr).toBe(0);
      expect(Number(lastSave(cache).repaired), r.stderr).toBeGreaterThanOrEqual(1);
      expect(cachedNames(cache)).toEqual(all);
      expectClosureComplete(cache);
    });
  });
});

describe("save.sh after a warm job (real Nix)", () => {
  it("whose downloads all came from the cache: no copy and no query of the results' closure, the cache as it was, every entry used", async () => {
    await withGraphProject("warm-noop", {}, 3, async ({ dir, tag, g }) => {
      const cache = join(dir, CACHE);
      let r = job(dir, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r.status, r.stderr).toBe(0);
      const files = () =>
        readdirSync(cache)
          .concat(readdirSync(join(cache, "nar")))
          .sort();
      const before = files();
      // A fresh runner: nothing of the graph in the store, the cache restored as it was.
      dropResults(dir);
      deleteGraph(tag);
      await new Promise((res) => setTimeout(res, 1100));
      // The save's Nix calls, recorded.
      const bin = mkdtempSync(join(tmpdir(), "ncc-calls-"));
      const calls = join(bin, "calls");
      for (const tool of ["nix", "nix-store"]) {
        const real = run(`command -v ${tool}`).stdout.trim();
        writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >>'${calls}'\nexec ${real} "$@"\n`);
        chmodSync(join(bin, tool), 0o755);
      }
      r = run(
        `. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} -o result && PATH="$B:$PATH" .nix-ci-cache/save.sh`,
        { cwd: dir, env: cleanEnv({ B: bin }) },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
      expect(r.stderr).toMatch(/^copying path /m);
      const save = lastSave(cache);
      expect(save).toMatchObject({ added: "0", pruned: "0", repaired: "0" });
      expect(files()).toEqual(before);
      const recorded = existsSync(calls) ? readFileSync(calls, "utf8") : "";
      expect(recorded).not.toMatch(/ copy | -qR /);
      const times = readFileSync(join(cache, "nix-ci-cache", "entries"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[1]);
      expect(new Set(times)).toEqual(new Set([save.time]));
      rmSync(bin, { recursive: true, force: true });

      // The same results, and one path the cache lacks (a download, say): that one is saved.
      r = job(dir, `nix-instantiate --eval --read-write-mode -E 'builtins.toFile "extra-${tag}" "x"' >/dev/null`);
      expect(r.status, r.stderr).toBe(0);
      expect(lastSave(cache)).toMatchObject({ added: "1" });
      expect(cachedNames(cache)).toContain(`extra-${tag}`);
    });
  });
});

describe("save.sh prune in chroot mode (real Nix)", () => {
  it("over budget, Nix's GC keeps the latest results with their build closure; a warm run builds 0", async () => {
    requireNix();
    const tag = uniqueTag();
    const dir = makeProjectDir("chroot-gc");
    cleanup.push(() => removeDir(dirname(dir)));
    const store = join(dir, CACHE, "root", "nix", "store");
    writeRuntime(dir, runtimeContext("chroot"));
    writeLeafGraph(dir, tag, "v1");
    let r = job(dir, "nix-build leaf.nix -o result");
    expect(r.status, r.stderr).toBe(0);
    const size1 = Number(lastSave(join(dir, CACHE)).size);

    writeRuntime(dir, runtimeContext("chroot", CACHE, "zstd", { maxSize: String(size1 + 100_000) }));
    writeLeafGraph(dir, tag, "v2");
    r = job(dir, "nix-build leaf.nix -o result");
    expect(r.status, r.stderr).toBe(0);
    const save = lastSave(join(dir, CACHE));
    expect(Number(save.pruned), r.stderr).toBeGreaterThan(0);
    expect(Number(save.size)).toBeLessThanOrEqual(size1 + 100_000);
    const names = readdirSync(store);
    expect(names.some((n) => n.endsWith(`-leaf-v1-${tag}`))).toBe(false);
    expect(names.some((n) => n.endsWith(`-leaf-v2-${tag}`))).toBe(true);
    expect(names.some((n) => n.endsWith(`-toolchain-${tag}`))).toBe(true);

    r = job(dir, "nix-build leaf.nix -o result");
    expect(r.status, r.stderr).toBe(0);
    expect(countBuilt(r.stderr)).toBe(0);
    const stats = cacheStats(join(dir, CACHE));
    expect(stats).toMatchObject({ kind: "chroot" });
    expect(stats.kind === "chroot" && stats.entries).toBe(names.filter((n) => !n.startsWith(".") && !n.endsWith(".lock")).length);
    expect(stats.saves.map((s) => s.mode)).toEqual(["chroot", "chroot", "chroot"]);
  });
});

describe("save.sh with busybox sh and busybox's tools (as a stand-in for BSD/macOS tools)", () => {
  it("captures, prunes and serves a warm run", async () => {
    await withGraphProject("busybox", {}, 4, async ({ dir, tag, g }) => {
      const bin = join(dirname(dir), "busybox-bin");
      mkdirSync(bin);
      const tools =
        "awk sort find ls sed grep xargs tail head wc tr du mktemp cat mv rm mkdir date readlink uname sleep cp ln id kill";
      for (const t of tools.split(" ")) symlinkSync("/bin/busybox", join(bin, t));
      const env = cleanEnv({ PATH: `${bin}:${process.env.PATH}` });
      let r = run(
        `. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} -o result && busybox sh .nix-ci-cache/save.sh`,
        { cwd: dir, env },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/saved 6 new paths/);
      await new Promise((res) => setTimeout(res, 1100));
      // 1M cannot hold busybox twice (source and toolchain): with only the run-time
      // closure used by this save, the build-time paths, now older, go.
      writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { maxSize: "1M", capture: "runtime-closure" }));
      r = run(". .nix-ci-cache/env.sh && busybox sh .nix-ci-cache/save.sh", { cwd: dir, env });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/pruned 2 paths/);
      expect(cachedNames(join(dir, CACHE))).toEqual(g.packages.map((p) => `${p}-${tag}`).sort());
      expectClosureComplete(join(dir, CACHE));
      dropResults(dir);
      deleteGraph(tag);
      r = run(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} --no-out-link`, { cwd: dir, env });
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
    });
  });
});
