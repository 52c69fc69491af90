import { DRONE_CACHE_ROOT, droneCacheProvider } from "./drone-cache.js";

const PIPELINE = ".drone.yml";

export const drone = droneCacheProvider({
  id: "drone",
  name: "Drone",
  pipelinePath: PIPELINE,
  // macOS only through the exec runner, which runs no plugin containers and keeps
  // /nix/store on the host between builds anyway.
  platforms: ["linux"],
  signingKey:
    "a repository secret nix_ci_cache_signing_key (`drone secret add`), which the build step maps to NIX_CI_CACHE_SIGNING_KEY; Drone leaves it empty for pull requests from forks, which then save nothing",
  scope:
    "one host directory per runner; only push and custom builds save, so pull requests cannot write a branch's cache (the repository must be trusted to mount it)",
  validatedBy:
    "SchemaStore's Drone schema, shellcheck; run on real Nix with Drone's runner and drone-cache emulated (push, pull request, new branch, failed build, failed save)",
  detectEnv: "DRONE",
  detectFiles: [PIPELINE],
  host: "runner",
  // For pull requests Drone sets DRONE_COMMIT_BRANCH to the target branch;
  // DRONE_REPO_BRANCH is the default branch.
  keyVariables: {
    owner: "DRONE_REPO_NAMESPACE",
    repo: "DRONE_REPO_NAME",
    branch: "DRONE_COMMIT_BRANCH",
    defaultBranch: "DRONE_REPO_BRANCH",
  },
  context: (plan) => ({
    cacheRoot: DRONE_CACHE_ROOT,
    volumeName: "nix-ci-cache",
    // The build step runs save.sh on exit, so it gets what save.sh reads; Drone's secrets
    // are named in lower case (`drone secret add --name nix_ci_cache_signing_key`).
    secrets: plan.secrets.map((name) => ({ name, secret: name.toLowerCase() })),
  }),
});
