import { stringify } from "../lazy.js";
import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { actionsCacheKeys, type StepIds, saveWhenAdded, stepIds } from "./actions.js";
import { workflowRunners } from "./github-runners.js";
import { expr } from "./shared.js";
import type { Budget, Provider } from "./types.js";

/** The runners of the generated workflow unless `runners` names others. */
export const RUNNERS: Record<Platform, string> = { linux: "ubuntu-latest", darwin: "macos-latest" };
const WORKFLOWS = ".github/workflows";

/**
 * Pinned majors (docs/versions.md). actions/cache@v5 and actions/checkout from v5 on
 * run on Node 24, which GitHub's runners use for every action since 2026-06-02, and
 * need Actions Runner 2.327.1 or later (actions/cache RELEASES.md).
 */
/**
 * GitHub keeps 10 GB of caches per repository by default (more can be bought), evicts
 * entries unused for 7 days, and over the limit the least recently used first; every
 * save with a new key is a new entry (github/docs dependency-caching.md). A repository
 * typically holds, per platform, the default branch's latest entry, its previous one
 * (until it is evicted) and a pull request's: the budget lets those fit in 9 GiB,
 * leaving 1 GiB for the repository's other caches, so that pull requests' entries do
 * not push out the default branch's.
 */
const REPOSITORY_CACHE_MIB = 9 * 1024;
const ENTRIES_PER_PLATFORM = 3;

function budget(platforms: Platform[]): Budget {
  const mib = Math.floor(REPOSITORY_CACHE_MIB / (ENTRIES_PER_PLATFORM * platforms.length));
  const size = mib % 1024 === 0 ? `${mib / 1024}G` : `${mib}M`;
  const per = platforms.length > 1 ? `for each of ${platforms.length} platforms ` : "";
  return {
    size,
    why: `GitHub keeps 10 GB of caches per repository by default, least recently used evicted first, and every save is a new entry: ${size} lets ${per}the default branch's latest and previous entries and a pull request's fit, with 1 GB to spare`,
  };
}

const GITHUB_ACTIONS = {
  checkout: "actions/checkout@v7",
  restore: "actions/cache/restore@v5",
  save: "actions/cache/save@v5",
  installNix: "cachix/install-nix-action@v31",
} as const;

/** What our steps' conditions and keys refer to: their ids. */
export function githubStepContext(ids: StepIds) {
  return {
    ids,
    writeStep: ids.write,
    saveCondition: `always() && steps.${ids.restore}.outcome == 'success' && (${saveWhenAdded(ids.write)})`,
    savedKey: expr(`steps.${ids.restore}.outputs.cache-primary-key`),
  };
}

/** A label, or several in flow style (`[self-hosted, macOS, ARM64]`), for the matrix. */
const runnerLabel = (runner: string | string[]) =>
  typeof runner === "string" ? scalar(runner) : `[${runner.map(scalar).join(", ")}]`;
const scalar = (value: string) => stringify(value).trimEnd();

export const github: Provider = {
  id: "github",
  name: "GitHub Actions",
  pipelinePath: ".github/workflows/nix.yml",
  platforms: ["linux", "darwin"],
  signingKey:
    "a repository secret NIX_CI_CACHE_SIGNING_KEY, which the workflow passes to save.sh (`gh secret set NIX_CI_CACHE_SIGNING_KEY`); pull requests from forks get none and save nothing",
  keyStrategy: "immutable: `nix-ci-cache-<os>-<arch>-<hash of keyFiles>-<run id>-<attempt>`, restored by prefix",
  scope: "a branch sees its own caches and the default branch's; pull requests cannot write the default branch's",
  validatedBy:
    "actionlint, `@actions/workflow-parser`, shellcheck; run on real Nix with GitHub's runner and cache emulated and every `if:` evaluated by `@actions/expressions` (cold, warm without a save, failed save.sh)",
  detectEnv: "GITHUB_ACTIONS",
  detectFiles: [WORKFLOWS],
  saveOnFailure: true,
  cacheLimit:
    "10 GB per repository by default (owners can raise it; usage beyond 10 GB is billed), shared by all its caches; least recently used entries are evicted when over, and entries unused for 7 days; at most 200 uploads a minute; each save is a new entry, made only when save.sh added paths",
  defaultBudget: budget,
  context(plan: Plan) {
    return {
      checkoutAction: GITHUB_ACTIONS.checkout,
      restoreAction: GITHUB_ACTIONS.restore,
      saveAction: GITHUB_ACTIONS.save,
      installNixAction: GITHUB_ACTIONS.installNix,
      ...githubStepContext(stepIds(false)),
      matrix: plan.platforms.map((platform) => ({
        platform,
        runner: runnerLabel(plan.runners[platform] ?? RUNNERS[platform]),
      })),
      runsOn: expr("matrix.runner"),
      ...actionsCacheKeys(plan.keyFiles),
    };
  },
  platformSigns: { path: WORKFLOWS, directory: true, read: workflowRunners },
};
