import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheStats, formatBytes, formatStats } from "../src/stats.js";
import { runCli, tempProject } from "./support/cli.js";

const h = (c: string) => c.repeat(32);

/** A binary cache as save.sh leaves it: two entries, one damaged, an orphan NAR, two saves. */
function fakeCache(root: string): string {
  const cache = join(root, ".nix-ci-cache", "cache");
  mkdirSync(join(cache, "nar"), { recursive: true });
  mkdirSync(join(cache, "nix-ci-cache"));
  const entry = (c: string, size: number, narSize: number, fileSize = size, sig = "") => {
    writeFileSync(join(cache, "nar", `${c}.nar.zst`), "x".repeat(size));
    writeFileSync(
      join(cache, `${h(c)}.narinfo`),
      `StorePath: /nix/store/${h(c)}-${c}\nURL: nar/${c}.nar.zst\nCompression: zstd\nFileSize: ${fileSize}\nNarSize: ${narSize}\nReferences: \n${sig}`,
    );
  };
  entry("a", 1000, 4000, 1000, "Sig: ci-1:AAAA==\n");
  entry("b", 3096, 4096);
  entry("c", 10, 10, 20);
  writeFileSync(join(cache, "nar", "orphan.nar.zst"), "y");
  writeFileSync(join(cache, "nix-ci-cache", "entries"), `${h("a")} 1000000\n${h("b")} 1003600\n`);
  writeFileSync(
    join(cache, "nix-ci-cache", "saves"),
    "time=1000000 mode=file capture=build-closure added=2 added_bytes=4096 pruned=0 pruned_bytes=0 repaired=0 size=4096 budget=4294967296 paths=2 roots=1 seconds=1\n" +
      "time=1003600 mode=file capture=build-closure added=1 added_bytes=3096 pruned=1 pruned_bytes=2048 repaired=1 size=4100 budget=4294967296 paths=2 roots=1 seconds=2\n",
  );
  return cache;
}

describe("stats", () => {
  it("counts entries, sizes, compression, age, damage and the saves", () => {
    const cache = fakeCache(tempProject());
    const narinfos = ["a", "b"].reduce((sum, c) => sum + statSync(join(cache, `${h(c)}.narinfo`)).size, 0);
    const stats = cacheStats(cache);
    expect(stats).toMatchObject({
      kind: "file",
      entries: 2,
      narFileBytes: 4096,
      narinfoBytes: narinfos,
      bytes: 4096 + narinfos,
      narBytes: 8096,
      compression: { zstd: 2 },
      signatures: { "ci-1": 1, unsigned: 1 },
      damaged: 1,
      orphans: 2,
      untracked: 0,
      oldestUse: 1000000,
      newestUse: 1003600,
    });
    expect(stats.saves).toHaveLength(2);
    expect(stats.saves[1]).toMatchObject({ added: "1", pruned: "1", repaired: "1" });
    const lines = formatStats(cache, stats, 1003600 + 60);
    expect(lines).toContain("  entries       2");
    expect(lines).toContain(
      `  size          ${formatBytes(4096 + narinfos)} (NAR files 4.0 KiB, 51% of 7.9 KiB uncompressed; narinfos ${narinfos} B)`,
    );
    expect(lines).toContain("  compression   zstd 2");
    expect(lines).toContain("  signatures    by ci-1 1, unsigned 1");
    expect(lines).toContain("  last used     newest 60 s ago, oldest 61 min ago");
    expect(lines.at(-1)).toBe(
      "  1970-01-12T14:46:40Z (60 s ago): file build-closure, added 1 (3.0 KiB), pruned 1 (2.0 KiB), repaired 1, size 4.0 KiB of 4.0 GiB, 2 s",
    );
  });

  it("shows where a save's new paths came from, and upstream only where the config named a shared cache", () => {
    const cache = fakeCache(tempProject());
    const base = "mode=file capture=build-closure added=1 added_bytes=1024 pruned=0 pruned_bytes=0 repaired=0 seconds=1";
    writeFileSync(
      join(cache, "nix-ci-cache", "saves"),
      `time=1000000 ${base} from_cache=3 from_upstream=- from_elsewhere=1 built=2 pushed=- push_failed=-\n` +
        `time=1003600 ${base} from_cache=0 from_upstream=4 from_elsewhere=0 built=1 pushed=1 push_failed=1\n`,
    );
    const lines = formatStats(cache, cacheStats(cache), 1003600 + 60);
    expect(lines.at(-2)).toMatch(/, 1 s; new paths: 3 from the cache directory, 1 from other substituters, 2 built$/);
    expect(lines.at(-1)).toMatch(
      /, 1 s; new paths: 0 from the cache directory, 4 from upstream, 0 from other substituters, 1 built; pushed 1, 1 upstream push\(es\) failed$/,
    );
  });

  it("gives the cache's size as save.sh counts it: each NAR file once, with the narinfos", () => {
    // Two store paths with the same contents share one NAR file; the provider archives it
    // once, and save.sh's budget and its recorded size count it once.
    const cache = join(tempProject(), "cache");
    mkdirSync(join(cache, "nar"), { recursive: true });
    writeFileSync(join(cache, "nar", "same.nar.zst"), "x".repeat(17_817));
    for (const c of ["d", "e"]) {
      writeFileSync(
        join(cache, `${h(c)}.narinfo`),
        `StorePath: /nix/store/${h(c)}-${c}\nURL: nar/same.nar.zst\nCompression: zstd\nFileSize: 17817\nNarSize: 20000\nReferences: \n`,
      );
    }
    const narinfos = ["d", "e"].reduce((sum, c) => sum + statSync(join(cache, `${h(c)}.narinfo`)).size, 0);
    const stats = cacheStats(cache);
    expect(stats).toMatchObject({ entries: 2, narFileBytes: 17_817, narBytes: 20_000, bytes: 17_817 + narinfos });
    expect(formatStats(cache, stats, 0)).toContain(
      `  size          ${formatBytes(17_817 + narinfos)} (NAR files 17.4 KiB, 89% of 19.5 KiB uncompressed; narinfos ${narinfos} B)`,
    );
  });

  it("formats bytes in powers of 1024", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(4 * 1024 ** 3)).toBe("4.0 GiB");
  });

  it("npx nix-ci-cache stats reads the configured cache directory, or the one named", async () => {
    const root = tempProject();
    const cache = fakeCache(root);
    writeFileSync(join(root, ".nix-ci-cache", "config.yaml"), "providers: [github]\n");
    let r = await runCli(root, ["stats"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${cache}: binary cache`);
    expect(r.stdout).toContain("last 2 of 2 saves");
    r = await runCli(tempProject(), ["stats", cache]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("entries       2");
    r = await runCli(tempProject(), ["stats"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such cache directory; .*npx nix-ci-cache stats <dir>/);
  });
});
