// init's choices: flags first, then the existing config (with --force), then what the
// repository shows, then defaults; asked one by one, each with its reason shown first.
import { createRequire } from "node:module";
import { BUILD_PLACEHOLDER, buildFor, NO_EXPRESSION } from "./config.js";
import { chrootLimits } from "./config-rules.js";
import type { Detection } from "./detect.js";
import { prompts } from "./lazy.js";
import { type Mode, type Platform, PROVIDER_IDS, type ProviderId, type RawConfig } from "./model.js";
import { PROVIDERS } from "./providers/index.js";
import { choicesOf, schemaDefaults } from "./schema.js";

export interface InitFlags {
  providers?: ProviderId[];
  platforms?: Platform[];
  mode?: Mode;
  cacheDir?: string;
  build?: string;
}

/** What init decides; the other keys of a previous config are kept as they were, or left to the defaults. */
export type Decided = Required<Pick<RawConfig, "providers" | "platforms" | "mode" | "cacheDir" | "build">>;

export interface InitChoices {
  raw: Decided;
  /** Each choice and its reason, as printed. */
  explanation: string[];
  /** Set when no Nix expression was found and no build command given: what to fill in. */
  missingBuild?: string;
}

/** Ctrl-C or Escape at a prompt. */
export class Cancelled extends Error {}

/** Asks one question; undefined when the user cancelled. Tests answer through `prompts.inject`. */
export type Ask = (question: Record<string, unknown>) => Promise<unknown>;

const require = createRequire(import.meta.url);

/** The prompts library, loaded only when init asks, with colour as the environment wants it. */
export function promptsAsker(env: NodeJS.ProcessEnv): Ask {
  // prompts colours through kleur 3, which does not read NO_COLOR (https://no-color.org),
  // and colours some symbols as it loads: kleur is switched off before prompts loads.
  const kleur = createRequire(require.resolve("prompts"))("kleur") as { enabled: boolean };
  if (env.NO_COLOR) kleur.enabled = false;
  return async (question) => {
    let cancelled = false;
    const answers = await prompts({ ...question, name: "value" } as import("prompts").PromptObject, {
      onCancel: () => {
        cancelled = true;
        return false;
      },
    });
    if (cancelled) throw new Cancelled("init: cancelled; nothing was written");
    return answers.value;
  };
}

interface Choice<T> {
  value: T;
  why: string;
}

function providersDefault(detection: Detection, flags: InitFlags, previous: Partial<RawConfig>): Choice<ProviderId[]> {
  if (flags.providers?.length) return { value: flags.providers, why: "from --provider" };
  if (previous.providers?.length) return { value: previous.providers, why: "kept from the existing config" };
  if (detection.providers.length > 0) {
    return {
      value: [...new Set(detection.providers.map((p) => p.id))],
      why: detection.providers.map((p) => p.reason).join("; "),
    };
  }
  return { value: ["github"], why: "nothing detected; use --provider to choose" };
}

function platformsDefault(detection: Detection, flags: InitFlags, previous: Partial<RawConfig>): Choice<Platform[]> {
  if (flags.platforms?.length) return { value: flags.platforms, why: "from --platform" };
  if (previous.platforms?.length) return { value: previous.platforms, why: "kept from the existing config" };
  if (detection.platforms.length > 0) {
    const value = (choicesOf("platforms") as Platform[]).filter((os) => detection.platforms.some((e) => e.platform === os));
    const evidence = detection.platforms.find((e) => e.platform === "darwin") ?? detection.platforms[0];
    return { value, why: `${evidence?.file} has "${evidence?.line}"` };
  }
  if (detection.localOs === "darwin") {
    return { value: ["linux", "darwin"], why: "you are on macOS; use --platform linux for Linux runners only" };
  }
  return { value: schemaDefaults().platforms, why: "use --platform linux,darwin to add macOS runners" };
}

/** Why only file mode can work, or undefined when chroot could. */
function fileOnly(providers: ProviderId[], platforms: Platform[]): string | undefined {
  const limits = chrootLimits(providers, platforms);
  if (limits.darwin) return "a file:// binary cache beside /nix/store; the only mode that works on macOS";
  const containers = limits.containers.map((id) => PROVIDERS[id].name);
  if (containers.length > 0) {
    return `a file:// binary cache beside /nix/store; chroot stores need namespaces that the containers of ${containers.join(" and ")} jobs do not allow`;
  }
  return undefined;
}

function modeDefault(flags: InitFlags, previous: Partial<RawConfig>, forced: string | undefined): Choice<Mode> {
  if (flags.mode) return { value: flags.mode, why: "from --mode" };
  if (forced) return { value: "file", why: forced };
  if (previous.mode) return { value: previous.mode, why: "kept from the existing config" };
  return {
    value: schemaDefaults().mode,
    why: "a file:// binary cache beside /nix/store; --mode chroot makes the cache directory the store itself",
  };
}

/**
 * The build command: from --build, kept, or what the repository's Nix files call for
 * (config.ts); `found` is false when they call for nothing and the placeholder stands.
 */
function buildDefault(detection: Detection, flags: InitFlags, previous: Partial<RawConfig>): Choice<string> & { found: boolean } {
  if (flags.build !== undefined) return { value: flags.build, why: "from --build", found: true };
  if (previous.build !== undefined && previous.build !== BUILD_PLACEHOLDER) {
    return { value: previous.build, why: "kept from the existing config", found: true };
  }
  return buildFor(detection.facts.expression);
}

const chosen = <T>(picked: T, choice: Choice<T>, same: (a: T, b: T) => boolean): Choice<T> =>
  same(picked, choice.value) ? choice : { value: picked, why: "your choice" };
const sameList = <T>(a: T[], b: T[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Decides the config init writes. `say` prints as it goes: the reason for each
 * question comes just before it, and what was picked comes after, from the answers.
 */
export async function chooseConfig(
  detection: Detection,
  flags: InitFlags,
  ask: Ask | undefined,
  say: (line: string) => void = () => {},
  previous: Partial<RawConfig> = {},
): Promise<InitChoices> {
  const hint = (line: string) => {
    if (ask) say(line);
  };
  /** A list question: its reason first, every option offered, what was chosen before selected. */
  const pickList = async <T extends string>(label: string, choice: Choice<T[]>, message: string, titles: Record<T, string>) => {
    hint(`${label}: ${choice.value.join(", ")} (${choice.why}).`);
    const picked = (await ask?.({
      type: "multiselect",
      message,
      choices: (Object.keys(titles) as T[]).map((value) => ({
        title: titles[value],
        value,
        selected: choice.value.includes(value),
      })),
      min: 1,
    })) as T[];
    return chosen(picked, choice, sameList);
  };
  let providers = providersDefault(detection, flags, previous);
  if (ask && !flags.providers?.length) {
    const titles = Object.fromEntries(PROVIDER_IDS.map((id) => [id, PROVIDERS[id].name])) as Record<ProviderId, string>;
    providers = await pickList("Providers", providers, "CI providers", titles);
  }
  let platforms = platformsDefault(detection, flags, previous);
  if (ask && !flags.platforms?.length) {
    platforms = await pickList("Platforms", platforms, "Runner platforms", { linux: "Linux", darwin: "macOS" });
  }
  const forced = flags.mode ? undefined : fileOnly(providers.value, platforms.value);
  let mode = modeDefault(flags, previous, forced);
  if (ask && !flags.mode && !forced) {
    hint(
      "Mode: file keeps /nix/store and adds the cache directory as a binary cache; chroot makes the cache directory the store.",
    );
    const picked = (await ask({
      type: "select",
      message: "Mode",
      choices: [
        { title: "file: a file:// binary cache beside /nix/store (recommended)", value: "file" },
        { title: "chroot: the cache directory is the Nix store (Linux VMs only)", value: "chroot" },
      ],
      initial: mode.value === "chroot" ? 1 : 0,
    })) as Mode;
    mode = chosen(picked, mode, (a, b) => a === b);
  }
  let cacheDir: Choice<string> =
    flags.cacheDir !== undefined
      ? { value: flags.cacheDir, why: "from --cache-dir" }
      : previous.cacheDir !== undefined
        ? { value: previous.cacheDir, why: "kept from the existing config" }
        : { value: schemaDefaults().cacheDir, why: "inside the project, which every provider can cache" };
  if (ask && flags.cacheDir === undefined) {
    hint("Cache directory: what the provider keeps between jobs; relative to the repository's top level.");
    const picked = (await ask({
      type: "text",
      message: "Cache directory",
      initial: cacheDir.value,
      validate: (v: string) => (v.trim() === "" ? "a directory, e.g. .nix-ci-cache/cache" : true),
    })) as string;
    cacheDir = chosen(picked.trim(), cacheDir, (a, b) => a === b);
  }
  const found = buildDefault(detection, flags, previous);
  let build: Choice<string> = found;
  let missingBuild: string | undefined;
  if (!found.found) {
    if (ask) {
      hint(`Build command: ${NO_EXPRESSION}.`);
      const picked = (await ask({
        type: "text",
        message: "Build command for the generated job",
        validate: (v: string) => (v.trim() === "" ? "the command the job runs, e.g. nix build .#default" : true),
      })) as string;
      build = { value: picked.trim(), why: "your choice" };
    } else {
      missingBuild = `build: ${NO_EXPRESSION}. The generated job stops with a message until you set build: in .nix-ci-cache/config.yaml (or run init with --build "<command>").`;
    }
  }

  const explanation = [
    `providers: ${providers.value.join(", ")} (${providers.why})`,
    `platforms: ${platforms.value.join(", ")} (${platforms.why})`,
    `mode: ${mode.value} (${mode.why})`,
    `cacheDir: ${cacheDir.value} (${cacheDir.why})`,
    missingBuild ? "build: not found (see below)" : `build: ${build.value} (${build.why})`,
  ];
  for (const line of explanation) say(line);
  return {
    raw: {
      providers: providers.value,
      platforms: platforms.value,
      mode: mode.value,
      cacheDir: cacheDir.value,
      build: build.value,
    },
    explanation,
    missingBuild,
  };
}
