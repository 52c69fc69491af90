import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli.js";
import { scratchDir } from "./scratch.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process on a project directory, capturing what it prints. */
export async function runCli(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  platform?: NodeJS.Platform,
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, "--cwd", root], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { ...env },
    interactive: false,
    platform,
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** A new repository's top level: `.git` is what init looks for, so a directory is enough. */
/** Runs the CLI as started in `cwd`, without --cwd, as a user types it. */
export async function runCliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { ...env },
    interactive: false,
    cwd,
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

export function tempProject(prefix = "ncc-project-"): string {
  const root = scratchDir(prefix);
  mkdirSync(join(root, ".git"));
  return root;
}
