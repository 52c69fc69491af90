// What GitHub Actions and Forgejo Actions workflows share about saving the cache.

/** The id of the step that runs save.sh, whose `added` output (paths added) decides the save. */
export const WRITE_STEP = "write";

/**
 * Save only when save.sh added paths, or when it failed (it then writes no output; what
 * it wrote is still worth keeping). Not `outputs.added != '0'` alone: Actions
 * expressions compare loosely, a missing output is null, and null equals '0'
 * (https://docs.github.com/actions/reference/workflows-and-actions/expressions#operators).
 */
export const SAVE_WHEN_ADDED = `steps.${WRITE_STEP}.outcome != 'success' || steps.${WRITE_STEP}.outputs.added != '0'`;
