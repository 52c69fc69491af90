import { isAbsolute, normalize } from "node:path";
import { isMap, isSeq, parseDocument, type YAMLMap, YAMLSeq } from "yaml";
import { type Config, DEFAULT_CACHE_DIR, type Platform } from "../config.js";
import type { PlatformEvidence, Provider, TemplateContext } from "./types.js";

const INCLUDE_FILE = ".gitlab/nix-ci-cache.yml";
const PIPELINE = ".gitlab-ci.yml";

/** GitLab.com's hosted macOS runners are chosen by tag. */
const DARWIN_TAGS = ["saas-macos-medium-m1"];

const hiddenJobName = (platform: Platform) => (platform === "linux" ? ".nix-ci-cache" : ".nix-ci-cache-darwin");

function context(config: Config): TemplateContext {
  return {
    includeFile: INCLUDE_FILE,
    jobs: config.platforms.map((platform) => ({
      platform,
      name: hiddenJobName(platform),
      buildJob: platform === "linux" ? "nix-build" : "nix-build-darwin",
      // Keys are mutable on GitLab: one key per branch is overwritten by each
      // run, and a new branch starts from the default branch's cache.
      key: `nix-ci-cache-${platform}-$CI_COMMIT_REF_SLUG`,
      fallbackKey: `nix-ci-cache-${platform}-$CI_DEFAULT_BRANCH`,
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

/** Adds `- local: .gitlab/nix-ci-cache.yml` to the user's `include:`, keeping everything else as written. */
function addInclude(existing: string): string | undefined {
  const doc = parseDocument(existing);
  if (doc.errors.length > 0) {
    throw new Error(
      `${PIPELINE}: cannot add our include because the file is not valid YAML: ${doc.errors[0]?.message.split("\n")[0]}`,
    );
  }
  const root = doc.contents;
  if (root !== null && !isMap(root)) {
    throw new Error(`${PIPELINE}: the top level is not a mapping; add "include: [{local: ${INCLUDE_FILE}}]" by hand`);
  }
  if (root === null) {
    // Only comments, or nothing: keep them and add the include below.
    return `${existing}${existing === "" || existing.endsWith("\n") ? "" : "\n"}include:\n  - local: ${INCLUDE_FILE}\n`;
  }
  if (includesOurFile(doc.toJS()?.include)) return undefined;
  const entry = doc.createNode({ local: INCLUDE_FILE });
  const include = (root as YAMLMap).get("include", true);
  if (isSeq(include)) {
    include.items.push(entry);
  } else if (include === undefined) {
    const seq = new YAMLSeq();
    seq.items.push(entry);
    (root as YAMLMap).items.unshift(doc.createPair("include", seq));
  } else {
    // A single include (string or mapping) becomes a list holding it and ours.
    const seq = new YAMLSeq();
    seq.items.push(include, entry);
    (root as YAMLMap).set("include", seq);
  }
  return doc.toString();
}

export const gitlab: Provider = {
  id: "gitlab",
  name: "GitLab CI",
  pipelinePath: ".gitlab-ci.yml (+ .gitlab/nix-ci-cache.yml)",
  platforms: ["linux", "darwin"],
  installsNix: "the `nixos/nix` image; the installer on macOS runners",
  settingsReach: "one shell for before_script and script; after_script sources nothing and save.sh needs nothing",
  signingKey:
    "a CI/CD variable NIX_CI_CACHE_SIGNING_KEY, masked; also protected, so that only protected branches sign and save (every job sees the variables it may see)",
  keyStrategy: "mutable: one key per branch, `fallback_keys` to the default branch",
  scope: "protected and unprotected branches have separate caches by default",
  validatedBy: "GitLab's JSON schema (gitlab-ci-local), shellcheck; run twice by gitlab-ci-local on real Nix",
  detectEnv: "GITLAB_CI",
  detectFiles: [PIPELINE],
  keysImmutable: false,
  saveOnFailure: true,
  cacheLimit: "5 GB per cache archive on GitLab.com, kept 14 days; paths must be inside the project",
  defaultMaxSize: "4G",
  rules(config) {
    return isAbsolute(config.cacheDir) || normalize(config.cacheDir).startsWith("..")
      ? [
          {
            key: "/cacheDir",
            message: `GitLab only caches paths inside the project directory, and "${config.cacheDir}" is outside it; use a relative path such as ${DEFAULT_CACHE_DIR}`,
          },
        ]
      : [];
  },
  context,
  userFiles: [
    {
      path: PIPELINE,
      update: addInclude,
    },
  ],
  detectPlatforms(readFile) {
    const found: PlatformEvidence[] = [];
    const text = readFile(PIPELINE) ?? "";
    for (const line of text.split("\n")) {
      if (/macos/i.test(line) && /tags|saas-|image/.test(line))
        found.push({ platform: "darwin", file: PIPELINE, line: line.trim() });
    }
    return found;
  },
};
