import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { createTwoFilesPatch } from "./lazy.js";
import { MARKER_TEXT } from "./model.js";
import type { Rendered } from "./render.js";

export type ChangeKind = "create" | "update" | "unchanged" | "foreign" | "remove";

/**
 * What writing one file would do. `foreign` means it exists without our marker; `remove`
 * that we generated it once, no longer do, and it still carries the marker.
 */
export interface Change {
  path: string;
  kind: ChangeKind;
  before: string | undefined;
  after: string;
  mode: number;
}

/** A file is ours when one of its first lines carries the marker. */
export function isGenerated(content: string): boolean {
  return content.split("\n", 3).some((line) => line.includes(MARKER_TEXT));
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}

function executableBitDiffers(path: string, mode: number): boolean {
  return ((statSync(path).mode & 0o111) !== 0) !== ((mode & 0o111) !== 0);
}

/** Compares the rendered files with the disk without writing anything. */
export function changesOnDisk(root: string, rendered: Rendered, force: boolean): Change[] {
  const changes: Change[] = rendered.files.map((file) => {
    const before = readIfExists(join(root, file.path));
    let kind: ChangeKind;
    if (before === undefined) kind = "create";
    else if (before === file.content && !executableBitDiffers(join(root, file.path), file.mode)) kind = "unchanged";
    else if (!isGenerated(before) && !force) kind = "foreign";
    else kind = "update";
    return { path: file.path, kind, before, after: file.content, mode: file.mode };
  });
  for (const file of rendered.userFiles) {
    const before = readIfExists(join(root, file.path));
    if (before === undefined && file.onlyIfPresent) continue;
    const after = before === undefined ? file.seed : file.update(before);
    changes.push({
      path: file.path,
      kind: before === undefined ? "create" : after === undefined ? "unchanged" : "update",
      before,
      after: after ?? before ?? "",
      mode: 0o644,
    });
  }
  return changes;
}

/**
 * Files we generated before and no longer do: each of `candidates` that exists, is not
 * wanted now, and still carries our marker. One that lost the marker is the user's now.
 */
export function staleChanges(
  root: string,
  candidates: Iterable<string>,
  wanted: Set<string>,
): { remove: Change[]; kept: string[] } {
  const remove: Change[] = [];
  const kept: string[] = [];
  for (const path of new Set(candidates)) {
    if (wanted.has(path)) continue;
    const before = readIfExists(join(root, path));
    if (before === undefined) continue;
    if (isGenerated(before)) remove.push({ path, kind: "remove", before, after: "", mode: 0o644 });
    else kept.push(path);
  }
  return { remove, kept };
}

/** A write that failed, with the path and what to do; nothing was changed. */
export class WriteError extends Error {}

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a parent is a file, not a directory",
  EISDIR: "it is a directory",
};

function writeError(root: string, path: string, error: unknown): WriteError {
  const code = (error as { code?: string }).code ?? "";
  // The directory to fix is the nearest one that exists: the others are made inside it.
  let where = dirname(join(root, path));
  while (!existsSync(where) && dirname(where) !== where) where = dirname(where);
  const fix =
    code === "ENOSPC" || code === "EDQUOT"
      ? "free some space and run again"
      : code === "EROFS"
        ? "run it where the repository is writable"
        : code === "ENOTDIR"
          ? `${where} is a file where a directory must be; move it away, then run again`
          : `make ${where} writable for you (see ls -ld '${where}'; e.g. sudo chown -R "$(id -un)" '${where}'), then run again`;
  return new WriteError(`${path}: cannot write (${REASONS[code] ?? (error as Error).message}); nothing was changed: ${fix}`);
}

/** The directories `mkdir -p` would create for `dir`, outermost first. */
function missingDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
  return missing;
}

/**
 * Writes all or nothing: every file goes to a temporary file beside it first, and only
 * when all are written are they renamed into place, so an error (a directory the user
 * cannot write, a full disk) leaves the setup as it was and names the path.
 */
export function applyChanges(root: string, changes: Change[]): void {
  const foreign = changes.filter((c) => c.kind === "foreign");
  if (foreign.length > 0) throw new ForeignFilesError(foreign.map((c) => c.path));
  const writes = changes.filter((c) => c.kind === "create" || c.kind === "update");
  const staged: Array<{ change: Change; temporary: string }> = [];
  const made: string[] = [];
  const undoStaging = () => {
    for (const { temporary } of staged) rmSync(temporary, { force: true });
    for (const dir of made.reverse()) removeIfEmpty(dir);
  };
  for (const change of writes) {
    const target = join(root, change.path);
    const temporary = `${target}.nix-ci-cache-${process.pid}.tmp`;
    try {
      const dirs = missingDirs(dirname(target));
      mkdirSync(dirname(target), { recursive: true });
      made.push(...dirs);
      staged.push({ change, temporary });
      writeFileSync(temporary, change.after, { mode: change.mode });
      chmodSync(temporary, change.mode);
    } catch (error) {
      undoStaging();
      throw writeError(root, change.path, error);
    }
  }
  const done: Change[] = [];
  const current = { path: "" };
  try {
    for (const { change, temporary } of staged) {
      current.path = change.path;
      renameSync(temporary, join(root, change.path));
      done.push(change);
    }
    for (const change of changes.filter((c) => c.kind === "remove")) {
      current.path = change.path;
      rmSync(join(root, change.path));
      done.push(change);
      removeEmptyParents(root, dirname(change.path));
    }
  } catch (error) {
    for (const change of done.reverse()) restore(root, change);
    undoStaging();
    throw writeError(root, current.path, error);
  }
}

function restore(root: string, change: Change): void {
  const target = join(root, change.path);
  try {
    if (change.before === undefined) rmSync(target, { force: true });
    else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, change.before, { mode: change.mode });
    }
  } catch {
    // The first error is the one to report; this one has the same cause.
  }
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Not ours to insist on: a directory that cannot go stays.
  }
}

/** After removing a file, the directories it leaves empty, up to the project root. */
function removeEmptyParents(root: string, dir: string): void {
  for (let d = dir; d !== "." && d !== "" && d !== "/"; d = dirname(d)) {
    const full = join(root, d);
    if (!existsSync(full) || readdirSync(full).length > 0) return;
    rmdirSync(full);
  }
}

export class ForeignFilesError extends Error {
  constructor(readonly paths: string[]) {
    super(
      paths
        .map(
          (path) =>
            `${path}: exists and was not generated by nix-ci-cache (no "${MARKER_TEXT}" line); move it away, or run again with --force to replace it`,
        )
        .join("\n"),
    );
  }
}

export function unifiedDiff(change: Change): string {
  return createTwoFilesPatch(
    `a/${change.path}`,
    change.kind === "remove" ? "/dev/null" : `b/${change.path}`,
    change.before ?? "",
    change.after,
    change.before === undefined ? "(missing)" : "",
    change.kind === "remove" ? "(removed)" : "",
  );
}
