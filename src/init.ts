// `nix-ci-cache init`: decides the config (questions.ts), renders it with every file it
// implies, writes all or nothing, and says exactly what happened and what to do next.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gitAddLines, type Io, parseAndValidate, writeOrShow } from "./commands.js";
import { applyDefaults, budgetLine, ConfigError, parseConfigText } from "./config.js";
import { detect } from "./detect.js";
import { UsageError } from "./errors.js";
import { chooseInto, wiredKeys, wiringReport } from "./into-choice.js";
import { stringify } from "./lazy.js";
import { CONFIG_PATH, type Config, PROVIDER_IDS, type ProjectFacts, type RawConfig } from "./model.js";
import { VERSION } from "./package.js";
import { PROVIDERS } from "./providers/index.js";
import { chooseConfig, type Decided, type InitChoices, type InitFlags, promptsAsker } from "./questions.js";
import { changesFor, synth } from "./synth.js";
import type { Change } from "./write.js";

export interface InitOptions extends InitFlags {
  /** `--into <file>[:<job>]` values. */
  into?: string[];
  yes: boolean;
  force: boolean;
  dryRun: boolean;
}

/** The flag that set each config key in init, so its errors name what the user typed. */
const FLAG_FOR_KEY: Record<string, string> = {
  "/providers": "--provider",
  "/platforms": "--platform",
  "/mode": "--mode",
  "/cacheDir": "--cache-dir",
  "/build": "--build",
};

const RELATED: Record<string, string[]> = {
  "/mode": ["providers", "platforms"],
  "/platforms": ["providers"],
  "/cacheDir": ["providers"],
};

function configFromChoices(text: string, facts: ProjectFacts, choices: InitChoices): Config {
  try {
    return parseAndValidate(text, facts);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const lines = error.problems.map((p) => `init: ${FLAG_FOR_KEY[p.key] ?? p.key}: ${p.message}`);
    // The choices a problem follows from, when the user did not make them with a flag.
    const causes = new Set(error.problems.flatMap((p) => RELATED[p.key] ?? []));
    const why = choices.explanation.filter((line) => causes.has(line.split(":")[0] ?? "") && !line.includes("(from --"));
    throw new UsageError(`${lines.join("\n")}\n${why.length > 0 ? `(init chose ${why.join("; ")}.) ` : ""}Nothing was written.`);
  }
}

/** The keys of an existing config, for init --force to keep; undefined when it cannot be read. */
function previousConfig(root: string): { raw: Partial<RawConfig>; text: string } | undefined {
  const path = join(root, CONFIG_PATH);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  const parsed = parseConfigText(text);
  const data = parsed.data;
  if (parsed.problems.length > 0 || data === null || typeof data !== "object" || Array.isArray(data)) return { raw: {}, text };
  return { raw: data as Partial<RawConfig>, text };
}

/** Keys init does not decide: kept from the previous config, and written after init's own. */
const KEPT_KEYS = [
  "keyFiles",
  "compression",
  "capture",
  "maxSize",
  "extraRoots",
  "exclude",
  "publicKey",
  "upstream",
  "upstreamTimeout",
] as const;

/** The keys written only when set, in this order, each with a word on what it does. */
const OPTIONAL_KEYS: Partial<Record<keyof RawConfig, string>> = {
  runners: "# GitHub: the runs-on of the generated workflow per platform (default ubuntu-latest, macos-latest).",
  into: "# Jobs of your pipelines that get the cache steps (file:job); generate keeps them up to date.",
  capture: "# What save.sh caches: build-closure, built or runtime-closure.",
  maxSize: "# The cache's size budget; save.sh prunes to it.",
  extraRoots: "# More things to cache with their run-time closures.",
  exclude: "# Store path names never cached.",
  publicKey: "# Jobs accept only entries signed by this key; save.sh signs with NIX_CI_CACHE_SIGNING_KEY.",
  upstream: "# Shared binary caches read after the cache directory, and pushed to by jobs with the secrets (docs/upstream.md).",
  upstreamTimeout: "# Seconds an upstream cache may take to answer before Nix gives up on it.",
};

/** Wiring's keys say nothing when empty; a kept key is written as the user had it. */
const unset = (key: keyof RawConfig, value: unknown) =>
  value === undefined || ((key === "runners" || key === "into") && Object.keys(value as object).length === 0);

const flow = (value: unknown) => stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trimEnd();

/** `key: value` in flow style, except upstream's entries, which read better one key a line. */
const keyLine = (key: keyof RawConfig, value: unknown) =>
  key === "upstream" ? stringify({ [key]: value }, { lineWidth: 0 }) : `${key}: ${flow(value)}\n`;

/** The config as the user will read and edit it: every key, with a word on what it does. */
export function renderConfigFile(raw: Decided & Partial<RawConfig> & Pick<Config, "keyFiles" | "compression">): string {
  const optional = (Object.keys(OPTIONAL_KEYS) as Array<keyof RawConfig>)
    .filter((key) => !unset(key, raw[key]))
    .map((key) => `${OPTIONAL_KEYS[key]}\n${keyLine(key, raw[key])}`);
  return `# yaml-language-server: $schema=https://unpkg.com/nix-ci-cache@${VERSION}/schemas/config.schema.json
# nix-ci-cache: edit this file, then run "npx nix-ci-cache generate".

# CI providers to generate files for: ${PROVIDER_IDS.join(", ")}.
providers: ${flow(raw.providers)}
# Operating systems of the CI runners: linux, darwin.
platforms: ${flow(raw.platforms)}
# file: /nix/store stays the store and the cache directory is a file:// binary cache.
# chroot: the cache directory is the Nix store itself (Linux only).
mode: ${flow(raw.mode)}
# The directory the CI provider keeps between jobs.
cacheDir: ${flow(raw.cacheDir)}
# Files that key the cache where the provider's keys are immutable.
keyFiles: ${flow(raw.keyFiles)}
# NAR compression: zstd is about 50 times faster than Nix's default xz at the same size.
compression: ${flow(raw.compression)}
# The command the generated pipeline runs.
build: ${flow(raw.build)}
${optional.join("")}`;
}

/** What --force changed in the config, key by key. */
function configChanges(before: Partial<RawConfig>, after: Partial<RawConfig>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])] as Array<keyof RawConfig>;
  return keys.flatMap((key) => {
    const a = before[key] === undefined ? undefined : flow(before[key]);
    const b = after[key] === undefined ? undefined : flow(after[key]);
    if (a === b) return [];
    if (a === undefined) return [`  ${key}: set to ${b}`];
    if (b === undefined) return [`  ${key}: ${a} removed (init does not write it)`];
    return [`  ${key}: ${a} → ${b}`];
  });
}

const CHROOT_CAVEATS = [
  "Chroot mode, before you rely on it:",
  "  - it builds only inside Nix's sandbox: on Linux VMs, not in containers, not on macOS; Ubuntu 24.04 restricts the user namespaces it needs through AppArmor (env.sh lifts that with sudo where it can, and otherwise stops with Nix's reason);",
  "  - ./result links point to /nix/store/…, which exists only inside Nix's namespace; the files are under <cacheDir>/root/nix/store/;",
  "  - nix-shell cannot run from a diverted store: the wrapper runs it against the normal store, uncached.",
  '  mode: file has none of these limits (README, "Modes").',
];

export async function init(root: string, options: InitOptions, io: Io): Promise<number> {
  const previous = previousConfig(root);
  if (previous && !options.force) {
    throw new UsageError(
      `${CONFIG_PATH}: already exists; edit it and run "npx nix-ci-cache generate", or run init again with --force to redo it (keeping the keys init does not ask about)`,
    );
  }
  const detection = detect(root, io.env, io.platform);
  const ask = options.yes || !io.interactive ? undefined : promptsAsker(io.env);
  const choices = await chooseConfig(detection, options, ask, io.out, previous?.raw);
  // With --force, the jobs wired before stay wired unless --into names others.
  const keptInto = options.into?.length ? undefined : previous?.raw.into;
  const wiring = keptInto?.length
    ? await chooseInto(root, detection.nixJobs ?? [], choices.raw.providers, keptInto, undefined, "kept from the existing config")
    : await chooseInto(root, detection.nixJobs ?? [], choices.raw.providers, options.into, ask);
  for (const line of wiring.explanation) io.out(line);
  const raw = {
    ...Object.fromEntries(KEPT_KEYS.map((k) => [k, previous?.raw[k]])),
    ...choices.raw,
    ...wiredKeys(detection.platforms, choices.raw, wiring),
  };
  // Written out although they are defaults, so that the file shows what they are.
  const shown = applyDefaults(raw, detection.facts);
  const text = renderConfigFile({ ...raw, keyFiles: shown.keyFiles, compression: shown.compression });
  const config = configFromChoices(text, detection.facts, choices);
  io.out(budgetLine(config));
  if (choices.missingBuild) io.out(choices.missingBuild);
  // The config is written with the rest, and only if nothing else is refused.
  const configChange: Change = previous
    ? {
        path: CONFIG_PATH,
        kind: previous.text === text ? "unchanged" : "update",
        before: previous.text,
        after: text,
        mode: 0o644,
      }
    : { path: CONFIG_PATH, kind: "create", before: undefined, after: text, mode: 0o644 };
  const generated = changesFor(root, config, synth(config), options.force);
  if (previous) {
    const changed = configChanges(previous.raw, raw);
    const keptKeys = KEPT_KEYS.filter((k) => previous.raw[k] !== undefined);
    io.out(changed.length > 0 ? `${CONFIG_PATH} changes:` : `${CONFIG_PATH}: no key changes`);
    for (const line of changed) io.out(line);
    if (keptKeys.length > 0) io.out(`  kept: ${keptKeys.join(", ")}`);
  }
  const written = writeOrShow(root, { ...generated, changes: [configChange, ...generated.changes] }, options.dryRun, io);
  if (options.dryRun) return 0;
  for (const line of wiringReport(config, wiring)) io.out(line);
  if (config.mode === "chroot") {
    io.out("");
    for (const line of CHROOT_CAVEATS) io.out(line);
  }
  if (config.mode === "file") {
    io.out("");
    io.out("Who can write the cache your default branch restores:");
    for (const id of config.providers) io.out(`  ${PROVIDERS[id].name}: ${PROVIDERS[id].scope}.`);
    io.out('To accept only what holders of a key wrote, sign the cache: "npx nix-ci-cache keygen" (README, "Trust").');
  }
  io.out("");
  if (written.length > 0) {
    io.out("Next, commit what was written:");
    for (const line of gitAddLines(written)) io.out(line);
    io.out('  git commit -m "Cache Nix builds in the CI cache"');
  } else {
    io.out("Nothing changed.");
  }
  io.out(`Later, change ${CONFIG_PATH} and run "npx nix-ci-cache generate".`);
  return 0;
}
