import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { INSTALL_NIX_UNLESS_PRESENT } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = "Jenkinsfile";
/** The reusable piece: loaded by the Jenkinsfile, kept up to date by generate. */
const LIBRARY = ".jenkins/nix-ci-cache.groovy";

/** Agent labels are each site's own; these are the usual ones. */
const LABELS: Record<Platform, string> = { linux: "linux", darwin: "macos" };

/** Job Cacher's `defaultBranch`: a branch without a cache of its own starts from this one's. */
const DEFAULT_BRANCH = "main";

/** A Groovy single-quoted string: only `\` and `'` are special. */
const groovyString = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

/**
 * The body of an `sh '''…'''` step, indented: Groovy reads `\` as an escape and
 * `'''` as the end even there.
 */
const groovyScript = (text: string, indent: number) =>
  text
    .replace(/\n+$/, "")
    .replaceAll("\\", "\\\\")
    .replaceAll("'''", "\\'\\'\\'")
    .split("\n")
    .map((line) => (line ? " ".repeat(indent) + line : ""))
    .join("\n");

function context(plan: Plan): TemplateContext {
  const MiB = 1024 * 1024;
  return {
    // The library is Groovy: the marker is a `//` comment.
    marker: plan.marker.replace(/^#/, "//"),
    libraryPath: LIBRARY,
    cachePath: groovyString(plan.cacheDir),
    // Job Cacher deletes the whole cache once it is larger than maxCacheSize (MB);
    // save.sh keeps it under maxSize, so this is only a backstop above it.
    maxCacheSizeMb: Math.ceil((plan.maxSizeBytes * 1.25) / MiB),
    defaultBranch: groovyString(DEFAULT_BRANCH),
    installNix: INSTALL_NIX_UNLESS_PRESENT,
    build: groovyScript(plan.build, 36),
    stages: plan.platforms.map((platform) => ({
      platform,
      label: groovyString(LABELS[platform]),
    })),
  };
}

export const jenkins: Provider = {
  id: "jenkins",
  name: "Jenkins",
  pipelinePath: `${PIPELINE} (+ ${LIBRARY})`,
  platforms: ["linux", "darwin"],
  signingKey:
    "your Jenkinsfile's: bind a secret-text credential as NIX_CI_CACHE_SIGNING_KEY around the build (`withCredentials`), or a secret file as NIX_CI_CACHE_SIGNING_KEY_FILE",
  keyStrategy:
    "mutable (Job Cacher): one cache per job, so per branch and pull request, overwritten by each build; a branch without one starts from `main`'s",
  scope:
    "each branch and pull request job has its own cache and only reads `main`'s, so a pull request cannot write the default branch's",
  validatedBy:
    "Job Cacher's step syntax and the declarative structure checked by a test, shellcheck; run on real Nix with the agent and Job Cacher emulated (branch, pull request, failed build)",
  detectEnv: "JENKINS_URL",
  detectFiles: [PIPELINE],
  saveOnFailure: true,
  cacheLimit:
    "the controller's disk (or S3), per job and branch; no expiry; above `maxCacheSize` Job Cacher deletes the whole cache",
  defaultBudget: () => ({
    size: "2G",
    why: "Job Cacher keeps one copy per job and branch on the controller's disk, and deletes all of it above maxCacheSize",
  }),
  context,
  userFiles: [
    {
      path: PIPELINE,
      // Groovy cannot be edited safely from here: a Jenkinsfile of the user's is left
      // as it is, and docs/providers.md shows the withNixCache lines to add to it.
      update: () => undefined,
    },
  ],
  platformSigns: { path: PIPELINE, darwin: [/label|agent/, /mac|darwin/i], linux: [/label|agent/, /linux/i] },
};
