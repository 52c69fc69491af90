// `nix-ci-cache stats`: what a cache directory holds and what the last saves did,
// read from the files save.sh writes (narinfos, nix-ci-cache/entries, nix-ci-cache/saves).
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** One line of nix-ci-cache/saves: key=value pairs written by save.sh. */
export type SaveRecord = Record<string, string>;

export interface FileCacheStats {
  kind: "file";
  entries: number;
  /**
   * NAR files plus narinfos, as save.sh counts the cache against maxSize and records it
   * in nix-ci-cache/saves: the one size the report gives as the cache's.
   */
  bytes: number;
  /** Bytes of the NAR files on disk (compressed), each file once though entries may share it. */
  narFileBytes: number;
  /** Bytes of the narinfo files of the entries. */
  narinfoBytes: number;
  /** Bytes of those NARs uncompressed. */
  narBytes: number;
  compression: Record<string, number>;
  /** Entries by the names of the keys that signed them ("unsigned" for none). */
  signatures: Record<string, number>;
  /** Entries whose NAR is missing or has another size than the narinfo says. */
  damaged: number;
  /** NAR files no narinfo points to. */
  orphans: number;
  /** Last-used times (seconds since the epoch) from nix-ci-cache/entries. */
  oldestUse?: number;
  newestUse?: number;
  /** Entries save.sh has no last-used time for (written by something else). */
  untracked: number;
  saves: SaveRecord[];
}

export interface ChrootStoreStats {
  kind: "chroot";
  entries: number;
  bytes: number;
  saves: SaveRecord[];
}

export type CacheStats = FileCacheStats | ChrootStoreStats;

function readSaves(dir: string): SaveRecord[] {
  const file = join(dir, "nix-ci-cache", "saves");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) =>
      Object.fromEntries(line.split(" ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
    );
}

function field(text: string, key: string): string | undefined {
  return new RegExp(`^${key}: (.*)$`, "m").exec(text)?.[1]?.trim();
}

function treeBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(path)) total += treeBytes(join(path, name));
  return total;
}

/** Reads a cache directory: a file:// binary cache, or a chroot store (`root/nix/store`). */
export function cacheStats(dir: string): CacheStats {
  const store = join(dir, "root", "nix", "store");
  if (existsSync(store)) {
    const entries = readdirSync(store).filter((n) => !n.endsWith(".lock") && !n.startsWith(".")).length;
    return { kind: "chroot", entries, bytes: treeBytes(join(dir, "root")), saves: readSaves(dir) };
  }
  const times = new Map<string, number>();
  const entriesFile = join(dir, "nix-ci-cache", "entries");
  if (existsSync(entriesFile)) {
    for (const line of readFileSync(entriesFile, "utf8").split("\n")) {
      const [hash, time] = line.split(" ");
      if (hash && time) times.set(hash, Number(time));
    }
  }
  const stats: FileCacheStats = {
    kind: "file",
    entries: 0,
    bytes: 0,
    narFileBytes: 0,
    narinfoBytes: 0,
    narBytes: 0,
    compression: {},
    signatures: {},
    damaged: 0,
    orphans: 0,
    untracked: 0,
    saves: readSaves(dir),
  };
  const used = new Set<string>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".narinfo"))) {
    const raw = readFileSync(join(dir, name));
    const text = raw.toString("utf8");
    const url = field(text, "URL");
    const fileSize = Number(field(text, "FileSize") ?? field(text, "NarSize") ?? Number.NaN);
    const nar = url ? join(dir, url) : undefined;
    if (!url || !nar || !existsSync(nar) || statSync(nar).size !== fileSize) {
      stats.damaged++;
      continue;
    }
    stats.entries++;
    stats.narinfoBytes += raw.length;
    // Entries with the same contents share one NAR file, which the cache holds once.
    const file = url.replace(/^nar\//, "");
    if (!used.has(file)) {
      used.add(file);
      stats.narFileBytes += fileSize;
      stats.narBytes += Number(field(text, "NarSize") ?? fileSize);
    }
    const method = field(text, "Compression") ?? "none";
    stats.compression[method] = (stats.compression[method] ?? 0) + 1;
    const signers = [...text.matchAll(/^Sig: ([^:\s]+):/gm)].map((m) => m[1] as string);
    for (const signer of signers.length > 0 ? new Set(signers) : ["unsigned"]) {
      stats.signatures[signer] = (stats.signatures[signer] ?? 0) + 1;
    }
    const time = times.get(name.slice(0, -".narinfo".length));
    if (time === undefined) stats.untracked++;
    else {
      stats.oldestUse = Math.min(stats.oldestUse ?? time, time);
      stats.newestUse = Math.max(stats.newestUse ?? time, time);
    }
  }
  const narDir = join(dir, "nar");
  if (existsSync(narDir)) stats.orphans = readdirSync(narDir).filter((n) => !used.has(n)).length;
  stats.bytes = stats.narFileBytes + stats.narinfoBytes;
  return stats;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i]}`;
}

function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function formatSave(s: SaveRecord, now: number): string {
  const when = s.time
    ? `${new Date(Number(s.time) * 1000).toISOString().replace(/\.\d+Z$/, "Z")} (${formatAge(now - Number(s.time))} ago)`
    : "?";
  const size =
    s.size !== undefined && s.budget ? `, size ${formatBytes(Number(s.size))} of ${formatBytes(Number(s.budget))}` : "";
  return `  ${when}: ${s.mode ?? "?"} ${s.capture ?? "?"}, added ${s.added ?? "?"} (${formatBytes(Number(s.added_bytes ?? 0))}), pruned ${s.pruned ?? "?"} (${formatBytes(Number(s.pruned_bytes ?? 0))}), repaired ${s.repaired ?? 0}${size}, ${s.seconds ?? "?"} s${formatSources(s)}${formatPush(s)}`;
}

/**
 * Where the job's new paths came from (save.sh counts them; "-" where it could not
 * tell): the cache directory, the upstream caches, other substituters, or built.
 */
function formatSources(s: SaveRecord): string {
  if (s.from_cache === undefined || s.from_cache === "-") return "";
  // "-" from upstream: the config named no shared cache then.
  const upstream = s.from_upstream === "-" ? "" : ` ${s.from_upstream} from upstream,`;
  return `; new paths: ${s.from_cache} from the cache directory,${upstream} ${s.from_elsewhere} from other substituters, ${s.built} built`;
}

function formatPush(s: SaveRecord): string {
  if (s.pushed === undefined || s.pushed === "-") return "";
  const failed = Number(s.push_failed ?? 0) > 0 ? `, ${s.push_failed} upstream push(es) failed` : "";
  return `; pushed ${s.pushed}${failed}`;
}

/** The report, one line per element; `now` in seconds since the epoch. */
export function formatStats(dir: string, stats: CacheStats, now: number, lastSaves = 5): string[] {
  const lines: string[] = [];
  if (stats.kind === "chroot") {
    lines.push(`${dir}: chroot store`, `  store paths   ${stats.entries}`, `  size          ${formatBytes(stats.bytes)}`);
  } else {
    const ratio =
      stats.narBytes > 0
        ? `, ${((100 * stats.narFileBytes) / stats.narBytes).toFixed(0)}% of ${formatBytes(stats.narBytes)} uncompressed`
        : "";
    const methods = Object.entries(stats.compression)
      .map(([m, n]) => `${m} ${n}`)
      .join(", ");
    const signers = Object.entries(stats.signatures)
      .map(([k, n]) => (k === "unsigned" ? `unsigned ${n}` : `by ${k} ${n}`))
      .join(", ");
    lines.push(
      `${dir}: binary cache`,
      `  entries       ${stats.entries}`,
      `  size          ${formatBytes(stats.bytes)} (NAR files ${formatBytes(stats.narFileBytes)}${ratio}; narinfos ${formatBytes(stats.narinfoBytes)})`,
      `  compression   ${methods || "-"}`,
      `  signatures    ${signers || "-"}`,
    );
    if (stats.oldestUse !== undefined && stats.newestUse !== undefined) {
      lines.push(
        `  last used     newest ${formatAge(now - stats.newestUse)} ago, oldest ${formatAge(now - stats.oldestUse)} ago`,
      );
    }
    if (stats.untracked > 0)
      lines.push(`  untracked     ${stats.untracked} entries have no last-used time (not written by save.sh); pruned first`);
    if (stats.damaged > 0 || stats.orphans > 0) {
      lines.push(`  damaged       ${stats.damaged} entries, ${stats.orphans} orphaned NAR files (the next save removes them)`);
    }
  }
  const saves = stats.saves.slice(-lastSaves);
  if (saves.length === 0) lines.push("  no save recorded (nix-ci-cache/saves is missing)");
  else {
    lines.push(`  last ${saves.length} of ${stats.saves.length} saves, newest last:`);
    for (const s of saves) lines.push(formatSave(s, now));
  }
  return lines;
}
