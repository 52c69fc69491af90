// `npm run bench` at a tiny size: what BENCHMARKS.md reports comes from a benchmark
// that runs, compares what it claims to compare, and whose warm runs really build
// nothing. Its times and ratios are not checked here: a test is no place to time
// things (BENCHMARKS.md has them, from full-size runs).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Row, StoreRow } from "../bench/scale.js";
import type { ProbeRow, UpstreamRow } from "../bench/upstream.js";
import { cleanEnv, requireNix, runAsync } from "./support/nix.js";

describe("npm run bench (tiny graph)", () => {
  it("prints every comparison with a number, and its warm runs and prune do what the table says", async () => {
    requireNix();
    // Not run(): a minute or more, through which Vitest's worker must stay responsive.
    const r = await runAsync("npx vite-node bench/bench.ts", {
      env: {
        ...cleanEnv(),
        BENCH_PACKAGES: "4",
        BENCH_PACKAGE_KIB: "4",
        BENCH_RUNS: "2",
        BENCH_COLD_REPEATS: "1",
        BENCH_SAVE_ROUNDS: "1",
        BENCH_STARTUP_RUNS: "1",
      },
    });
    expect(r.status, r.stderr).toBe(0);
    const rows = new Map(
      r.stdout
        .split("\n")
        .filter((l) => l.startsWith("| ") && !l.startsWith("| measurement"))
        .map((l) => {
          const [what, result] = l.slice(2).split(" | ");
          return [what?.split(" (")[0]?.split(":")[0] as string, result as string] as const;
        }),
    );
    const number = /\d+\.\d+ s/;
    for (const what of ["save", "save into a signed cache", "cold build with capture", "build closure"]) {
      expect(rows.get(what), `${what}\n${r.stdout}`).toMatch(number);
    }
    // The CLI's start-up, timed on the built package: Node alone beside the three commands.
    for (const what of ["`node -e 0`", "`--help`", "`check`", "`init --yes`"]) {
      expect(r.stdout, what).toMatch(
        new RegExp(`^\\| start-up: ${what} .*\\| \\d+\\.\\d+ s \\(\\d+\\.\\d+ s–\\d+\\.\\d+ s, median of 1\\) \\|`, "m"),
      );
    }
    const ratios = r.stdout.match(/\*\*\d+\.\d+×\*\*/g) ?? [];
    expect(ratios.length, r.stdout).toBeGreaterThanOrEqual(5);
    expect(r.stdout).toMatch(/^\| save: naive `nix copy --to file:\/\/` \(xz\) \| \d+\.\d+ s: ours is \*\*\d+\.\d+×\*\* faster/m);
    expect(r.stdout).toMatch(
      /^\| save: `tar \\\| zstd -T0` of the same paths \| \d+\.\d+ s, [\d.]+ [KM]iB: ours takes \*\*\d+\.\d+×\*\*/m,
    );
    expect(r.stdout).toMatch(/^\| warm run, file mode: derivations built, time vs cold \| 0 built, /m);
    expect(r.stdout).toMatch(/^\| warm run, chroot mode: derivations built, time vs cold \| 0 built, /m);
    // One leaf changed per run: the second run builds only it.
    expect(r.stdout).toMatch(/^Derivations built per run, with budget: 5, 1 /m);
    expect(r.stdout).toMatch(/^Our save, last line: nix-ci-cache: saved 6 new paths/m);
  });

  it("the scale benchmark (tiny graphs): every table filled, the warm run substitutes the whole closure, the prune stays closure-complete", async () => {
    requireNix();
    const out = mkdtempSync(join(tmpdir(), "ncc-scale-test-"));
    try {
      const r = await runAsync("npx vite-node bench/scale.ts", {
        env: { ...cleanEnv(), BENCH_SCALE_TINY: "1", BENCH_SCALE_OUT: out },
      });
      expect(r.status, r.stderr).toBe(0);
      const data = JSON.parse(readFileSync(join(out, "scale.json"), "utf8")) as { rows: Row[]; store: StoreRow[] };
      // The same job in the store as it was and in one 100 paths larger.
      expect(data.store.map((row) => row.validPaths)).toHaveLength(2);
      expect((data.store[1]?.validPaths ?? 0) - (data.store[0]?.validPaths ?? 0)).toBeGreaterThanOrEqual(100);
      for (const row of data.store) expect([...row.env, ...row.save, ...row.noopSave]).toHaveLength(9);
      expect(data.rows.map((row) => row.graph)).toEqual(["tiny", "tiny-chain"]);
      for (const row of data.rows) {
        // 6 paths and top; 4 in a chain and top.
        expect(row.paths).toBe(row.graph === "tiny" ? 7 : 5);
        expect(row.warmPaths, row.graph).toBe(row.paths);
        expect(row.pruned, row.graph).toBeGreaterThan(0);
        expect(row.pruneOpenRefs, row.graph).toBe(0);
        expect(row.saveMaxRssKiB).toBeGreaterThan(1024);
        expect(row.warmTimedOut).toBe(false);
        for (const t of [
          row.save,
          row.tarZstd,
          ...row.noopSave,
          row.warm,
          row.warmSave,
          row.unpack,
          row.nixArchive,
          row.exportTime,
        ]) {
          expect(t).toBeGreaterThan(0);
        }
      }
      // Three archivers, NARs zstd and uncompressed, each whole job restored and saved.
      expect(data.rows[0]?.endToEnd?.map((e) => `${e.archiver} ${e.compression}`)).toHaveLength(6);
      for (const heading of [
        "### Save, no-op save",
        "### Warm run",
        "### The peers' approaches",
        "### The whole job per archiver",
      ]) {
        expect(r.stdout).toContain(heading);
      }
      // Every row of every table has as many cells as its heading.
      for (const table of r.stdout.split("\n\n").filter((t) => t.startsWith("| "))) {
        const [head, , ...body] = table.trim().split("\n");
        const cells = (l: string) => l.replace(/\\\|/g, "").split("|").length;
        for (const l of body) expect(cells(l), l).toBe(cells(head as string));
      }
      const svg = readFileSync(join(out, "scale.svg"), "utf8");
      expect(svg.match(/<polyline /g)).toHaveLength(6);
      expect(svg).not.toMatch(/NaN|Infinity/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("the upstream benchmark (tiny graph, nginx on loopback): the push uploads the closure, a second push to the full remote none, a new runner gets it all from the remote", async () => {
    requireNix();
    const out = mkdtempSync(join(tmpdir(), "ncc-upstream-test-"));
    try {
      const r = await runAsync("npx vite-node bench/upstream.ts", {
        env: { ...cleanEnv(), BENCH_SCALE_TINY: "1", BENCH_SCALE_OUT: out },
      });
      expect(r.status, r.stderr).toBe(0);
      const data = JSON.parse(readFileSync(join(out, "upstream.json"), "utf8")) as { rows: UpstreamRow[]; probe: ProbeRow };
      expect(data.rows).toHaveLength(1);
      const row = data.rows[0] as UpstreamRow;
      // 6 paths and top, all uploaded once; the second push asks and sends nothing.
      expect(row).toMatchObject({ paths: 7, puts: 7, putsHad: 0 });
      for (const k of [
        "save",
        "saveAndPush",
        "saveAndPushHad",
        "nixCopy",
        "tarZstdPut",
        "warmRemote",
        "warmLocal",
        "getUnpack",
      ] as const) {
        expect(row[k], k).toBeGreaterThan(0);
      }
      // One that never answers costs its timeout (2 s) once, not Nix's five attempts.
      expect(data.probe.hanging).toBeGreaterThan(1.9);
      expect(data.probe.hanging).toBeLessThan(5);
      for (const table of r.stdout.split("\n\n").filter((t) => t.startsWith("| "))) {
        const [head, , ...body] = table.trim().split("\n");
        const cells = (l: string) => l.replace(/\\\|/g, "").split("|").length;
        for (const l of body) expect(cells(l), l).toBe(cells(head as string));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
