// Which jobs of the user's pipelines run Nix: read from the files, never from a config.

import { type Document, isMap, isScalar, type Node, parseDocument, type YAMLMap } from "../lazy.js";

export type WiredProvider = "github" | "forgejo" | "gitlab" | "circleci";

/** A job that runs Nix, and the line that shows it. */
export interface Candidate {
  provider: WiredProvider;
  file: string;
  job: string;
  line: number;
  text: string;
}

export interface Job {
  name: string;
  node: YAMLMap;
}

export const WORKFLOW_DIRS: Array<{ dir: string; provider: WiredProvider }> = [
  { dir: ".github/workflows", provider: "github" },
  { dir: ".forgejo/workflows", provider: "forgejo" },
  // Gitea reads its own directory; the Forgejo actions work there unchanged.
  { dir: ".gitea/workflows", provider: "forgejo" },
];
export const GITLAB_FILE = ".gitlab-ci.yml";
export const CIRCLECI_FILE = ".circleci/config.yml";

/** The provider whose pipeline a path is, if we can wire it. */
export function providerOfPath(path: string): WiredProvider | undefined {
  if (path === GITLAB_FILE) return "gitlab";
  if (path === CIRCLECI_FILE) return "circleci";
  const dir = WORKFLOW_DIRS.find((d) => path.startsWith(`${d.dir}/`) && /^[^/]+\.ya?ml$/.test(path.slice(d.dir.length + 1)));
  return dir?.provider;
}

/** Commands, actions and images that only a job running Nix mentions. */
export const NIX_EVIDENCE =
  /\bnix-build\b|\bnix-shell\b|\bnix-store\b|\bnix-instantiate\b|\bnix (?:build|develop|shell|run|flake check|profile|copy|eval)\b|cachix\/install-nix-action|DeterminateSystems\/(?:nix-installer-action|determinate-nix-action)|nix-quick-install-action|\bnixos\/nix\b|install\.determinate\.systems\/nix|nixos\.org\/nix\/install/;

/** GitLab's top-level keys that are not jobs (https://docs.gitlab.com/ci/yaml/). */
const GITLAB_GLOBALS = new Set([
  "default",
  "include",
  "stages",
  "variables",
  "workflow",
  "spec",
  "image",
  "services",
  "cache",
  "before_script",
  "after_script",
]);

/** A pipeline file parsed with the source positions that splicing needs. */
export const parsePipeline = (text: string): Document => parseDocument(text, { keepSourceTokens: true });

/**
 * The jobs of a pipeline file as written (hidden GitLab jobs and templates excluded),
 * from its text or from the document a caller has parsed already.
 */
export function jobsOf(provider: WiredProvider, source: string | Document): Job[] {
  const doc = typeof source === "string" ? parsePipeline(source) : source;
  if (doc.errors.length > 0 || !isMap(doc.contents)) return [];
  let map: unknown = doc.contents;
  if (provider !== "gitlab") map = doc.contents.get("jobs", true);
  if (!isMap(map)) return [];
  return map.items.flatMap((pair) => {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!isMap(pair.value) || name === "") return [];
    if (provider === "gitlab" && (name.startsWith(".") || GITLAB_GLOBALS.has(name))) return [];
    return [{ name, node: pair.value }];
  });
}

/** The first line of a node's text that shows Nix, 1-based, with its text. */
export function nixLine(text: string, node: Node): { line: number; text: string } | undefined {
  const [start, end] = node.range ?? [0, 0];
  const before = text.slice(0, start).split("\n").length;
  const lines = text.slice(start, end).split("\n");
  const index = lines.findIndex((line) => NIX_EVIDENCE.test(line.replace(/#.*$/, "")));
  return index === -1 ? undefined : { line: before + index, text: (lines[index] ?? "").trim() };
}

/** Pure: the jobs of one pipeline file that run Nix. */
export function nixJobsIn(file: string, text: string): Candidate[] {
  const provider = providerOfPath(file);
  if (!provider) return [];
  const doc = parsePipeline(text);
  const inherited = provider === "gitlab" ? defaultImageLine(text, doc) : undefined;
  return jobsOf(provider, doc).flatMap((job) => {
    // A GitLab job without an image of its own runs in the default one.
    const found = nixLine(text, job.node) ?? (job.node.has("image") ? undefined : inherited);
    return found ? [{ provider, file, job: job.name, ...found }] : [];
  });
}

/** The line of a GitLab pipeline's default image (`default: image:` or top-level `image:`) when it is a Nix image. */
function defaultImageLine(text: string, doc: Document): { line: number; text: string } | undefined {
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
  const defaults = doc.contents.get("default", true);
  // default: wins over the older top-level image (https://docs.gitlab.com/ci/yaml/#default).
  const image = (isMap(defaults) ? defaults.get("image", true) : undefined) ?? doc.contents.get("image", true);
  return image && typeof image === "object" ? nixLine(text, image as Node) : undefined;
}

/** The pipeline files we can wire, as `readFile`/`listDir` show them. */
export function pipelineFiles(listDir: (path: string) => string[], exists: (path: string) => boolean): string[] {
  const files = WORKFLOW_DIRS.flatMap(({ dir }) =>
    listDir(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => `${dir}/${name}`),
  );
  return [...files, ...[GITLAB_FILE, CIRCLECI_FILE].filter(exists)];
}

/** Every job of the repository's pipelines that runs Nix, with the reason. */
export function detectNixJobs(readFile: (path: string) => string | undefined, listDir: (path: string) => string[]): Candidate[] {
  return pipelineFiles(listDir, (p) => readFile(p) !== undefined).flatMap((file) => nixJobsIn(file, readFile(file) ?? ""));
}

/** A step's `uses:`/`run:` text, for matching. */
export function stepText(step: unknown, key: "uses" | "run"): string {
  if (!isMap(step)) return "";
  const value = step.get(key);
  return typeof value === "string" ? value : "";
}

/** The hidden job of ours a GitLab job extends: the macOS one when its tags ask for macOS runners. */
export const hiddenJobFor = (job: YAMLMap) =>
  /macos/i.test(JSON.stringify((job.toJSON() as { tags?: unknown }).tags ?? "")) ? ".nix-ci-cache-darwin" : ".nix-ci-cache";
