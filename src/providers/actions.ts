// What GitHub Actions and Forgejo Actions workflows share about saving the cache.

import { expr } from "./shared.js";

/** The id of the step that runs save.sh, whose `added` output (paths added) decides the save. */
export const WRITE_STEP = "write";

/**
 * Save only when save.sh added paths, or when it failed (it then writes no output; what
 * it wrote is still worth keeping). Not `outputs.added != '0'` alone: Actions
 * expressions compare loosely, a missing output is null, and null equals '0'
 * (https://docs.github.com/actions/reference/workflows-and-actions/expressions#operators).
 */
export const saveWhenAdded = (writeStep: string) =>
  `steps.${writeStep}.outcome != 'success' || steps.${writeStep}.outputs.added != '0'`;

export const SAVE_WHEN_ADDED = saveWhenAdded(WRITE_STEP);

/**
 * Ids and names of our steps. In our own nix.yml they are short; in a job of the
 * user's they carry our name, so that they cannot clash with the user's step ids and a
 * later run finds them again (wire/actions.ts).
 */
export interface StepIds {
  restore: string;
  write: string;
  /**
   * In a job of the user's, our `run:` steps start at the repository's root whatever
   * `defaults.run.working-directory` says: env.sh and save.sh are found from there.
   */
  workingDirectory: string;
  names: { restore: string; env: string; write: string; save: string };
}

export const WIRED_PREFIX = "nix-ci-cache";

export function stepIds(wired: boolean, restoreName = "Restore the Nix cache", restoreId = "restore"): StepIds {
  const name = (text: string) => (wired ? `${WIRED_PREFIX}: ${text[0]?.toLowerCase()}${text.slice(1)}` : text);
  return {
    restore: wired ? `${WIRED_PREFIX}-restore` : restoreId,
    write: wired ? `${WIRED_PREFIX}-write` : WRITE_STEP,
    workingDirectory: wired ? "." : "",
    names: {
      restore: name(restoreName),
      env: name("Use the Nix cache in this job"),
      write: name("Write new store paths to the Nix cache"),
      save: name("Save the Nix cache"),
    },
  };
}

/**
 * The cache key and restore keys. Keys are immutable (on GitHub's cache service and on
 * the Forgejo runner's cache server alike): a new key every run lets the grown cache be
 * saved, and the prefixes restore the newest earlier save.
 */
export function actionsCacheKeys(keyFiles: string[]): { key: string; restoreKeys: string[] } {
  const prefix = `nix-ci-cache-${expr("runner.os")}-${expr("runner.arch")}-`;
  const withHash = keyFiles.length
    ? `${prefix}${expr(`hashFiles(${keyFiles.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ")})`)}-`
    : prefix;
  return {
    key: `${withHash}${expr("github.run_id")}-${expr("github.run_attempt")}`,
    restoreKeys: keyFiles.length ? [withHash, prefix] : [prefix],
  };
}
