// Where the commands read and write: the repository's top level, since that is where
// every CI provider reads its files from.
import { existsSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { UsageError } from "./errors.js";

export interface Root {
  root: string;
  /** Lines to print first: where the commands work when that is not where they were started. */
  notes: string[];
}

/** The nearest directory from `start` up that has `.git` (a directory, or a file in a worktree or submodule). */
export function gitTopLevel(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * `--cwd` is taken as given, with a warning when it is not the top level; without it
 * the commands work at the top level of the repository around the current directory.
 * Outside any repository, `init` goes ahead only where `--cwd` names the directory.
 */
export function findRoot(cwdFlag: string | undefined, cwd: string, command: string | undefined): Root {
  if (cwdFlag !== undefined) {
    const root = resolve(cwd, cwdFlag);
    if (!existsSync(root)) throw new UsageError(`--cwd: ${root} does not exist; name the project's directory`);
    if (!statSync(root).isDirectory()) throw new UsageError(`--cwd: ${root} is not a directory; name the project's directory`);
    const top = gitTopLevel(root);
    if (top === undefined) {
      return {
        root,
        notes:
          command === "init"
            ? [`note: ${root} is not in a git repository; CI providers read these files once it is one (git init)`]
            : [],
      };
    }
    return {
      root,
      notes:
        top === root || command !== "init"
          ? []
          : [
              `note: ${root} is inside the repository ${top} but is not its top level, where CI providers read their files; writing here as --cwd says`,
            ],
    };
  }
  const top = gitTopLevel(cwd);
  if (top === undefined) {
    if (command === "init") {
      throw new UsageError(
        `${cwd} is not in a git repository (no .git here or above), and CI providers read their files from a repository's top level; run init there, run git init first, or name the directory with --cwd`,
      );
    }
    return { root: cwd, notes: [] };
  }
  return {
    root: top,
    notes: top === cwd ? [] : [`working in the repository's top level ${top} (you are in ${relative(top, cwd)}/)`],
  };
}
