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

const PIPELINE = ".drone.yml";

const key = (branchVariable: string) =>
  `nix-ci-cache-${variable("DRONE_REPO_NAMESPACE")}-${variable("DRONE_REPO_NAME")}-linux-${variable(branchVariable)}`;

function context(plan: Plan): TemplateContext {
  return {
    cachePlugin: DRONE_CACHE_IMAGE,
    cacheRoot: DRONE_CACHE_ROOT,
    hostCacheDir: HOST_CACHE_DIR,
    volumeName: "nix-ci-cache",
    // The plugin overwrites a key on every save. For pull requests Drone sets
    // DRONE_COMMIT_BRANCH to the target branch, so they read that branch's cache.
    cacheKey: key("DRONE_COMMIT_BRANCH"),
    // drone-cache has no fallback keys: a branch without a cache of its own gets the
    // default branch's (DRONE_REPO_BRANCH) from a restore step before its own.
    defaultBranchCacheKey: key("DRONE_REPO_BRANCH"),
    mount: escapeDollars(plan.cacheDir),
    nixImage: "nixos/nix:latest",
    buildCommand: escapeDollars(plan.build),
    saveOnExit: SAVE_ON_EXIT,
  };
}

export const drone: Provider = {
  id: "drone",
  name: "Drone",
  pipelinePath: PIPELINE,
  // macOS only through the exec runner, which runs no plugin containers and keeps
  // /nix/store on the host between builds anyway.
  platforms: ["linux"],
  linuxContainer: "the `nixos/nix` image",
  signingKey:
    "a repository secret nix_ci_cache_signing_key (`drone secret add`), which the build step maps to NIX_CI_CACHE_SIGNING_KEY; Drone leaves it empty for pull requests from forks, which then save nothing",
  keyStrategy:
    "mutable (drone-cache, as `plugins/cache`): one key per branch, overwritten by each push; a new branch starts from the default branch's, a pull request from its target branch's",
  scope:
    "one host directory per runner; only push and custom builds save, so pull requests cannot write a branch's cache (the repository must be trusted to mount it)",
  validatedBy:
    "SchemaStore's Drone schema, shellcheck; run on real Nix with Drone's runner and drone-cache emulated (push, pull request, new branch, failed build, failed save)",
  detectEnv: "DRONE",
  detectFiles: [PIPELINE],
  saveOnFailure: true,
  cacheLimit: "the runner's disk (drone-cache filesystem backend on a host volume); no expiry",
  defaultBudget: () => ({
    size: "4G",
    why: "the archives live on the runner's disk, one per branch, with no limit of their own",
  }),
  rules: (config) => cacheDirInWorkspace(config, "Drone"),
  context,
  userFiles: [],
};
