import type { Plan } from "../plan.js";
import { actionsCacheKeys, SAVE_WHEN_ADDED, type StepIds, stepIds, WRITE_STEP } from "./actions.js";
import { expr, installNixForLaterSteps, NIX_PROFILE_BIN } from "./shared.js";
import type { Provider } from "./types.js";

const WORKFLOWS = ".forgejo/workflows";
const ACTIONS = ".forgejo/actions/nix-ci-cache";

/**
 * The DeterminateSystems installer is the one that works as root in the runner's
 * default container (no systemd: `--init none`); a runner that has Nix skips it.
 */
const INSTALL_NIX = installNixForLaterSteps(`echo ${NIX_PROFILE_BIN} >>"$GITHUB_PATH"`, "install linux --init none --no-confirm");

export const RESTORE_NAME = "Restore the Nix cache and use it in this job";

/** What our steps' conditions and keys refer to: their ids. */
export function forgejoStepContext(ids: StepIds) {
  return { ids, cacheKeyOutput: expr(`steps.${ids.restore}.outputs.key`) };
}

export const forgejo: Provider = {
  id: "forgejo",
  name: "Forgejo Actions",
  pipelinePath: `${WORKFLOWS}/nix.yml (+ ${ACTIONS}/{restore,save}/action.yml)`,
  // The Forgejo runner runs jobs in Linux containers (label `docker`); Codeberg
  // and most instances offer nothing else.
  platforms: ["linux"],
  linuxContainer: "the runner's job container",
  signingKey:
    "a repository secret NIX_CI_CACHE_SIGNING_KEY (Settings → Actions → Secrets), which the workflow passes to the save action; pull requests from forks get none and save nothing",
  keyStrategy: "immutable: `nix-ci-cache-<os>-<arch>-<hash of keyFiles>-<run id>-<attempt>`, restored by prefix",
  scope:
    "the cache lives on the runner (its built-in cache server) and is shared by every branch and pull request that runner serves",
  validatedBy:
    "actionlint, `@actions/workflow-parser` (workflow and composite actions), SchemaStore's GitHub workflow schema, shellcheck; run twice on real Nix with Forgejo's runner and cache emulated and every `if:` evaluated by `@actions/expressions`",
  detectEnv: "FORGEJO_ACTIONS",
  supersedes: ["github"],
  detectFiles: [WORKFLOWS],
  saveOnFailure: true,
  cacheLimit: "set by the runner's administrator (the cache server keeps entries on the runner's disk)",
  defaultBudget: () => ({
    size: "4G",
    why: "the runner's administrator sets the cache server's limit, and every run that saves keeps a new entry",
  }),
  context(plan: Plan) {
    return {
      actionsDir: ACTIONS,
      runsOn: "docker",
      installNix: INSTALL_NIX,
      ...actionsCacheKeys(plan.keyFiles),
      savedKey: expr("steps.restore.outputs.cache-primary-key"),
      ...forgejoStepContext(stepIds(false, RESTORE_NAME, "nix-cache")),
      keyInput: expr("inputs.key"),
      writeStep: WRITE_STEP,
      saveCondition: `always() && (${SAVE_WHEN_ADDED})`,
    };
  },
};
