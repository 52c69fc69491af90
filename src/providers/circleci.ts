import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { stepIds } from "./actions.js";
import { installNixForLaterSteps, NIX_PROFILE_SCRIPT } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = ".circleci/config.yml";

/** CircleCI's own key templates, built here so templates never escape Handlebars braces. */
const tpl = (inner: string) => `{{ ${inner} }}`;

/**
 * Linux: the `nixos/nix` image has Nix, git, ssh, tar and gzip (what CircleCI's
 * checkout and cache steps need) and runs as root, so nothing is installed.
 * macOS: a VM with passwordless sudo; Apple silicon only since 2026.
 */
const EXECUTORS: Record<Platform, { name: string; lines: string[] }> = {
  linux: { name: "nix-linux", lines: ["docker:", "  - image: nixos/nix:latest", "resource_class: medium"] },
  darwin: { name: "nix-macos", lines: ["macos:", '  xcode: "26.3.0"', "resource_class: m4pro.medium"] },
};

/** Run steps are non-login bash: later steps find Nix through $BASH_ENV. */
const INSTALL_NIX_DARWIN = installNixForLaterSteps(`echo '. ${NIX_PROFILE_SCRIPT}' >>"$BASH_ENV"`);

function context(plan: Plan): TemplateContext {
  const checksums = plan.keyFiles.map((f) => tpl(`checksum ${JSON.stringify(f)}`)).join("-");
  // Keys are immutable on CircleCI: `epoch` makes every save a new key, and
  // restore_cache takes each listed key as a prefix, newest match first.
  const prefix = `nix-ci-cache-v1-${tpl("arch")}-`;
  const withHash = checksums ? `${prefix}${checksums}-` : prefix;
  return {
    names: stepIds(false).names,
    key: `${withHash}${tpl("epoch")}`,
    restoreKeys: checksums ? [withHash, prefix] : [prefix],
    jobs: plan.platforms.map((platform) => ({
      name: platform === "linux" ? "nix-build" : "nix-build-macos",
      executor: EXECUTORS[platform].name,
      installNix: platform === "darwin" ? INSTALL_NIX_DARWIN : "",
      // env.sh again in the build's own shell: bash started as /bin/sh (the
      // nixos/nix image has no /bin/bash) does not read $BASH_ENV.
      buildScript: `. .nix-ci-cache/env.sh\n${plan.build}`,
    })),
    executors: plan.platforms.map((platform) => ({
      name: EXECUTORS[platform].name,
      body: EXECUTORS[platform].lines.map((line) => `    ${line}`).join("\n"),
    })),
  };
}

export const circleci: Provider = {
  id: "circleci",
  name: "CircleCI",
  pipelinePath: PIPELINE,
  platforms: ["linux", "darwin"],
  linuxContainer: "the `nixos/nix` Docker executor",
  signingKey:
    "a project environment variable or a context variable NIX_CI_CACHE_SIGNING_KEY (every job sees them); CircleCI gives none to pull requests from forks, which then save nothing",
  keyStrategy: "immutable: `nix-ci-cache-v1-<arch>-<checksums of keyFiles>-<epoch>`, restored by prefix, newest first",
  scope: "every branch and fork pull request of the project restores and saves the same caches",
  validatedBy:
    "`@circleci/circleci-config-parser`, CircleCI's JSON schema, shellcheck; run twice on real Nix with CircleCI's runner and cache emulated",
  detectEnv: "CIRCLECI",
  detectFiles: [PIPELINE],
  saveOnFailure: true,
  cacheLimit: "no size limit; caches are kept 15 days (storage is billed); each save is a new archive",
  defaultBudget: () => ({
    size: "4G",
    why: "CircleCI has no size limit but bills storage, and every run that saves keeps a new archive for 15 days",
  }),
  context,
  platformSigns: { path: PIPELINE, darwin: /^\s*macos:|\bxcode:/ },
};
