import type { Plan } from "../plan.js";
import {
  cacheDirInWorkspace,
  DRONE_CACHE_IMAGE,
  DRONE_CACHE_ROOT,
  escapeDollars,
  HOST_CACHE_DIR,
  SAVE_ON_EXIT,
  variable,
} from "./drone-cache.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = ".woodpecker.yaml";

const key = (branchVariable: string) =>
  `nix-ci-cache-${variable("CI_REPO_OWNER")}-${variable("CI_REPO_NAME")}-linux-${variable(branchVariable)}`;

function context(plan: Plan): TemplateContext {
  return {
    cachePlugin: DRONE_CACHE_IMAGE,
    cacheVolume: `${HOST_CACHE_DIR}:${DRONE_CACHE_ROOT}`,
    hostCacheDir: HOST_CACHE_DIR,
    // The plugin overwrites a key on every save. For pull requests Woodpecker sets
    // CI_COMMIT_BRANCH to the target branch, so they read that branch's cache.
    cacheKey: key("CI_COMMIT_BRANCH"),
    // drone-cache has no fallback keys: a branch without a cache of its own gets the
    // default branch's from a restore step before its own.
    defaultBranchCacheKey: key("CI_REPO_DEFAULT_BRANCH"),
    notDefaultBranch: "CI_COMMIT_BRANCH != CI_REPO_DEFAULT_BRANCH",
    mount: escapeDollars(plan.cacheDir),
    nixImage: "nixos/nix:latest",
    buildCommand: escapeDollars(plan.build),
    saveOnExit: SAVE_ON_EXIT,
  };
}

export const woodpecker: Provider = {
  id: "woodpecker",
  name: "Woodpecker CI",
  pipelinePath: PIPELINE,
  // macOS only through the local backend, which runs no plugin containers and keeps
  // /nix/store on the host between pipelines anyway.
  platforms: ["linux"],
  linuxContainer: "the `nixos/nix` image",
  signingKey:
    "not passed by the generated pipeline yet (a `from_secret` that is missing would stop the pipeline): until then save.sh saves nothing",
  keyStrategy:
    "mutable (drone-cache, as `plugins/cache`): one key per branch, overwritten by each push; a new branch starts from the default branch's, a pull request from its target branch's",
  scope:
    "one host directory per agent; only push and manual pipelines save, so pull requests cannot write a branch's cache (the repository must be trusted to mount it)",
  validatedBy:
    "Woodpecker's JSON schema, shellcheck; run on real Nix with Woodpecker's runner and drone-cache emulated (push, pull request, new branch, failed build, failed save)",
  detectEnv: "CI=woodpecker",
  detectFiles: [PIPELINE, ".woodpecker.yml", ".woodpecker"],
  saveOnFailure: true,
  cacheLimit: "the agent's disk (drone-cache filesystem backend on a host volume); no expiry",
  defaultBudget: () => ({ size: "4G", why: "the archives live on the agent's disk, one per branch, with no limit of their own" }),
  rules: (config) => cacheDirInWorkspace(config, "Woodpecker"),
  context,
  userFiles: [],
};
