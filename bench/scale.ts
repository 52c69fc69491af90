// The scale benchmark (issue 13): what a job pays at the sizes users have, from 100
// paths to 10,000 and from 10 MiB to 3 GiB, beside the physical limit (tar | zstd of
// the same bytes, and its unpack) and the peers' approaches reproduced on the same
// graph. Needs root and a store of its own: `npm run bench` runs it through
// scripts/private-store.sh, which mounts a scratch store at /nix.
//
// Each graph's paths are made with `nix-store --add` (a directory per path: half random
// bytes, half text) plus a `top` path that refers to all of them, or, for the deep
// chain, `builtins.toFile` paths that each refer to the one before. Per graph:
//   job 1 (cold): env.sh, the paths appear, save.sh (timed; peak memory of its
//     largest process), then tar | zstd -T0 of the same closure;
//   job 2 (nothing new): env.sh, save.sh (timed): the no-op save;
//   prune: a job that used nothing, with the budget at 90 % of the cache (timed; the
//     cache is then checked closure-complete), and the cache put back;
//   peers: cache-nix-action's archive of the whole /nix (tar | zstd -T0),
//     SwornSystems/nix-cache-action's one archive of uncompressed NARs
//     (nix-store --export), magic-nix-cache's one `nix copy` per path (timed on a
//     sample and scaled, with its 200 uploads a minute);
//   job 3 (warm): the paths deleted, env.sh, `nix-store -r` of top substitutes the
//     whole closure from the cache (timed), against unpacking the tar.zst and
//     against `nix-store --import` of the export; then that job's save (timed), which
//     has nothing new to add.
// For the graphs marked end-to-end, the whole job per archiver (GitHub's tar | zstd,
// GitLab's zip, CircleCI's tar | gzip) with NARs zstd and uncompressed:
// restore + env.sh + warm + save + archive.
//
// Last, the store-size axis: a small job in the store as it is, and again once the
// store holds BENCH_SCALE_STORE valid paths (default 50,000; 0 skips it).
//
// BENCH_SCALE_GRAPHS: comma-separated graph names (default: all);
// BENCH_SCALE_WARM_TIMEOUT: seconds before a warm run is stopped (default 180); BENCH_SCALE_TINY=1
// shrinks every graph to a few paths of a few KiB (the test's run);
// BENCH_SCALE_OUT: where scale.json and scale.svg go (default: bench/results, which
// BENCHMARKS.md and the README show).
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { Config } from "../src/model.js";
import { forgetJobMarks } from "../test/support/marks.js";
import { runtimeContext, writeRuntime } from "../test/support/render-runtime.js";
import { duBytes, NIX_CONFIG, savedSize, sh, type Timed } from "./common.js";
import { addPaths, closure, deletePaths, type Graph, graphs, startJob, writeContent } from "./graphs.js";
import { plot } from "./plot.js";

const TINY = Boolean(process.env.BENCH_SCALE_TINY);
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const CACHE = ".nix-ci-cache/cache";
/** Seconds a warm run may take before it is stopped (BENCH_SCALE_WARM_TIMEOUT). */
const WARM_TIMEOUT = Number(process.env.BENCH_SCALE_WARM_TIMEOUT ?? 180);
/** magic-nix-cache's upload limit, as the issue gives it: 200 a minute. */
const MAGIC_PER_MINUTE = 200;

/** Seconds and the peak resident memory of the largest process it ran (KiB). */
function shMemory(cmd: string, cwd: string): Timed & { maxRssKiB: number } {
  const t = sh(
    `python3 -c 'import resource,subprocess,sys; s=subprocess.call(["/bin/sh","-c",sys.argv[1]]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(s)' "$CMD"`,
    cwd,
    { CMD: cmd },
  );
  const maxRssKiB = Number(t.stderr.trim().split("\n").at(-1));
  return { ...t, maxRssKiB };
}

function config(compression: "zstd" | "none"): Config {
  return runtimeContext("file", CACHE, compression, { maxSize: "1T" });
}

/** Narinfos whose references are not all in the cache: 0 when it is closure-complete. */
function openReferences(cache: string): number {
  const names = new Set(readdirSync(cache).filter((n) => n.endsWith(".narinfo")));
  let open = 0;
  for (const n of names) {
    const refs = /^References: (.*)$/m.exec(readFileSync(join(cache, n), "utf8"))?.[1] ?? "";
    for (const r of refs.split(" ").filter(Boolean)) if (!names.has(`${r.slice(0, 32)}.narinfo`)) open++;
  }
  return open;
}

const ARCHIVERS = {
  // actions/cache: tar --use-compress-program 'zstdmt --long=30' on Linux
  // (actions/toolkit, packages/cache/src/internal/tar.ts).
  "GitHub (tar | zstd)": {
    pack: `tar -C "$D" -cf - . | zstd -q -T0 --long=30 >"$A"`,
    unpack: `zstd -q -d --long=30 -c "$A" | tar -C "$D" -xf -`,
  },
  // GitLab Runner's cache archive is a zip (cache.zip), deflated unless the fastzip
  // feature flag is on; its level and fastzip are not reproduced here.
  "GitLab (zip)": {
    pack: `cd "$D" && zip -q -r "$A" .`,
    unpack: `cd "$D" && unzip -q "$A"`,
  },
  // CircleCI's save_cache: a gzip-compressed tar, as its documentation describes; not
  // checked against a real runner.
  "CircleCI (tar | gzip)": {
    pack: `tar -C "$D" -czf "$A" .`,
    unpack: `tar -C "$D" -xzf "$A"`,
  },
} as const;

export interface Row {
  graph: string;
  what: string;
  /** A row of the scaling table (100 / 1,000 / 10,000 paths): the plot's lines. */
  scaling: boolean;
  paths: number;
  bytes: number;
  cacheBytes: number;
  save: number;
  saveMaxRssKiB: number;
  tarZstd: number;
  tarZstdBytes: number;
  noopSave: number[];
  prune: number;
  pruned: number;
  pruneOpenRefs: number;
  warm: number;
  warmPaths: number;
  warmTimedOut: boolean;
  /** The save after the warm run (0 when the warm run was stopped). */
  warmSave: number;
  unpack: number;
  importExport: number;
  nixArchive: number;
  nixArchiveBytes: number;
  exportTime: number;
  exportBytes: number;
  magicPerPath: number;
  magicSample: number;
  endToEnd?: EndToEnd[];
}

export interface EndToEnd {
  archiver: string;
  compression: string;
  restore: number;
  env: number;
  warm: number;
  save: number;
  archive: number;
  archiveBytes: number;
}

function measure(work: string, g: Graph, tag: string): Row {
  const project = join(work, g.name);
  const content = join(work, `${g.name}-content`);
  mkdirSync(join(project, CACHE), { recursive: true });
  writeRuntime(project, config("zstd"));
  if (!g.chain) writeContent(content, g, tag);

  // Job 1: the paths appear, and the save caches them.
  startJob(project);
  const top = addPaths(project, content, g, tag);
  symlinkSync(top, join(project, "result"));
  const paths = closure(top);
  const save = shMemory(".nix-ci-cache/save.sh", project);
  const list = join(work, "closure");
  writeFileSync(list, `${paths.join("\n")}\n`);
  const tarZstd = sh(`tar -cf - -T "$L" 2>/dev/null | zstd -q -T0 >"$W/closure.tar.zst"`, work, { L: list, W: work });
  const tarZstdBytes = statSync(join(work, "closure.tar.zst")).size;
  // NAR bytes, summed here: xargs may split a long list into several calls.
  const bytes = sh(`xargs nix-store -q --size <"$L"`, "/", { L: list })
    .stdout.trim()
    .split("\n")
    .reduce((a, b) => a + Number(b), 0);
  const cacheBytes = duBytes(join(project, CACHE));

  // Job 2, twice: nothing new.
  const noopSave: number[] = [];
  for (let i = 0; i < 2; i++) {
    startJob(project);
    noopSave.push(sh(".nix-ci-cache/save.sh", project).seconds);
  }

  // Prune: a job whose results need none of the cache, with a budget of 90 % of it.
  const backup = join(work, "cache-backup");
  sh(`cp -a "$C" "$B"`, "/", { C: join(project, CACHE), B: backup });
  const budget = Math.floor(savedSize(join(project, CACHE)) * 0.9);
  const saveSh = readFileSync(join(project, ".nix-ci-cache", "save.sh"), "utf8");
  if (!/^budget=\d+$/m.test(saveSh)) throw new Error("save.sh has no budget= line");
  writeFileSync(join(project, ".nix-ci-cache", "save-pruning.sh"), saveSh.replace(/^budget=\d+$/m, `budget=${budget}`));
  chmodSync(join(project, ".nix-ci-cache", "save-pruning.sh"), 0o755);
  rmSync(join(project, "result"));
  // save.sh never drops what was used in its own second: a tiny graph is saved that fast.
  sh("sleep 1", "/");
  startJob(project);
  const before = readdirSync(join(project, CACHE)).filter((n) => n.endsWith(".narinfo")).length;
  const prune = sh(".nix-ci-cache/save-pruning.sh", project);
  const after = readdirSync(join(project, CACHE)).filter((n) => n.endsWith(".narinfo")).length;
  const pruneOpenRefs = openReferences(join(project, CACHE));
  rmSync(join(project, ".nix-ci-cache", "save-pruning.sh"));
  rmSync(join(project, CACHE), { recursive: true });
  sh(`mv "$B" "$C"`, "/", { C: join(project, CACHE), B: backup });
  symlinkSync(top, join(project, "result"));

  // The peers, on the same store.
  const nixArchive = sh(`tar -C / -cf - nix 2>/dev/null | zstd -q -T0 >"$W/nix.tar.zst"`, work, { W: work });
  const nixArchiveBytes = statSync(join(work, "nix.tar.zst")).size;
  rmSync(join(work, "nix.tar.zst"));
  // One call, one archive: --import reads a single export's paths and stops at its end.
  const exported = sh(`nix-store --export $(cat "$L") >"$W/export.nar"`, work, { L: list, W: work });
  const exportBytes = statSync(join(work, "export.nar")).size;
  const magicSample = Math.min(paths.length, TINY ? paths.length : 50);
  const sample = join(work, "sample");
  writeFileSync(sample, `${paths.slice(0, magicSample).join("\n")}\n`);
  const magic = sh(`while IFS= read -r p; do nix copy --to "file://$W/magic?compression=zstd" "$p" || exit; done <"$S"`, work, {
    W: work,
    S: sample,
  });
  rmSync(join(work, "magic"), { recursive: true, force: true });

  // Job 3: a fresh store, warm from the cache.
  rmSync(join(project, "result"));
  deletePaths(paths);
  forgetJobMarks();
  rmSync(join(project, ".nix-ci-cache", "state"), { recursive: true, force: true });
  // Bounded: Nix 2.8 substitutes tens of thousands of paths in one call more than
  // linearly slowly (docs/plans/speed-at-scale.md); the table then says "> N s".
  const warm = sh(
    `. .nix-ci-cache/env.sh && { timeout "$S" nix-store -r "$T" || { [ $? = 124 ] && echo timed-out; }; }`,
    project,
    { T: top, S: String(WARM_TIMEOUT) },
  );
  const warmTimedOut = warm.stdout.includes("timed-out");
  const warmPaths = (warm.stderr.match(/^copying path /gm) ?? []).length;
  if (!warmTimedOut && paths.some((p) => !existsSync(p))) throw new Error(`${g.name}: the warm run left paths out`);
  // The warm job's save: its downloads all came from the cache, and its results are the last save's.
  let warmSave = 0;
  if (!warmTimedOut) {
    symlinkSync(top, join(project, "result"));
    warmSave = sh(".nix-ci-cache/save.sh", project).seconds;
    rmSync(join(project, "result"));
  }
  forgetJobMarks();
  deletePaths(paths);
  const unpack = join(work, "unpack");
  mkdirSync(unpack);
  const unpacked = sh(`zstd -q -dc closure.tar.zst | tar -C "$U" -xf -`, work, { U: unpack });
  sh(`chmod -R u+w "$U" && rm -rf "$U"`, "/", { U: unpack });
  const imported = sh(`nix-store --import <export.nar >/dev/null`, work);
  rmSync(join(work, "export.nar"));
  rmSync(join(work, "closure.tar.zst"));
  symlinkSync(top, join(project, "result"));

  const row: Row = {
    graph: g.name,
    what: g.what,
    scaling: Boolean(g.scaling),
    paths: paths.length,
    bytes,
    cacheBytes,
    save: save.seconds,
    saveMaxRssKiB: save.maxRssKiB,
    tarZstd: tarZstd.seconds,
    tarZstdBytes,
    noopSave,
    prune: prune.seconds,
    pruned: before - after,
    pruneOpenRefs,
    warm: warm.seconds,
    warmPaths,
    warmTimedOut,
    warmSave,
    unpack: unpacked.seconds,
    importExport: imported.seconds,
    nixArchive: nixArchive.seconds,
    nixArchiveBytes,
    exportTime: exported.seconds,
    exportBytes,
    magicPerPath: magic.seconds / magicSample,
    magicSample,
  };
  if (g.endToEnd) row.endToEnd = endToEnd(work, g, top, paths, project);
  deletePaths([top, ...paths.filter((p) => p !== top)]);
  rmSync(project, { recursive: true, force: true });
  rmSync(content, { recursive: true, force: true });
  return row;
}

/** The whole job per archiver and NAR compression: restore, env.sh, warm, save, archive. */
function endToEnd(work: string, g: Graph, top: string, paths: string[], zstdProject: string): EndToEnd[] {
  const rows: EndToEnd[] = [];
  for (const compression of ["zstd", "none"] as const) {
    let project = zstdProject;
    if (compression === "none") {
      project = join(work, `${g.name}-none`);
      mkdirSync(join(project, CACHE), { recursive: true });
      writeRuntime(project, config("none"));
      startJob(project);
      symlinkSync(top, join(project, "result"));
      // The paths are in the store (job 3 left them): this save copies them all.
      sh(".nix-ci-cache/save.sh", project);
    }
    for (const [archiver, { pack, unpack }] of Object.entries(ARCHIVERS)) {
      const archive = join(work, "archive.bin"); // zip adds .zip to a name without a dot
      rmSync(archive, { force: true });
      const packed = sh(pack, "/", { D: join(project, CACHE), A: archive });
      const archiveBytes = statSync(archive).size;
      // The next job: the cache directory restored into a fresh checkout, a fresh store.
      const next = join(work, `${g.name}-next`);
      rmSync(next, { recursive: true, force: true });
      mkdirSync(join(next, CACHE), { recursive: true });
      writeRuntime(next, config(compression));
      const restored = sh(unpack, "/", { D: join(next, CACHE), A: archive });
      deletePaths(paths);
      forgetJobMarks();
      rmSync(join(next, ".nix-ci-cache", "state"), { recursive: true, force: true });
      const env = sh(". .nix-ci-cache/env.sh", next);
      // Each step's shell sources env.sh; in the job's later steps it only sets the settings.
      const warm = sh(`. .nix-ci-cache/env.sh && nix-store -r "$T"`, next, { T: top });
      symlinkSync(top, join(next, "result"));
      const save = sh(".nix-ci-cache/save.sh", next);
      rows.push({
        archiver,
        compression,
        restore: restored.seconds,
        env: env.seconds,
        warm: warm.seconds,
        save: save.seconds,
        archive: packed.seconds,
        archiveBytes,
      });
      rmSync(next, { recursive: true, force: true });
      rmSync(archive, { force: true });
    }
    if (compression === "none") rmSync(project, { recursive: true, force: true });
  }
  return rows;
}

const sec = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const size = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);
const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`;

export function tables(rows: Row[], nix: string): string[] {
  const out: string[] = [];
  out.push(`${nix}; seconds, one run. "×" is against the limit in the same row.`);
  out.push("");
  out.push("### Save, no-op save, prune, memory");
  out.push("");
  out.push(
    "| graph | paths | store bytes | cache | save (ours) | tar \\| zstd -T0 (limit) | ours ÷ limit | no-op save | prune to 90 % | save's peak memory |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    out.push(
      `| ${r.what} | ${r.paths} | ${size(r.bytes)} | ${size(r.cacheBytes)} | ${sec(r.save)} | ${sec(r.tarZstd)} | ${x(r.save, r.tarZstd)} | ${r.noopSave.map(sec).join(", ")} | ${sec(r.prune)} (${r.pruned} dropped, ${r.pruneOpenRefs} open references) | ${(r.saveMaxRssKiB / 1024).toFixed(0)} MiB |`,
    );
  }
  out.push("");
  out.push("### Warm run: the whole closure from the cache into an empty store");
  out.push("");
  out.push(
    "| graph | paths substituted | warm (ours: `. env.sh` + `nix-store -r`) | unpack of tar.zst (limit) | ours ÷ limit | `nix-store --import` of one export | our save after it (nothing new) |",
  );
  out.push("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const warm = r.warmTimedOut ? `> ${WARM_TIMEOUT} (stopped)` : sec(r.warm);
    const ratio = r.warmTimedOut ? `> ${x(WARM_TIMEOUT, r.unpack)}` : x(r.warm, r.unpack);
    const save = r.warmTimedOut ? "—" : sec(r.warmSave);
    out.push(`| ${r.what} | ${r.warmPaths} | ${warm} | ${sec(r.unpack)} | ${ratio} | ${sec(r.importExport)} | ${save} |`);
  }
  out.push("");
  out.push("### The peers' approaches on the same graph (save side)");
  out.push("");
  out.push(
    "| graph | ours | cache-nix-action: tar \\| zstd of /nix | SwornSystems: one archive of uncompressed NARs | magic-nix-cache: `nix copy` per path | its 200 uploads a minute |",
  );
  out.push("|---|---|---|---|---|---|");
  for (const r of rows) {
    const magic = r.magicPerPath * r.paths;
    const floor = (r.paths / MAGIC_PER_MINUTE) * 60;
    out.push(
      `| ${r.what} | ${sec(r.save)}, ${size(r.cacheBytes)} | ${sec(r.nixArchive)}, ${size(r.nixArchiveBytes)} | ${sec(r.exportTime)}, ${size(r.exportBytes)} | ${sec(magic)} (${r.magicSample} timed, scaled) | ≥ ${sec(Math.max(magic, floor))} |`,
    );
  }
  const e2e = rows.filter((r) => r.endToEnd);
  if (e2e.length) {
    out.push("");
    out.push("### The whole job per archiver: restore + env.sh + warm + save + archive");
    out.push("");
    out.push("| graph | archiver | NARs | restore | env.sh | warm | save | archive | total | archive size |");
    out.push("|---|---|---|---|---|---|---|---|---|---|");
    for (const r of e2e) {
      for (const e of r.endToEnd ?? []) {
        const total = e.restore + e.env + e.warm + e.save + e.archive;
        out.push(
          `| ${r.what} | ${e.archiver.replace("|", "\\|")} | ${e.compression} | ${sec(e.restore)} | ${sec(e.env)} | ${sec(e.warm)} | ${sec(e.save)} | ${sec(e.archive)} | **${sec(total)}** | ${size(e.archiveBytes)} |`,
        );
      }
    }
  }
  return out;
}

export interface StoreRow {
  validPaths: number;
  env: number[];
  save: number[];
  noopSave: number[];
}

/**
 * The store-size axis: the same small job (100 new paths of 16 KiB) in a store of the
 * base size and again after filling it (one evaluation of toFile paths), three times
 * each: what env.sh and save.sh pay for the paths of the store that are not the job's.
 */
function storeAxis(work: string, tag: string, sizes: number[]): StoreRow[] {
  const rows: StoreRow[] = [];
  for (const target of sizes) {
    const have = readdirSync("/nix/store").length;
    if (target > have) {
      const expr = `builtins.deepSeq (builtins.genList (i: builtins.toFile "filler-${tag}-\${toString i}" (toString i)) ${target - have}) 0`;
      sh(`nix-instantiate --read-write-mode --eval --expr "$E" >/dev/null`, "/", { E: expr });
    }
    const row: StoreRow = { validPaths: readdirSync("/nix/store").length, env: [], save: [], noopSave: [] };
    for (let i = 0; i < 3; i++) {
      const g: Graph = { name: "store-axis", what: "100 paths of 16 KiB", sizes: new Array(TINY ? 3 : 100).fill(16 * KiB) };
      const t = `${tag}v${target}r${i}`;
      const project = join(work, `axis-${t}`);
      const content = join(work, `axis-${t}-content`);
      mkdirSync(join(project, CACHE), { recursive: true });
      writeRuntime(project, config("zstd"));
      writeContent(content, g, t);
      forgetJobMarks();
      rmSync(join(project, ".nix-ci-cache", "state"), { recursive: true, force: true });
      row.env.push(sh(". .nix-ci-cache/env.sh", project).seconds);
      const top = addPaths(project, content, g, t);
      symlinkSync(top, join(project, "result"));
      row.save.push(sh(".nix-ci-cache/save.sh", project).seconds);
      startJob(project);
      row.noopSave.push(sh(".nix-ci-cache/save.sh", project).seconds);
      rmSync(join(project, "result"));
      deletePaths(closure(top));
      rmSync(project, { recursive: true, force: true });
      rmSync(content, { recursive: true, force: true });
    }
    rows.push(row);
  }
  return rows;
}

export function storeTable(rows: StoreRow[]): string[] {
  const range = (xs: number[]) => `${sec(Math.min(...xs))}–${sec(Math.max(...xs))}`;
  return [
    "### Store size: the same job (100 new paths of 16 KiB) in a small and a large store",
    "",
    "| paths in the store | env.sh | save | no-op save |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.validPaths} | ${range(r.env)} | ${range(r.save)} | ${range(r.noopSave)} |`),
  ];
}

function main(): void {
  if (process.getuid?.() !== 0)
    throw new Error("bench/scale.ts needs root: run it as `sh scripts/private-store.sh vite-node bench/scale.ts`");
  const only = process.env.BENCH_SCALE_GRAPHS?.split(",");
  const chosen = graphs().filter((g) => !only || only.includes(g.name));
  const work = mkdtempSync(join(process.env.TMPDIR ?? "/var/tmp", "ncc-scale-"));
  const tag = `s${Date.now().toString(36)}`;
  const nix = sh("nix --version", "/").stdout.trim();
  const rows: Row[] = [];
  let store: StoreRow[] = [];
  try {
    for (const g of chosen) {
      const t0 = performance.now();
      rows.push(measure(work, g, tag));
      console.error(`scale: ${g.name} measured in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    // Last: it fills the store for good (this store is the run's own).
    const have = readdirSync("/nix/store").length;
    const big = Number(process.env.BENCH_SCALE_STORE ?? (TINY ? have + 100 : 50000));
    if (big > 0) store = storeAxis(work, tag, [have, big]);
  } finally {
    sh(`chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"`, "/", { W: work });
  }
  for (const l of [...tables(rows, nix), "", ...storeTable(store)]) console.log(l);
  const out = process.env.BENCH_SCALE_OUT ?? join(import.meta.dirname, "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "scale.json"), `${JSON.stringify({ nix, date: new Date().toISOString(), rows, store }, null, 2)}\n`);
  writeFileSync(join(out, "scale.svg"), plot(rows.filter((r) => r.paths > 0)));
}

if (!process.env.BENCH_NO_MAIN) main();
