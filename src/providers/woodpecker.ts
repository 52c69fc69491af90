import { DRONE_CACHE_ROOT, droneCacheProvider, HOST_CACHE_DIR } from "./drone-cache.js";

const PIPELINE = ".woodpecker.yaml";

// For pull requests Woodpecker sets CI_COMMIT_BRANCH to the target branch.
const KEY_VARIABLES = {
  owner: "CI_REPO_OWNER",
  repo: "CI_REPO_NAME",
  branch: "CI_COMMIT_BRANCH",
  defaultBranch: "CI_REPO_DEFAULT_BRANCH",
};

export const woodpecker = droneCacheProvider({
  id: "woodpecker",
  name: "Woodpecker CI",
  pipelinePath: PIPELINE,
  // macOS only through the local backend, which runs no plugin containers and keeps
  // /nix/store on the host between pipelines anyway.
  platforms: ["linux"],
  signingKey:
    "not passed by the generated pipeline yet (a `from_secret` that is missing would stop the pipeline): until then save.sh saves nothing",
  scope:
    "one host directory per agent; only push and manual pipelines save, so pull requests cannot write a branch's cache (the repository must be trusted to mount it)",
  validatedBy:
    "Woodpecker's JSON schema, shellcheck; run on real Nix with Woodpecker's runner and drone-cache emulated (push, pull request, new branch, failed build, failed save)",
  detectEnv: "CI=woodpecker",
  detectFiles: [PIPELINE, ".woodpecker.yml", ".woodpecker"],
  host: "agent",
  keyVariables: KEY_VARIABLES,
  context: () => ({
    cacheVolume: `${HOST_CACHE_DIR}:${DRONE_CACHE_ROOT}`,
    // The restore of the default branch's cache is for other branches only.
    notDefaultBranch: `${KEY_VARIABLES.branch} != ${KEY_VARIABLES.defaultBranch}`,
  }),
});
