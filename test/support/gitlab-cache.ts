// An emulation of which cache keys a GitLab job reads and writes, written from GitLab's
// documentation (gitlab-ci-local, which runs our jobs, ignores fallback_keys and the
// protected suffix). The rules, with where they are written down:
//
// - Keys are expanded with the job's variables. CI_COMMIT_REF_SLUG and
//   CI_DEFAULT_BRANCH_SLUG: the name "in lowercase, shortened to 63 bytes, and with
//   everything except 0-9 and a-z replaced with -. No leading / trailing -";
//   CI_DEFAULT_BRANCH is the name as it is (gitlabhq doc/ci/variables/predefined_variables.md).
// - "A suffix is added to the cache key": -protected for jobs on protected branches (and
//   protected tags: "determined by the tag's protection status"), -non_protected
//   otherwise, while the project setting "Use separate caches for protected branches"
//   is on, as it is by default. "Fallback keys follow the same processing logic as
//   cache:key", suffix included (gitlabhq doc/ci/caching/_index.md).
// - cache:unprotect: true: "users without access to protected branches can read and
//   write to cache keys used by protected branches" (doc/ci/yaml/_index.md); the design
//   issue says it "uses the non_protected suffix in all cases"
//   (https://gitlab.com/gitlab-org/gitlab/-/issues/362114). Either way protected and
//   unprotected jobs then share keys, which is all the emulation relies on.
// - A job restores the first key that exists, in order: cache:key, then each of
//   fallback_keys (the global CACHE_FALLBACK_KEY is not used by our files). It saves
//   under cache:key, with `when: always` also after a failure.
// - Runner 18.2 refuses an expanded key with "/" (gitlab-org/gitlab-runner#38933); later
//   runners rewrite it. Either way such a key never matches what the default branch saved.

export interface GitlabCacheStanza {
  key: string;
  fallback_keys?: string[];
  unprotect?: boolean;
}

/** A job as GitLab's cache sees it. */
export interface GitlabJob {
  /** The branch or tag the pipeline runs for (CI_COMMIT_REF_NAME). */
  ref: string;
  /** Whether that branch or tag is protected. */
  protected: boolean;
  /** The project's default branch (CI_DEFAULT_BRANCH). */
  defaultBranch: string;
}

export interface GitlabCacheKeys {
  /** Keys tried on restore, in order. */
  reads: string[];
  /** The key the cache is saved under. */
  writes: string;
}

/** CI_COMMIT_REF_SLUG's rule. */
export function gitlabSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^0-9a-z]/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
}

function expand(text: string, job: GitlabJob): string {
  const vars: Record<string, string> = {
    CI_COMMIT_REF_NAME: job.ref,
    CI_COMMIT_REF_SLUG: gitlabSlug(job.ref),
    CI_DEFAULT_BRANCH: job.defaultBranch,
    CI_DEFAULT_BRANCH_SLUG: gitlabSlug(job.defaultBranch),
  };
  const expanded = text.replace(/\$\{?([A-Z_]+)\}?/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`the emulation does not know $${name}`);
    return value;
  });
  if (expanded.includes("/")) throw new Error(`cache key "${expanded}" has a "/", which GitLab Runner refuses or rewrites`);
  return expanded;
}

export function gitlabCacheKeys(cache: GitlabCacheStanza, job: GitlabJob): GitlabCacheKeys {
  const suffix = cache.unprotect || !job.protected ? "-non_protected" : "-protected";
  const key = (k: string) => `${expand(k, job)}${suffix}`;
  return { reads: [cache.key, ...(cache.fallback_keys ?? [])].map(key), writes: key(cache.key) };
}
