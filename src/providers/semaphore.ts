import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { shellQuote } from "../text.js";
import { INSTALL_NIX_HERE, SOURCE_NIX_PROFILE } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = ".semaphore/semaphore.yml";

/** Semaphore Cloud machines: the small Linux one and the Apple silicon one. */
const MACHINES: Record<Platform, { type: string; osImage: string }> = {
  linux: { type: "e1-standard-2", osImage: "ubuntu2204" },
  darwin: { type: "a1-standard-4", osImage: "macos-xcode15" },
};

function context(plan: Plan): TemplateContext {
  // The toolbox's `checksum` (md5 of one file) runs on Linux and macOS alike.
  const hash = plan.keyFiles.map((f) => `$(checksum ${shellQuote(f)})`).join("");
  const cacheDir = shellQuote(plan.cacheDir);
  return {
    // The pipeline must name an agent; each block names its own.
    defaultMachine: MACHINES[plan.platforms[0] ?? "linux"],
    blocks: plan.platforms.map((platform) => {
      const prefix = `nix-ci-cache-${platform}-`;
      // `cache store` never replaces a key: a new key per job lets the grown cache
      // be saved; `cache restore` tries each comma-separated key exactly, then the
      // newest key containing it.
      const restoreKeys = hash ? [`${prefix}${hash}-`, prefix] : [prefix];
      return {
        name: `nix (${platform})`,
        machine: MACHINES[platform],
        restore: `cache restore "${restoreKeys.join(",")}"`,
        store: `cache store "${prefix}${hash ? `${hash}-` : ""}$SEMAPHORE_JOB_ID" ${cacheDir}`,
      };
    }),
    // Neither image has Nix: the Determinate installer, then its profile in this shell;
    // the epilogue is a shell of its own.
    installNix: INSTALL_NIX_HERE,
    sourceNixProfile: SOURCE_NIX_PROFILE,
  };
}

export const semaphore: Provider = {
  id: "semaphore",
  name: "Semaphore",
  pipelinePath: PIPELINE,
  platforms: ["linux", "darwin"],
  signingKey:
    "not passed by the generated pipeline yet: attach a secret that defines NIX_CI_CACHE_SIGNING_KEY at the organization or project level; until then save.sh saves nothing",
  keyStrategy:
    "immutable: `nix-ci-cache-<os>-<checksums of keyFiles>-<job id>`, restored from the newest key containing the prefix",
  scope: "one cache per project: every branch and pull request reads and writes the same keys",
  validatedBy:
    "the pipeline reference's rules in a test, shellcheck; run twice on real Nix with Semaphore's agent and cache emulated",
  detectEnv: "SEMAPHORE",
  detectFiles: [PIPELINE],
  // epilogue.always runs after failed commands too.
  saveOnFailure: true,
  cacheLimit: "9.6 GB per project on Semaphore Cloud, oldest entries deleted when full or after 30 days",
  // Each run stores a whole new archive: two must fit, with room to spare.
  defaultBudget: () => ({
    size: "4G",
    why: "Semaphore Cloud keeps 9.6 GB per project, and every job stores a new archive: two of 4G fit",
  }),
  context,
  platformSigns: { path: PIPELINE, darwin: /os_image:\s*macos|type:\s*a\d-/, linux: /os_image:\s*ubuntu/ },
};
