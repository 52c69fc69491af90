import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { expr, installNixForLaterSteps, NIX_PROFILE_BIN } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = "azure-pipelines.yml";
const TEMPLATE = ".azure-pipelines/nix-ci-cache.yml";

const VM_IMAGES: Record<Platform, string> = { linux: "ubuntu-latest", darwin: "macos-latest" };

/**
 * Hosted agents have passwordless sudo (and systemd on Linux): the
 * DeterminateSystems installer sets up a daemon install, which env.sh then
 * configures. Later steps find `nix` through the agent's prepend-path command.
 */
const INSTALL_NIX = `set -e\n${installNixForLaterSteps(`echo "##vso[task.prependpath]${NIX_PROFILE_BIN}"`)}`;

/** Cache@2 key segments: quoted strings are literal, anything else that looks like a path is hashed. */
const literal = (s: string) => `"${s}"`;

function context(plan: Plan): TemplateContext {
  const base = [literal("nix-ci-cache"), literal("$(Agent.OS)"), literal("$(Agent.OSArchitecture)")];
  const withFiles = [...base, ...plan.keyFiles];
  // Keys are immutable on Azure: the build id makes every save a new key, and
  // restoreKeys take the newest cache whose key starts with the same segments.
  return {
    templateFile: TEMPLATE,
    key: [...withFiles, literal("$(Build.BuildId)")].join(" | "),
    restoreKeys: plan.keyFiles.length ? [withFiles.join(" | "), base.join(" | ")] : [base.join(" | ")],
    installNix: INSTALL_NIX,
    // Each script step is a new bash without -e; env.sh's settings do not reach
    // later steps, so it is sourced in the build's own script.
    buildScript: `set -e\n. .nix-ci-cache/env.sh\n${expr("parameters.build")}`,
    matrix: plan.platforms.map((platform) => ({
      name: platform === "linux" ? "linux" : "macos",
      vmImage: VM_IMAGES[platform],
    })),
  };
}

export const azure: Provider = {
  id: "azure",
  name: "Azure Pipelines",
  pipelinePath: `${PIPELINE} (+ ${TEMPLATE})`,
  platforms: ["linux", "darwin"],
  signingKey:
    "a secret pipeline variable NIX_CI_CACHE_SIGNING_KEY, which the template maps into save.sh's environment (secret variables are never exported by themselves)",
  keyStrategy: 'immutable: `"nix-ci-cache" | OS | arch | keyFiles | build id`, restored by prefix (`restoreKeys`)',
  scope:
    "a branch reads its own caches and the default branch's; a pull request also its target branch's, and what it saves only it can read",
  validatedBy:
    "Azure Pipelines' JSON schema, the Cache@2 rules in a test, shellcheck; run on real Nix with the agent and Cache@2 emulated (failed, cold, warm)",
  detectEnv: "TF_BUILD",
  detectFiles: [PIPELINE],
  // Cache@2's post-job step skips the save unless the job status is Succeeded
  // (microsoft/azure-pipelines-agent src/Agent.Plugins/PipelineCache/SavePipelineCacheV0.cs).
  saveOnFailure: false,
  cacheLimit:
    "no documented size limit; caches unused for 7 days expire; `Cache@2` saves only when the job succeeded, so a failed build keeps nothing",
  defaultBudget: () => ({
    size: "4G",
    why: "Azure documents no size limit for caches; 4G keeps each entry's upload and restore short",
  }),
  context,
  platformSigns: { path: PIPELINE, darwin: [/vmImage/, /macos/i], linux: [/vmImage/, /ubuntu/i] },
};
