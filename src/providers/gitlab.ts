import { normalize } from "node:path";
import { isMap, isScalar, type Node, parseDocument, type YAMLMap } from "../lazy.js";
import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { appendItem, eolOf, indentLines, insertAt, lineStart } from "../yaml-splice.js";
import { cacheDirInside, INSTALL_NIX_HERE_LINES, SOURCE_NIX_PROFILE } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const INCLUDE_FILE = ".gitlab/nix-ci-cache.yml";
const PIPELINE = ".gitlab-ci.yml";

/** GitLab.com's hosted macOS runners are chosen by tag. */
const DARWIN_TAGS = ["saas-macos-medium-m1"];

const hiddenJobName = (platform: Platform) => (platform === "linux" ? ".nix-ci-cache" : ".nix-ci-cache-darwin");

/**
 * How long after_script may run (Runner 16.4 and later; before that, and by default, 5
 * minutes). It only saves when the job ended before its EXIT trap could (a cancelled
 * job), and a first save of a cache near its budget can take longer than 5 minutes on
 * a slow runner: past the limit the runner kills it and the job stays green.
 * https://docs.gitlab.com/ci/yaml/#after_script ("Have a separate timeout"),
 * https://docs.gitlab.com/ci/runners/configure_runners/ (RUNNER_AFTER_SCRIPT_TIMEOUT).
 */
const AFTER_SCRIPT_TIMEOUT = "30m";

/** Written when the EXIT trap's save succeeded; per job id, so a workspace kept from an earlier job cannot hide a missing save. */
const SAVED = ".nix-ci-cache/state/saved-$CI_JOB_ID";

/**
 * save.sh runs on the way out of the job's own shell (before_script and script share
 * one, https://docs.gitlab.com/ci/yaml/#before_script), where the job's timeout
 * applies instead of after_script's. The runner runs the commands in a subshell of its
 * script (`: | eval …`, gitlab-runner shells/bash.go), so this trap replaces none of
 * the runner's own. It keeps the job's exit status: a failed save does not fail a
 * passing job, as a failed after_script never did. The script may change directory:
 * the project's is taken now, where before_script starts.
 */
const SAVE_ON_EXIT = [
  "nix_ci_cache_root=$PWD",
  "nix_ci_cache_save() {",
  "  nix_ci_cache_status=$?",
  `  sh "$nix_ci_cache_root/.nix-ci-cache/save.sh" && touch "$nix_ci_cache_root/${SAVED}"`,
  '  exit "$nix_ci_cache_status"',
  "}",
  "trap nix_ci_cache_save EXIT",
].join("\n");

/**
 * after_script, which starts in the project directory, saves only when the trap did not:
 * the job was cancelled or killed first, or the trap's save failed (one more try).
 */
const SAVE_IF_NOT_SAVED = [
  `[ -e "${SAVED}" ] || {`,
  "  echo 'nix-ci-cache: the EXIT trap did not save the cache (the job was cancelled, or the save failed); saving now'",
  "  sh .nix-ci-cache/save.sh",
  "}",
].join("\n");

function context(plan: Plan): TemplateContext {
  // Signed, protected and unprotected branches share one cache: unprotected jobs can
  // write it, but every job accepts only entries signed by the key, which only
  // protected branches get (a protected CI/CD variable). Unsigned, GitLab's default
  // separation stays, so that no unprotected job writes what protected jobs restore.
  const unprotect = plan.publicKey !== "";
  return {
    includeFile: INCLUDE_FILE,
    unprotect,
    afterScriptTimeout: AFTER_SCRIPT_TIMEOUT,
    saveOnExit: SAVE_ON_EXIT,
    saveIfNotSaved: SAVE_IF_NOT_SAVED,
    // On macOS runners, which may not have Nix: before_script and script share its
    // shell; after_script is a shell of its own.
    installNix: INSTALL_NIX_HERE_LINES,
    sourceNixProfile: SOURCE_NIX_PROFILE,
    jobs: plan.platforms.map((platform) => ({
      platform,
      name: hiddenJobName(platform),
      buildJob: platform === "linux" ? "nix-build" : "nix-build-darwin",
      // Keys are mutable on GitLab: one key per branch, overwritten by each run.
      key: `nix-ci-cache-${platform}-$CI_COMMIT_REF_SLUG`,
      // The key the default branch saves under: CI_DEFAULT_BRANCH is the name as is
      // (capitals, "/", "."), CI_DEFAULT_BRANCH_SLUG is slugged like CI_COMMIT_REF_SLUG.
      // https://docs.gitlab.com/ci/variables/predefined_variables/
      fallbackKey: `nix-ci-cache-${platform}-$CI_DEFAULT_BRANCH_SLUG`,
      tags: platform === "darwin" ? DARWIN_TAGS : [],
      installsNix: platform === "darwin",
    })),
  };
}

function includesOurFile(include: unknown): boolean {
  const entries = Array.isArray(include) ? include : [include];
  return entries.some((entry) => {
    if (typeof entry === "string") return normalize(entry.replace(/^\//, "")) === INCLUDE_FILE;
    if (entry && typeof entry === "object" && "local" in entry) {
      return normalize(String((entry as { local: unknown }).local).replace(/^\//, "")) === INCLUDE_FILE;
    }
    return false;
  });
}

/**
 * Adds `- local: .gitlab/nix-ci-cache.yml` to the user's `include:`, splicing lines into
 * the text so that every byte of theirs stays as written (comments, spacing, flow lists).
 */
function addInclude(existing: string): string | undefined {
  const doc = parseDocument(existing, { keepSourceTokens: true });
  if (doc.errors.length > 0) {
    throw new Error(
      `${PIPELINE}: cannot add our include because the file is not valid YAML: ${doc.errors[0]?.message.split("\n")[0]}`,
    );
  }
  const root = doc.contents;
  const byHand = `add "include: [{local: ${INCLUDE_FILE}}]" by hand`;
  if (root !== null && !isMap(root)) throw new Error(`${PIPELINE}: the top level is not a mapping; ${byHand}`);
  const eol = eolOf(existing);
  if (root === null) {
    // Only comments, or nothing: keep them and add the include below.
    return insertAt(existing, existing.length, indentLines(["include:", `  - local: ${INCLUDE_FILE}`], 0, eol));
  }
  if (includesOurFile(doc.toJS()?.include)) return undefined;
  const include = (root as YAMLMap).get("include", true) as Node | undefined;
  const entry = `local: ${INCLUDE_FILE}`;
  if (include === undefined) {
    const first = (root as YAMLMap).items[0]?.key as Node | undefined;
    const at = first?.range ? lineStart(existing, first.range[0]) : existing.length;
    return insertAt(existing, at, indentLines(["include:", `  - ${entry}`], 0, eol));
  }
  // A single include (a string or a {…} mapping) becomes a list holding it and ours.
  const single = (node: Node) => isScalar(node) || (isMap(node) && node.flow === true);
  return appendItem(existing, include, { flow: `{${entry}}`, block: entry }, single, (why) => {
    throw new Error(
      why === "layout"
        ? `${PIPELINE}: its include list is written in a way we cannot add to; ${byHand}`
        : `${PIPELINE}: its include is a mapping over several lines, which we do not rewrite; ${byHand}`,
    );
  });
}

export const gitlab: Provider = {
  id: "gitlab",
  name: "GitLab CI",
  pipelinePath: ".gitlab-ci.yml (+ .gitlab/nix-ci-cache.yml)",
  platforms: ["linux", "darwin"],
  linuxContainer: "the `nixos/nix` image",
  signingKey:
    "a CI/CD variable NIX_CI_CACHE_SIGNING_KEY, masked and protected: signed, the generated file shares one cache between protected and unprotected branches (`cache:unprotect`), and only protected branches get the key to sign what it holds",
  keyStrategy:
    "mutable: one key per branch, `fallback_keys` to the default branch's; GitLab keeps protected and unprotected branches' caches apart, so a new unprotected branch starts from the default branch's only when the cache is signed (then `cache:unprotect`)",
  scope:
    "protected and unprotected branches have separate caches, so unprotected branches and their merge requests cannot write what the default branch restores; but new unprotected branches start cold until the cache is signed, which lets them start from the default branch's",
  validatedBy:
    "GitLab's JSON schema (gitlab-ci-local), shellcheck; jobs run by gitlab-ci-local on real Nix, with its own cache on one branch (cold, warm, failed) and in place (failed, killed, failed save); across branches GitLab's key rules emulated (protected suffix, `fallback_keys`, `unprotect`; unsigned and signed)",
  detectEnv: "GITLAB_CI",
  detectFiles: [PIPELINE],
  saveOnFailure: true,
  cacheLimit: "5 GB per cache archive on GitLab.com, kept 14 days; paths must be inside the project",
  defaultBudget: () => ({ size: "4G", why: "GitLab.com does not keep a cache archive over 5 GB" }),
  rules: (config) => cacheDirInside(config, "GitLab only caches paths inside the project directory"),
  context,
  userFiles: [
    {
      path: PIPELINE,
      update: addInclude,
    },
  ],
  platformSigns: { path: PIPELINE, darwin: [/macos/i, /tags|saas-|image/] },
};
