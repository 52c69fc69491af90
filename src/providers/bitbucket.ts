import type { Config } from "../config.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = "bitbucket-pipelines.yml";
const CACHE_NAME = "nix-ci-cache";

function context(config: Config): TemplateContext {
  return {
    cacheName: CACHE_NAME,
    // Bitbucket keys a custom cache by the hash of these files: a change of them
    // starts a new cache version instead of waiting for the week to pass.
    keyFiles: config.keyFiles,
    image: "nixos/nix:latest",
    // All script commands run in one shell, so env.sh's settings reach the build;
    // save.sh must be a script command too, because Bitbucket saves caches only
    // after a successful step.
    script: [". .nix-ci-cache/env.sh", config.build, "sh .nix-ci-cache/save.sh"],
  };
}

export const bitbucket: Provider = {
  id: "bitbucket",
  name: "Bitbucket Pipelines",
  pipelinePath: PIPELINE,
  // Bitbucket Cloud's own runners are Linux containers; caches are a feature of them.
  platforms: ["linux"],
  linuxContainer: "the `nixos/nix` image",
  installsNix: "the `nixos/nix` image",
  settingsReach: "one shell for all commands of a step's `script`",
  signingKey: "a secured repository variable NIX_CI_CACHE_SIGNING_KEY (every step sees it)",
  keyStrategy:
    "kept until it expires (1 week): a cache is saved only when none exists for its name and the hash of `keyFiles`; no fallback",
  scope: "one cache per repository, restored and created by every branch's pipelines",
  validatedBy: "Bitbucket's cache rules in a test (no published schema or parser in npm), shellcheck; run twice on real Nix",
  detectEnv: "BITBUCKET_BUILD_NUMBER",
  detectFiles: [PIPELINE],
  keysImmutable: true,
  saveOnFailure: false,
  cacheLimit: "1 GB per cache once compressed (larger caches are not saved); kept 1 week",
  defaultBudget: () => ({
    size: "800M",
    why: "Bitbucket does not save a cache larger than 1 GB once compressed, and zstd NARs barely compress further",
  }),
  rules: () => [],
  context,
  userFiles: [],
  detectPlatforms: () => [],
};
