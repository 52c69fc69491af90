// Small pure functions over values the config holds: sizes and shell words. A leaf.

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes of a size such as "4G" (powers of 1024, as `du` and the providers count). */
export function parseSize(size: string): number {
  const m = /^([1-9][0-9]*)([KMGT]?)$/.exec(size);
  if (!m) throw new Error(`not a size: "${size}" (e.g. "4G")`);
  return Number(m[1]) * (SIZE_UNITS[m[2] ?? ""] ?? 1);
}

/** One single-quoted shell word, safe for any path (spaces, `$`, quotes). */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
