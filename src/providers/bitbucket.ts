import type { Plan } from "../plan.js";
import { cacheDirInside } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = "bitbucket-pipelines.yml";
const CACHE_NAME = "nix-ci-cache";
/** The custom pipeline that re-saves the cache with what builds added since it was saved. */
const REFRESH_PIPELINE = "nix-ci-cache-refresh";
/** A secured repository variable: a repository access token with the Pipelines: Write permission. */
const TOKEN_VARIABLE = "NIX_CI_CACHE_BITBUCKET_TOKEN";

/**
 * Deletes every version of the cache ("Delete caches": DELETE
 * /2.0/repositories/{workspace}/{repo_slug}/pipelines-config/caches?name=…, Bitbucket
 * Cloud REST API, Pipelines), so that the next step that uses it saves it again. A
 * cache that is not there (404) is as good as deleted.
 */
function deleteCacheScript(): string {
  return [
    `[ -n "\${${TOKEN_VARIABLE}:-}" ] || {`,
    `  echo 'nix-ci-cache: set the secured repository variable ${TOKEN_VARIABLE} to a repository access token with Pipelines: Write (docs/providers.md, Bitbucket)' >&2`,
    "  exit 1",
    "}",
    "status=$(curl --silent --show-error --output /dev/stderr --write-out '%{http_code}' --request DELETE \\",
    `  --header "Authorization: Bearer $${TOKEN_VARIABLE}" \\`,
    `  "https://api.bitbucket.org/2.0/repositories/$BITBUCKET_WORKSPACE/$BITBUCKET_REPO_SLUG/pipelines-config/caches?name=${CACHE_NAME}")`,
    "case $status in",
    `  2??) echo "nix-ci-cache: deleted the cache ${CACHE_NAME}; the next step saves it again" ;;`,
    `  404) echo "nix-ci-cache: there was no cache ${CACHE_NAME} to delete; the next step saves it" ;;`,
    `  *) echo "nix-ci-cache: deleting the cache ${CACHE_NAME} failed (HTTP $status)" >&2; exit 1 ;;`,
    "esac",
  ].join("\n");
}

function context(plan: Plan): TemplateContext {
  return {
    cacheName: CACHE_NAME,
    image: "nixos/nix:latest",
    // All script commands run in one shell, so env.sh's settings reach the build;
    // save.sh must be a script command too, because Bitbucket saves caches only
    // after a successful step.
    script: [". .nix-ci-cache/env.sh", plan.build, "sh .nix-ci-cache/save.sh"],
    refreshPipeline: REFRESH_PIPELINE,
    tokenVariable: TOKEN_VARIABLE,
    // Artifacts carry the grown directory from the build step to the step that saves
    // it, past the step that deletes the cache; they take files of the clone directory.
    artifacts: `${plan.cacheDir.replace(/^\.\//, "").replace(/\/+$/, "")}/**`,
    deleteCache: deleteCacheScript(),
  };
}

export const bitbucket: Provider = {
  id: "bitbucket",
  name: "Bitbucket Pipelines",
  pipelinePath: PIPELINE,
  // Bitbucket Cloud's own runners are Linux containers; caches are a feature of them.
  platforms: ["linux"],
  linuxContainer: "the `nixos/nix` image",
  signingKey: "a secured repository variable NIX_CI_CACHE_SIGNING_KEY (every step sees it)",
  keyStrategy:
    "saved only when none exists for its name and the hash of `keyFiles`, never updated, deleted after a week; no fallback. So new store paths reach the cache only when it is saved again: after it expired, after a key file changed, or by the generated custom pipeline `nix-ci-cache-refresh` (schedule it; it needs a repository access token), which deletes it and saves it again with what a build added",
  scope: "one cache per repository, restored and created by every branch's pipelines",
  validatedBy:
    "Bitbucket's cache and artifact rules in a test (no published schema or parser in npm), shellcheck; run on real Nix with Bitbucket's runner and those rules emulated, the refresh pipeline included (the REST call to a stub)",
  detectEnv: "BITBUCKET_BUILD_NUMBER",
  detectFiles: [PIPELINE],
  saveOnFailure: false,
  cacheLimit: "1 GB per cache once compressed (larger caches are not saved); saved only after a successful step; kept 1 week",
  defaultBudget: () => ({
    size: "800M",
    why: "Bitbucket does not save a cache larger than 1 GB once compressed, and zstd NARs barely compress further",
  }),
  rules: (config) =>
    cacheDirInside(
      config,
      "Bitbucket artifacts, which carry the cache to the step that saves it again in the refresh pipeline, take only files inside the clone directory",
    ),
  context,
};
