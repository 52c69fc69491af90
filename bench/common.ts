// What both benchmarks need: commands timed in /bin/sh with a clean environment (PATH,
// HOME and NIX_CONFIG with no substituters), failing with the command named; and the
// cache size the last save recorded.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const NIX_CONFIG = "substituters =\nexperimental-features = nix-command";

export interface Timed {
  stdout: string;
  stderr: string;
  seconds: number;
}

export function sh(cmd: string, cwd: string, env: Record<string, string> = {}): Timed {
  const t0 = performance.now();
  const r = spawnSync("/bin/sh", ["-c", cmd], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", NIX_CONFIG, ...env },
    encoding: "utf8",
    maxBuffer: 512 * 1024 * 1024,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${cmd}\n${r.stderr.slice(-4000)}`);
  return { stdout: r.stdout, stderr: r.stderr, seconds };
}

/** The cache's size as save.sh counted it at its last save: compressed NARs plus narinfos. */
export function savedSize(cache: string): number {
  const last =
    readFileSync(join(cache, "nix-ci-cache", "saves"), "utf8")
      .trim()
      .split("\n")
      .at(-1) ?? "";
  const size = Number(/ size=(\d+)/.exec(last)?.[1]);
  if (!size) throw new Error(`no size in the last save's line: ${last}`);
  return size;
}

/** Bytes a file or directory takes on disk (du -sk), as the provider archives it. */
export function duBytes(path: string): number {
  return Number(sh(`du -sk "$P" | cut -f 1`, "/", { P: path }).stdout.trim()) * 1024;
}
