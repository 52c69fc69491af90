// `npm run bench` at a tiny size: what BENCHMARKS.md reports comes from a benchmark
// that runs, compares what it claims to compare, and whose warm runs really build
// nothing. Its times and ratios are not checked here: a test is no place to time
// things (BENCHMARKS.md has them, from full-size runs).
import { describe, expect, it } from "vitest";
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
});
