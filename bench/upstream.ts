// The shared cache behind the cache directory (docs/upstream.md), at the sizes users
// have, against nginx on loopback: what the push adds to a save, beside Nix's own
// upload of the same closure and the physical limit (tar | zstd -T0 of the same paths
// and one PUT of the archive); what it adds when the remote has it all already (the
// cost should follow what is new); and a second runner's warm start from the remote,
// beside the same from the cache directory and the limit (one GET, unpacked). Also
// what env.sh's probe costs with the remote up, and with one that never answers.
//   sh scripts/private-store.sh vite-node bench/upstream.ts   (npm run bench runs it)
// BENCH_SCALE_TINY=1: tiny graphs, for the test. Results: bench/results/upstream.json.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair } from "../src/keygen.js";
import type { UpstreamConfig } from "../src/model.js";
import { forgetJobMarks } from "../test/support/marks.js";
import { runtimeContext, writeRuntime } from "../test/support/render-runtime.js";
import { startHangingServer, startHttpCache } from "../test/support/servers.js";
import { sh } from "./common.js";
import { addPaths, closure, deletePaths, type Graph, graphs, startJob, writeContent } from "./graphs.js";

const CACHE = ".nix-ci-cache/cache";
const TINY = Boolean(process.env.BENCH_SCALE_TINY);
const PROBES = TINY ? 2 : 5;
const pair = generateKeyPair("bench-upstream-1");
const KEY = { NIX_CI_CACHE_SIGNING_KEY: pair.secret };

export interface UpstreamRow {
  graph: string;
  what: string;
  paths: number;
  /** Seconds: a save without upstream, the same save with the push, and the push again when the remote has it all. */
  save: number;
  saveAndPush: number;
  saveAndPushHad: number;
  /** Nix's own upload of the closure to an empty remote, and the limit: tar | zstd -T0 and one PUT. */
  nixCopy: number;
  tarZstdPut: number;
  /** Narinfos the push uploaded (PUT), and those the push to the full remote uploaded. */
  puts: number;
  putsHad: number;
  /** A new runner's warm start (env.sh, then nix-store -r of the results) from the remote, from the cache directory, and the limit (one GET, unpacked). */
  warmRemote: number;
  warmLocal: number;
  getUnpack: number;
}

export interface ProbeRow {
  /** Seconds of ". env.sh", median of PROBES: without upstream, with one that answers, with one that never answers (upstreamTimeout 2). */
  none: number;
  up: number;
  hanging: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function project(work: string, name: string, upstream: UpstreamConfig[], timeout = 10): string {
  const dir = join(work, name);
  mkdirSync(join(dir, CACHE), { recursive: true });
  writeRuntime(
    dir,
    runtimeContext("file", CACHE, "zstd", { maxSize: "1T", publicKey: pair.public, upstream, upstreamTimeout: timeout }),
  );
  return dir;
}

function save(dir: string, top: string): number {
  rmSync(join(dir, "result"), { force: true });
  symlinkSync(top, join(dir, "result"));
  startJob(dir);
  return sh(".nix-ci-cache/save.sh", dir, KEY).seconds;
}

async function measure(work: string, g: Graph, tag: string): Promise<UpstreamRow> {
  const content = join(work, `${g.name}-content`);
  writeContent(content, g, tag);
  const plain = project(work, `${g.name}-plain`, []);
  startJob(plain);
  const top = addPaths(plain, content, g, tag);
  const paths = closure(top);
  const list = join(work, `${g.name}-closure`);
  writeFileSync(list, `${paths.join("\n")}\n`);

  const remote = await startHttpCache(join(work, `${g.name}-nginx`));
  const limit = await startHttpCache(join(work, `${g.name}-nginx-limit`));
  const floor = await startHttpCache(join(work, `${g.name}-nginx-floor`));
  try {
    // The limit first: it also reads every file once, so that no save below pays for a
    // cold page cache and the others not.
    const tarZstdPut = sh(`tar -cf - -T "$L" 2>/dev/null | zstd -q -T0 | curl -sfS -T - "$U/closure.tar.zst"`, work, {
      L: list,
      U: limit.url,
    }).seconds;
    const saveOnly = save(plain, top);
    const pushing = project(work, `${g.name}-push`, [{ url: remote.url }]);
    const saveAndPush = save(pushing, top);
    const puts = remote.requests().filter((r) => r.method === "PUT" && r.path.endsWith(".narinfo")).length;
    // Another project, its directory empty, the same paths: all gained, the remote has them.
    const again = project(work, `${g.name}-again`, [{ url: remote.url }]);
    const saveAndPushHad = save(again, top);
    const putsHad = remote.requests().filter((r) => r.method === "PUT" && r.path.endsWith(".narinfo")).length - puts;

    const key = join(work, "key");
    writeFileSync(key, pair.secret);
    const nixCopy = sh(`xargs nix copy --to "$U?compression=zstd&secret-key=$K" <"$L"`, work, {
      U: floor.url,
      K: key,
      L: list,
    }).seconds;

    // A new runner: none of the paths, an empty directory, the remote.
    deletePaths(paths);
    const runnerB = project(work, `${g.name}-runner-b`, [{ url: remote.url }]);
    const warm = (dir: string) => {
      forgetJobMarks();
      rmSync(join(dir, ".nix-ci-cache", "state"), { recursive: true, force: true });
      return sh(`. .nix-ci-cache/env.sh && nix-store -r "$T" >/dev/null`, dir, { T: top }).seconds;
    };
    const warmRemote = warm(runnerB);
    deletePaths(paths);
    const warmLocal = warm(pushing);
    const unpacked = join(work, `${g.name}-unpacked`);
    mkdirSync(unpacked);
    const getUnpack = sh(`curl -sfS "$U/closure.tar.zst" | zstd -q -d | tar -C "$D" -xf -`, work, {
      U: limit.url,
      D: unpacked,
    }).seconds;
    return {
      graph: g.name,
      what: g.what,
      paths: paths.length,
      save: saveOnly,
      saveAndPush,
      saveAndPushHad,
      nixCopy,
      tarZstdPut,
      puts,
      putsHad,
      warmRemote,
      warmLocal,
      getUnpack,
    };
  } finally {
    await Promise.all([remote.stop(), limit.stop(), floor.stop()]);
  }
}

async function probes(work: string): Promise<ProbeRow> {
  const remote = await startHttpCache(join(work, "probe-nginx"));
  const hang = await startHangingServer();
  try {
    const time = (dir: string) =>
      median(
        Array.from({ length: PROBES }, () => {
          rmSync(join(dir, ".nix-ci-cache", "state"), { recursive: true, force: true });
          return sh(". .nix-ci-cache/env.sh", dir).seconds;
        }),
      );
    return {
      none: time(project(work, "probe-none", [])),
      up: time(project(work, "probe-up", [{ url: remote.url }])),
      hanging: time(project(work, "probe-hang", [{ url: hang.url }], 2)),
    };
  } finally {
    await Promise.all([remote.stop(), hang.stop()]);
  }
}

const sec = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`;

export function tables(rows: UpstreamRow[], probe: ProbeRow, nix: string): string[] {
  return [
    `Upstream (nginx on loopback), ${nix}, seconds:`,
    "",
    "| graph | paths | save | save + push | push alone | Nix's upload | tar \\| zstd + PUT | push ÷ limit | save + push, remote had all | uploads then |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) => {
      const push = Math.max(r.saveAndPush - r.save, 0);
      return `| ${r.what} | ${r.paths} | ${sec(r.save)} | ${sec(r.saveAndPush)} | ${sec(push)} | ${sec(r.nixCopy)} | ${sec(r.tarZstdPut)} | ${x(push, r.tarZstdPut)} | ${sec(r.saveAndPushHad)} | ${r.putsHad} of ${r.puts} |`;
    }),
    "",
    "| graph | a new runner from the remote | from the cache directory | GET + unpack | remote ÷ limit |",
    "|---|---|---|---|---|",
    ...rows.map(
      (r) => `| ${r.what} | ${sec(r.warmRemote)} | ${sec(r.warmLocal)} | ${sec(r.getUnpack)} | ${x(r.warmRemote, r.getUnpack)} |`,
    ),
    "",
    `env.sh (median of ${PROBES}): ${sec(probe.none)} s without upstream, ${sec(probe.up)} s with one that answers, ${sec(probe.hanging)} s with one that never answers (upstreamTimeout 2).`,
  ];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error("bench/upstream.ts needs root: run it as `sh scripts/private-store.sh vite-node bench/upstream.ts`");
  const chosen = graphs().filter((g) => (TINY ? g.name === "tiny" : g.name === "small-1500" || g.name === "real"));
  const work = mkdtempSync(join(process.env.TMPDIR ?? "/var/tmp", "ncc-upstream-"));
  const tag = `u${Date.now().toString(36)}`;
  const nix = sh("nix --version", "/").stdout.trim();
  const rows: UpstreamRow[] = [];
  let probe: ProbeRow;
  try {
    for (const g of chosen) rows.push(await measure(work, g, tag));
    probe = await probes(work);
  } finally {
    sh(`chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"`, "/", { W: work });
  }
  for (const l of tables(rows, probe, nix)) console.log(l);
  const out = process.env.BENCH_SCALE_OUT ?? join(import.meta.dirname, "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "upstream.json"), `${JSON.stringify({ nix, date: new Date().toISOString(), rows, probe }, null, 2)}\n`);
}

await main();
