import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = ".travis.yml";

/** Travis's names for our platforms (its `os:` key). */
const TRAVIS_OS: Record<Platform, string> = { linux: "linux", darwin: "osx" };

/**
 * Seconds Travis may spend uploading the cache. Its default, 180 s, is too short
 * for a cache grown to the budget on a slow link; a timeout silently keeps the old one.
 */
const CACHE_TIMEOUT = 1000;

function context(plan: Plan): TemplateContext {
  return {
    os: plan.platforms.map((platform) => TRAVIS_OS[platform]),
    cacheTimeout: CACHE_TIMEOUT,
  };
}

export const travis: Provider = {
  id: "travis",
  name: "Travis CI",
  pipelinePath: PIPELINE,
  platforms: ["linux", "darwin"],
  signingKey:
    "a repository environment variable NIX_CI_CACHE_SIGNING_KEY, not shown in the build log (every job sees it); pull requests from forks get none and save nothing",
  keyStrategy:
    "mutable: one cache per branch (and per `os`), replaced when it changed; a branch without one reads the default branch's, a pull request its own, then the target branch's, then the default branch's",
  scope: "pull requests read the target and default branch caches but write only their own",
  validatedBy:
    "SchemaStore's Travis schema, the phase rules in a test, shellcheck; run twice on real Nix with Travis's runner and branch caches emulated",
  detectEnv: "TRAVIS",
  detectFiles: [PIPELINE],
  // Travis uploads the cache after the script phase, whatever its result.
  saveOnFailure: true,
  cacheLimit: `no size limit, but the upload must finish within \`cache.timeout\` (default 180 s, ${CACHE_TIMEOUT} s here); archives are gzipped again`,
  defaultBudget: () => ({ size: "2G", why: "Travis must upload the cache within cache.timeout (1000 s in the generated file)" }),
  context,
  platformSigns: { path: PIPELINE, darwin: /\bosx\b|osx_image/ },
};
