// The generated files of a config, in memory, and what writing them would change on disk.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config.js";
import { MARKER, makePlan } from "./plan.js";
import { everyTemplatePath, type Rendered, render } from "./render.js";
import { type Change, planChanges, staleChanges } from "./write.js";

/** Lists what we generated, so that a later config's generate can remove what it no longer wants. */
export const MANIFEST_PATH = ".nix-ci-cache/manifest";

function manifest(paths: string[]): string {
  return `${MARKER}
# The files nix-ci-cache generated here. When a later config no longer wants one of
# them, generate removes it, unless it lost the line above (then it is yours).
${paths.join("\n")}
`;
}

/** Every file of the config, the manifest among them. */
export function synth(config: Config): Rendered {
  const rendered = render(makePlan(config));
  const paths = rendered.files.map((f) => f.path).sort();
  return { ...rendered, files: [...rendered.files, { path: MANIFEST_PATH, content: manifest(paths), mode: 0o644 }] };
}

function manifestPaths(root: string): string[] {
  const path = join(root, MANIFEST_PATH);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith("/") && !line.split("/").includes(".."));
}

export interface Changes {
  changes: Change[];
  /** Files generated once and no longer wanted that lost our marker: the user's, kept. */
  kept: string[];
}

/** What writing the config's files would do, removals of what we no longer generate included. */
export function changesFor(root: string, rendered: Rendered, force: boolean): Changes {
  const changes = planChanges(root, rendered, force);
  const wanted = new Set([...rendered.files.map((f) => f.path), ...rendered.userFiles.map((f) => f.path)]);
  const stale = staleChanges(root, [...manifestPaths(root), ...everyTemplatePath()], wanted);
  return { changes: [...changes, ...stale.remove], kept: stale.kept };
}
