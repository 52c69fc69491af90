import type { Plan } from "../plan.js";
import { cacheDirInside } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

/**
 * The drone-cache plugin, as Drone publishes it: `plugins/cache`, built from
 * drone-plugins/drone-meltwater-cache, where drone-cache is maintained since
 * meltwater/drone-cache was deprecated (its README, 2025-02-03; its last release,
 * v1.4.0, is from 2022). Same settings; with `mount` given, restore still reads exactly
 * `<key>/<mount>` (the prefix listing and strict-key-matching of cache/restorer.go are
 * only for restores without `mount`), and rebuild still overwrites (`override`
 * defaults to true). One difference: the remote path no longer starts with the
 * repository's name, which our keys carry anyway. Its filesystem backend keeps the
 * archives in a host directory mounted into the plugin's container, so no object store
 * or secret is needed (the repository must be trusted to mount it). An exact tag:
 * `docker/manifest.tmpl` publishes multi-arch `plugins/cache:<version>` for each tag.
 */
const DRONE_CACHE_IMAGE = "plugins/cache:1.10.9";
/** Where the filesystem backend reads and writes inside the plugin container (its default). */
export const DRONE_CACHE_ROOT = "/tmp/cache";
/** The host directory that outlives the pipeline. */
export const HOST_CACHE_DIR = "/var/lib/nix-ci-cache";

/** Drone and Woodpecker substitute `$VAR` and `${VAR}` in the whole file before running it; `$$` is a literal `$`. */
const escapeDollars = (text: string) => text.replaceAll("$", "$$$$");

/**
 * The build step's commands that run save.sh when its shell exits, also after a failed
 * build. Under `sh -e` an EXIT trap's failing command would become the step's status,
 * so a failed save would fail a passing build: the trap keeps the build's status (and
 * `|| true`, since `-e` holds in the trap too; save.sh says itself what failed). It
 * also keeps the project's directory, which the build may leave. `$` is doubled for
 * Drone's and Woodpecker's substitution.
 */
const SAVE_ON_EXIT = [
  "nix_ci_cache_root=$PWD",
  'nix_ci_cache_save() { nix_ci_cache_status=$?; sh "$nix_ci_cache_root/.nix-ci-cache/save.sh" || true; exit "$nix_ci_cache_status"; }',
  "trap nix_ci_cache_save EXIT",
].map(escapeDollars);

/** `${NAME}`, substituted by Drone or Woodpecker; built here so it reads as what it is. */
const variable = (name: string) => `\${${name}}`;

/** The variables that name the repository and branches, which the keys are made of. */
interface KeyVariables {
  owner: string;
  repo: string;
  /** The branch pushed to, and for pull requests their target branch. */
  branch: string;
  defaultBranch: string;
}

/** What Drone and Woodpecker, both running drone-cache on a host volume, do not share. */
export type DroneCacheSpec = Pick<
  Provider,
  "id" | "name" | "pipelinePath" | "platforms" | "signingKey" | "scope" | "validatedBy" | "detectEnv" | "detectFiles"
> & {
  /** What runs the pipelines and holds the host volume: "runner" or "agent". */
  host: string;
  keyVariables: KeyVariables;
  /** Values only this provider's template uses. */
  context(plan: Plan): TemplateContext;
};

/** A provider whose pipeline keeps the cache with drone-cache's filesystem backend. */
export function droneCacheProvider(spec: DroneCacheSpec): Provider {
  const { host, keyVariables: vars, context, ...own } = spec;
  const key = (branch: string) => `nix-ci-cache-${variable(vars.owner)}-${variable(vars.repo)}-linux-${variable(branch)}`;
  return {
    ...own,
    linuxContainer: "the `nixos/nix` image",
    keyStrategy:
      "mutable (drone-cache, as `plugins/cache`): one key per branch, overwritten by each push; a new branch starts from the default branch's, a pull request from its target branch's",
    saveOnFailure: true,
    cacheLimit: `the ${host}'s disk (drone-cache filesystem backend on a host volume); no expiry`,
    defaultBudget: () => ({
      size: "4G",
      why: `the archives live on the ${host}'s disk, one per branch, with no limit of their own`,
    }),
    // Steps are separate containers that share only the workspace, so the cache must live inside it.
    rules: (config) => cacheDirInside(config, `${spec.name} steps share only the workspace`),
    context: (plan: Plan) => ({
      cachePlugin: DRONE_CACHE_IMAGE,
      hostCacheDir: HOST_CACHE_DIR,
      // The plugin overwrites a key on every save. For pull requests the branch
      // variable holds the target branch, so they read that branch's cache.
      cacheKey: key(vars.branch),
      // drone-cache has no fallback keys: a branch without a cache of its own gets the
      // default branch's from a restore step before its own.
      defaultBranchCacheKey: key(vars.defaultBranch),
      mount: escapeDollars(plan.cacheDir),
      nixImage: "nixos/nix:latest",
      buildCommand: escapeDollars(plan.build),
      saveOnExit: SAVE_ON_EXIT,
      ...context(plan),
    }),
  };
}
