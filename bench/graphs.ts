// The graphs the benchmarks measure (bench/scale.ts, bench/upstream.ts): their sizes,
// their contents on disk, the paths they put in the store, and a job's start.
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { forgetJobMarks } from "../test/support/marks.js";
import { NIX_CONFIG, sh } from "./common.js";

const TINY = Boolean(process.env.BENCH_SCALE_TINY);
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface Graph {
  name: string;
  what: string;
  /** Bytes of each path's content. */
  sizes: number[];
  /** Each path refers to the one before (toFile), instead of only top referring to all. */
  chain?: boolean;
  endToEnd?: boolean;
  /** A row of the scaling table. */
  scaling?: boolean;
}

/** A deterministic generator, so that every run measures the same graph. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n sizes from a log-normal (most small, a few large), within [lo, hi], adding up to about total. */
export function logNormal(n: number, total: number, lo: number, hi: number, seed = 13): number[] {
  const next = random(seed);
  const raw = Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    return Math.exp(2 * z);
  });
  let scale = total / raw.reduce((a, b) => a + b, 0);
  let sizes = raw;
  for (let i = 0; i < 20; i++) {
    sizes = raw.map((x) => Math.round(Math.min(hi, Math.max(lo, x * scale))));
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - total) < total * 0.01) break;
    scale *= total / sum;
  }
  return sizes;
}

export function graphs(): Graph[] {
  if (TINY) {
    return [
      { name: "tiny", what: "6 paths of 1-64 KiB", sizes: logNormal(6, 100 * KiB, KiB, 64 * KiB), scaling: true, endToEnd: true },
      { name: "tiny-chain", what: "4 paths in a chain", sizes: [4, 4, 4, 4].map((k) => k * KiB), chain: true, scaling: true },
    ];
  }
  return [
    { name: "100", what: "100 paths, 10 MiB", sizes: logNormal(100, 10 * MiB, KiB, 4 * MiB), scaling: true },
    { name: "1000", what: "1,000 paths, 1 GiB", sizes: logNormal(1000, GiB, KiB, 200 * MiB), scaling: true },
    { name: "10000", what: "10,000 paths, 3 GiB", sizes: logNormal(10000, 3 * GiB, KiB, 200 * MiB), scaling: true },
    { name: "small-1500", what: "1,500 paths of 16 KiB", sizes: new Array(1500).fill(16 * KiB), endToEnd: true },
    { name: "small-10000", what: "10,000 paths of 16 KiB", sizes: new Array(10000).fill(16 * KiB) },
    {
      name: "real",
      what: "1,000 paths, log-normal 1 KiB-200 MiB, 1.5 GiB",
      sizes: logNormal(1000, 1.5 * GiB, KiB, 200 * MiB, 7),
      endToEnd: true,
    },
    { name: "two-large", what: "2 paths of 1 GiB", sizes: [GiB, GiB] },
    { name: "chain", what: "80 paths of 1 MiB in a chain", sizes: new Array(80).fill(MiB), chain: true },
  ];
}

/** Each path's content as a directory: half random bytes, half text. */
export function writeContent(dir: string, g: Graph, tag: string): void {
  mkdirSync(dir, { recursive: true });
  const chunk = Buffer.alloc(16 * MiB);
  g.sizes.forEach((size, i) => {
    const p = join(dir, `${g.name}-${tag}-${i}`);
    mkdirSync(p);
    const half = Math.floor(size / 2);
    const fd = openSync(join(p, "random"), "w");
    for (let left = half; left > 0; left -= chunk.length) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
    }
    closeSync(fd);
    const line = Buffer.from(`${g.name} ${tag} ${i}: some text that compresses well\n`);
    const text = Buffer.alloc(size - half);
    for (let o = 0; o < text.length; o += line.length) line.copy(text, o);
    writeFileSync(join(p, "text"), text);
  });
}

/** The job's paths appear in the store: returns top's store path. */
export function addPaths(project: string, content: string, g: Graph, tag: string): string {
  const list = join(project, "added");
  if (g.chain) {
    // toFile paths that each name the one before: a chain of references.
    const expr = `let
  chunk = i: builtins.concatStringsSep "" (builtins.genList (j: builtins.hashString "sha256" "${tag}-\${toString i}-\${toString j}") (${Math.max(1, Math.floor((g.sizes[0] ?? KiB) / 2 / 64))}));
  text = i: builtins.concatStringsSep "" (builtins.genList (j: "${g.name} ${tag} \${toString i}: text that compresses well\\n") (${Math.max(1, Math.floor((g.sizes[0] ?? KiB) / 2 / 50))}));
  link = prev: i: builtins.toFile "${g.name}-${tag}-\${toString i}" "\${prev}\\n\${chunk i}\\n\${text i}";
  last = builtins.foldl' link "" (builtins.genList (i: i) ${g.sizes.length});
in builtins.toFile "top-${g.name}-${tag}" last`;
    return sh(`nix-instantiate --read-write-mode --eval --expr "$E" | tr -d '"'`, project, { E: expr }).stdout.trim();
  }
  sh(`ls | xargs nix-store --add >"$L"`, content, { L: list });
  const expr = `builtins.toFile "top-${g.name}-${tag}" (builtins.concatStringsSep "\\n" (map builtins.storePath (builtins.filter (l: builtins.isString l && l != "") (builtins.split "\\n" (builtins.readFile ${list})))))`;
  return sh(`nix-instantiate --read-write-mode --eval --expr "$E" | tr -d '"'`, project, { E: expr }).stdout.trim();
}

export function closure(top: string): string[] {
  return sh(`nix-store -qR "$T"`, "/", { T: top }).stdout.trim().split("\n");
}

export function deletePaths(paths: string[]): void {
  // One call: nix-store --delete refuses a path that a path outside the call still refers to.
  spawnSync("nix-store", ["--delete", ...paths], { stdio: "ignore", env: { ...process.env, NIX_CONFIG } });
  const left = paths.filter((p) => existsSync(p));
  if (left.length) throw new Error(`${left.length} paths could not be deleted, e.g. ${left[0]}`);
}

/** A job's start, as CI runs it: a fresh state directory, then env.sh. */
export function startJob(project: string): void {
  // Marks of jobs that never saved (a warm run here) would make this one share the
  // store with "another project's job" and take the careful way (docs/runtime.md).
  forgetJobMarks();
  rmSync(join(project, ".nix-ci-cache", "state"), { recursive: true, force: true });
  sh(". .nix-ci-cache/env.sh", project);
}
