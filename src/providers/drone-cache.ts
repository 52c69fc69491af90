import { isAbsolute, normalize } from "node:path";
import { type Config, DEFAULT_CACHE_DIR, type Problem } from "../model.js";

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
export const DRONE_CACHE_IMAGE = "plugins/cache:1.10.9";
/** Where the filesystem backend reads and writes inside the plugin container (its default). */
export const DRONE_CACHE_ROOT = "/tmp/cache";
/** The host directory that outlives the pipeline. */
export const HOST_CACHE_DIR = "/var/lib/nix-ci-cache";

/** Drone and Woodpecker substitute `$VAR` and `${VAR}` in the whole file before running it; `$$` is a literal `$`. */
export const escapeDollars = (text: string) => text.replaceAll("$", "$$$$");

/** Steps are separate containers that share only the workspace, so the cache must live inside it. */
export function cacheDirInWorkspace(config: Config, providerName: string): Problem[] {
  return isAbsolute(config.cacheDir) || normalize(config.cacheDir).startsWith("..")
    ? [
        {
          key: "/cacheDir",
          message: `${providerName} steps share only the workspace, and "${config.cacheDir}" is outside it; use a relative path such as ${DEFAULT_CACHE_DIR}`,
        },
      ]
    : [];
}

/**
 * The build step's commands that run save.sh when its shell exits, also after a failed
 * build. Under `sh -e` an EXIT trap's failing command would become the step's status,
 * so a failed save would fail a passing build: the trap keeps the build's status (and
 * `|| true`, since `-e` holds in the trap too; save.sh says itself what failed). It
 * also keeps the project's directory, which the build may leave. `$` is doubled for
 * Drone's and Woodpecker's substitution.
 */
export const SAVE_ON_EXIT = [
  "nix_ci_cache_root=$PWD",
  'nix_ci_cache_save() { nix_ci_cache_status=$?; sh "$nix_ci_cache_root/.nix-ci-cache/save.sh" || true; exit "$nix_ci_cache_status"; }',
  "trap nix_ci_cache_save EXIT",
].map(escapeDollars);

/** `${NAME}`, substituted by Drone or Woodpecker; built here so it reads as what it is. */
export const variable = (name: string) => `\${${name}}`;
