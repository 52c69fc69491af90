// Near misses: a typed word held against what it could have meant, for one-line errors
// that say "did you mean …?", and flag values read through their aliases.
import { UsageError } from "./errors.js";

/** Edit distance, for suggestions. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The nearest of the choices when it is near enough to be a typo, else undefined. */
export function suggest(input: string, choices: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  const prefixed = choices.filter((c) => c.startsWith(lower));
  if (lower.length >= 2 && prefixed.length === 1) return prefixed[0];
  let best: { choice: string; d: number } | undefined;
  for (const choice of choices) {
    const d = distance(lower, choice);
    if (!best || d < best.d) best = { choice, d };
  }
  return best && best.d <= Math.max(1, Math.floor(best.choice.length / 3)) ? best.choice : undefined;
}

export const didYouMean = (guess: string | undefined, show = (s: string) => s) =>
  guess ? ` (did you mean ${show(guess)}?)` : "";

/**
 * One flag value checked against its choices, after aliases: `--provider gh` is GitHub,
 * `--platform macos` is darwin. A near miss gets a suggestion.
 */
export function choose<T extends string>(flag: string, input: string, choices: readonly T[], aliases: Record<string, T> = {}): T {
  const word = input.trim().toLowerCase();
  if ((choices as readonly string[]).includes(word)) return word as T;
  const aliased = aliases[word];
  if (aliased) return aliased;
  const guess = suggest(word, [...choices, ...Object.keys(aliases)]);
  const meant = guess === undefined ? undefined : (aliases[guess] ?? guess);
  throw new UsageError(
    `${flag}: unknown value "${input}"${didYouMean(meant, (s) => `"${s}"`)}; choose from ${choices.join(", ")}`,
  );
}

/** A comma-separated list flag, each item checked with `choose`, duplicates dropped. */
export function chooseList<T extends string>(
  flag: string,
  input: string | boolean | undefined,
  choices: readonly T[],
  aliases: Record<string, T> = {},
): T[] | undefined {
  if (typeof input !== "string") return undefined;
  const items = input
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag}: needs at least one of ${choices.join(", ")}`);
  return [...new Set(items.map((item) => choose(flag, item, choices, aliases)))];
}

export const PLATFORM_ALIASES = {
  macos: "darwin",
  mac: "darwin",
  osx: "darwin",
  "os-x": "darwin",
  apple: "darwin",
  ubuntu: "linux",
  debian: "linux",
  gnu: "linux",
} as const;
