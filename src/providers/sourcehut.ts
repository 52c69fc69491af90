import type { Plan } from "../plan.js";
import { shellQuote } from "../text.js";
import type { Provider, TemplateContext } from "./types.js";

const MANIFEST = ".build.yml";

/**
 * builds.sr.ht clones the repository into ~/<name> and starts every task in ~;
 * the name is not known here, so go to the clone that holds our files.
 */
const CD_PROJECT = 'for nix_ci_cache_dir in ~/*/.nix-ci-cache; do cd "$nix_ci_cache_dir/.." || exit; break; done';
const RSYNC = 'rsync -a -e "ssh -o StrictHostKeyChecking=accept-new"';

function context(plan: Plan): TemplateContext {
  const cache = shellQuote(plan.cacheDir);
  return {
    signingKeyFile: "/home/build/.nix-ci-cache-signing-key",
    restoreScript: [
      CD_PROJECT,
      'if [ -n "${NIX_CI_CACHE_REMOTE:-}" ]; then',
      `  mkdir -p ${cache}`,
      `  ${RSYNC} "$NIX_CI_CACHE_REMOTE/" ${cache}/ || echo "nix-ci-cache: nothing restored from $NIX_CI_CACHE_REMOTE (first build?)"`,
      "else",
      '  echo "nix-ci-cache: NIX_CI_CACHE_REMOTE is empty: building without a cache"',
      "fi",
    ].join("\n"),
    buildScript: [
      CD_PROJECT,
      ". .nix-ci-cache/env.sh",
      // Tasks stop at the first failure and none runs after a failed one: the save
      // runs on the way out of this task, also after a failed build, keeping its status.
      "nix_ci_cache_save() {",
      '  sh .nix-ci-cache/save.sh || echo "nix-ci-cache: save.sh failed" >&2',
      '  if [ -n "${NIX_CI_CACHE_REMOTE:-}" ]; then',
      `    ${RSYNC} ${cache}/ "$NIX_CI_CACHE_REMOTE/" || echo "nix-ci-cache: could not upload the cache to $NIX_CI_CACHE_REMOTE" >&2`,
      "  fi",
      "}",
      "trap nix_ci_cache_save EXIT",
      plan.build.replace(/\n+$/, ""),
    ].join("\n"),
  };
}

export const sourcehut: Provider = {
  id: "sourcehut",
  name: "SourceHut builds",
  pipelinePath: MANIFEST,
  // builds.sr.ht runs Linux and BSD virtual machines, no macOS.
  platforms: ["linux"],
  signingKey:
    "a file secret (builds.sr.ht secrets) at /home/build/.nix-ci-cache-signing-key, whose UUID you add under `secrets:`; the manifest names it in NIX_CI_CACHE_SIGNING_KEY_FILE, and builds without it save nothing",
  keyStrategy:
    "none: builds.sr.ht has no cache; a remote you provide (rsync over ssh, key as a secret) is restored before and added to after every build",
  scope: "whoever holds the ssh key secret writes the remote; builds.sr.ht gives secrets only to builds their owner submits",
  validatedBy:
    "SchemaStore's builds.sr.ht schema, shellcheck; run twice on real Nix with the builds.sr.ht runner emulated and a local directory as the remote",
  detectEnv: "CI_NAME=sourcehut",
  detectFiles: [MANIFEST, ".builds"],
  // The build task saves on its way out (trap), also after a failed build.
  saveOnFailure: true,
  cacheLimit: "no cache feature: the remote's space is yours; the remote only grows (save.sh prunes the local copy)",
  defaultBudget: () => ({ size: "4G", why: "the remote is yours and only grows; 4G keeps each build's copy short" }),
  context,
};
