// The generated files of a config, in memory, and what writing them would change on disk.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Config, MARKER } from "./model.js";
import { splitInto } from "./pipelines/into.js";
import { providerOfPath } from "./pipelines/jobs.js";
import { makePlan } from "./plan.js";
import { chainEdit, createEngine, everyTemplatePath, type Rendered, render } from "./render.js";
import { unwireJob, withWiring } from "./wire/index.js";
import { type Change, changesOnDisk, staleChanges } from "./write.js";

/** Lists what we generated, so that a later config's generate can remove what it no longer wants. */
export const MANIFEST_PATH = ".nix-ci-cache/manifest";

/** Marks the jobs of the user's pipelines that got our part, so that it can be taken out again. */
const WIRED = "wired: ";

function manifest(paths: string[], wired: string[]): string {
  return `${MARKER}
# The files nix-ci-cache generated here. When a later config no longer wants one of
# them, generate removes it, unless it lost the line above (then it is yours); and a
# job listed as wired that the config no longer names gets our steps taken out.
${[...paths, ...wired.map((entry) => `${WIRED}${entry}`)].join("\n")}
`;
}

/** Every file of the config: the rendered ones, the edits of wired jobs, and the manifest. */
export function synth(config: Config): Rendered {
  const plan = makePlan(config);
  const hb = createEngine();
  const rendered = withWiring(render(plan, hb), plan, hb);
  const paths = rendered.files.map((f) => f.path).sort();
  const content = manifest(paths, config.into);
  return { ...rendered, files: [...rendered.files, { path: MANIFEST_PATH, content, mode: 0o644 }] };
}

/** What the last generate wrote down: its files, and the jobs it wired. */
function readManifest(root: string): { paths: string[]; wired: string[] } {
  const path = join(root, MANIFEST_PATH);
  const lines = existsSync(path) ? readFileSync(path, "utf8").split("\n") : [];
  // Only paths inside the project: a manifest is text anyone could have edited.
  const inside = (p: string) => p !== "" && !p.startsWith("#") && !p.startsWith("/") && !p.split("/").includes("..");
  return {
    paths: lines.filter((line) => !line.startsWith(WIRED)).filter(inside),
    wired: lines
      .filter((line) => line.startsWith(WIRED))
      .map((line) => line.slice(WIRED.length))
      .filter(inside),
  };
}

/**
 * The jobs wired before and no longer named get our part taken out: their file's edit
 * (if it has one) starts from the text without it.
 */
function withUnwired(rendered: Rendered, wiredBefore: string[], into: string[]): Rendered {
  const dropped = wiredBefore.filter((entry) => !into.includes(entry)).map(splitInto);
  if (dropped.length === 0) return rendered;
  let userFiles = rendered.userFiles;
  for (const file of [...new Set(dropped.map((d) => d.file))]) {
    const provider = providerOfPath(file);
    if (provider === undefined) continue;
    const jobs = dropped.filter((d) => d.file === file).map((d) => d.job);
    const unwire = (text: string) => jobs.reduce((current, job) => unwireJob(current, provider, job), text);
    userFiles = chainEdit(userFiles, file, unwire, { first: true, onlyIfPresent: true });
  }
  return { ...rendered, userFiles };
}

export interface Changes {
  changes: Change[];
  /** Files generated once and no longer wanted that lost our marker: the user's, kept. */
  kept: string[];
}

/** What writing the config's files would do, removals of what we no longer generate included. */
export function changesFor(root: string, config: Config, rendered: Rendered, force: boolean): Changes {
  const before = readManifest(root);
  const all = withUnwired(rendered, before.wired, config.into);
  const changes = changesOnDisk(root, all, force);
  const wanted = new Set([...all.files.map((f) => f.path), ...all.userFiles.map((f) => f.path)]);
  const stale = staleChanges(root, [...before.paths, ...everyTemplatePath()], wanted);
  return { changes: [...changes, ...stale.remove], kept: stale.kept };
}
