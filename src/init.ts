import prompts from "prompts";
import { stringify } from "yaml";
import { DEFAULT_CACHE_DIR, type Mode, type Platform, type RawConfig } from "./config.js";
import type { Detection } from "./detect.js";
import { UsageError } from "./errors.js";
import { VERSION } from "./package.js";
import { isProviderId, PROVIDER_IDS, PROVIDERS, type ProviderId } from "./providers/index.js";
import { carriedRunners, wiringConfigText } from "./wire/choose.js";

export interface InitFlags {
  providers?: string[];
  platforms?: Platform[];
  mode?: Mode;
  cacheDir?: string;
}

export interface InitPlan {
  raw: Required<Omit<RawConfig, "build" | "capture" | "maxSize" | "extraRoots" | "exclude" | "publicKey" | "into" | "runners">> &
    Pick<RawConfig, "build" | "into" | "runners">;
  /** Why each choice was made, printed before anything is written. */
  explanation: string[];
}

const PLATFORMS: Platform[] = ["linux", "darwin"];
const CHROOT_ON_MACOS =
  'chroot stores need Linux namespaces; on macOS Nix fails with "building using a diverted store is not supported on this platform"';

function checkFlags(flags: InitFlags): void {
  for (const id of flags.providers ?? []) {
    if (!isProviderId(id)) throw new UsageError(`--provider: unknown provider "${id}"; choose from ${PROVIDER_IDS.join(", ")}`);
  }
  for (const os of flags.platforms ?? []) {
    if (!PLATFORMS.includes(os)) throw new UsageError(`--platform: unknown platform "${os}"; choose from linux, darwin`);
  }
  if (flags.mode !== undefined && flags.mode !== "file" && flags.mode !== "chroot") {
    throw new UsageError(`--mode: must be file or chroot, not "${flags.mode}"`);
  }
  if (flags.cacheDir !== undefined && flags.cacheDir.trim() === "") throw new UsageError("--cache-dir: must not be empty");
}

/** Providers whose generated Linux jobs run in containers, where chroot stores cannot build. */
const inContainers = (ids: ProviderId[]) => ids.filter((id) => PROVIDERS[id].linuxContainer !== undefined);

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Chooses the config from flags, then what the repository shows, then defaults, asking only when allowed. */
export async function initPlan(detection: Detection, flags: InitFlags, noPrompt: boolean): Promise<InitPlan> {
  checkFlags(flags);
  const explanation: string[] = [];

  let providers: ProviderId[];
  if (flags.providers?.length) {
    providers = unique(flags.providers as ProviderId[]);
    explanation.push(`providers: ${providers.join(", ")} (from --provider)`);
  } else if (detection.providers.length > 0) {
    providers = unique(detection.providers.map((p) => p.id));
    explanation.push(`providers: ${providers.join(", ")} (${detection.providers.map((p) => p.reason).join("; ")})`);
  } else {
    providers = ["github"];
    explanation.push("providers: github (nothing detected; use --provider to choose)");
  }

  let platforms: Platform[];
  if (flags.platforms?.length) {
    platforms = unique(flags.platforms);
    explanation.push(`platforms: ${platforms.join(", ")} (from --platform)`);
  } else if (detection.platforms.length > 0) {
    platforms = PLATFORMS.filter((os) => detection.platforms.some((e) => e.platform === os));
    const darwin = detection.platforms.find((e) => e.platform === "darwin");
    const evidence = darwin ?? detection.platforms[0];
    explanation.push(`platforms: ${platforms.join(", ")} (${evidence?.file} has "${evidence?.line}")`);
  } else if (detection.localOs === "darwin") {
    platforms = ["linux", "darwin"];
    explanation.push("platforms: linux, darwin (you are on macOS; use --platform linux for Linux runners only)");
  } else {
    platforms = ["linux"];
    explanation.push("platforms: linux (use --platform linux,darwin to add macOS runners)");
  }

  let mode: Mode;
  if (flags.mode) {
    mode = flags.mode;
    if (mode === "chroot" && platforms.includes("darwin")) {
      throw new UsageError(
        `--mode chroot: ${CHROOT_ON_MACOS}, and the platforms include darwin (${explanation.at(-1)}). Use --mode file, which works on Linux and macOS, or --platform linux`,
      );
    }
    explanation.push(`mode: ${mode} (from --mode)`);
  } else {
    mode = "file";
    const containers = inContainers(providers).map((id) => PROVIDERS[id].name);
    explanation.push(
      platforms.includes("darwin")
        ? "mode: file (a file:// binary cache beside /nix/store; the only mode that works on macOS)"
        : containers.length > 0
          ? `mode: file (a file:// binary cache beside /nix/store; chroot stores need namespaces that the containers of ${containers.join(" and ")} jobs do not allow)`
          : "mode: file (a file:// binary cache beside /nix/store; --mode chroot makes the cache directory the store itself)",
    );
  }

  if (!noPrompt) {
    const answers = await prompts(
      [
        {
          type: "multiselect",
          name: "providers",
          message: "CI providers",
          choices: PROVIDER_IDS.map((id) => ({ title: PROVIDERS[id].name, value: id, selected: providers.includes(id) })),
          min: 1,
        },
        {
          type: "multiselect",
          name: "platforms",
          message: "Runner platforms",
          choices: PLATFORMS.map((os) => ({
            title: os === "darwin" ? "macOS" : "Linux",
            value: os,
            selected: platforms.includes(os),
          })),
          min: 1,
        },
        {
          type: (_prev: unknown, values: { providers?: ProviderId[]; platforms?: Platform[] }) =>
            values.platforms?.includes("darwin") || inContainers(values.providers ?? []).length > 0 ? null : "select",
          name: "mode",
          message: "Mode",
          choices: [
            { title: "file: a file:// binary cache beside /nix/store (recommended)", value: "file" },
            { title: "chroot: the cache directory is the Nix store (Linux only)", value: "chroot" },
          ],
          initial: mode === "chroot" ? 1 : 0,
        },
      ],
      {
        onCancel: () => {
          throw new UsageError("init: cancelled; nothing was written");
        },
      },
    );
    providers = answers.providers ?? providers;
    platforms = answers.platforms ?? platforms;
    mode = platforms.includes("darwin") || inContainers(providers).length > 0 ? "file" : (answers.mode ?? mode);
  }

  return {
    raw: {
      providers,
      platforms,
      mode,
      cacheDir: flags.cacheDir ?? DEFAULT_CACHE_DIR,
      keyFiles: detection.facts.existingKeyFiles,
      compression: "zstd",
      build: detection.facts.hasFlake ? "nix build -L" : "nix-build",
      runners: providers.includes("github") ? carriedRunners(detection.platforms, platforms) : {},
    },
    explanation,
  };
}

const flow = (value: unknown) => stringify(value, { collectionStyle: "flow", lineWidth: 0 }).trimEnd();

/** The config as the user will read and edit it: every key, with a word on what it does. */
export function renderConfigFile(raw: InitPlan["raw"]): string {
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
${wiringConfigText(raw)}`;
}
