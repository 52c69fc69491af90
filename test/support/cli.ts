import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Io, main } from "../../src/cli.js";
import { scratchDir } from "./scratch.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function capture(args: string[], io: Pick<Io, "env" | "platform" | "cwd">): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    interactive: false,
    ...io,
    env: { ...io.env },
  });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** Runs the CLI in-process on a project directory, capturing what it prints. */
export function runCli(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  platform?: NodeJS.Platform,
): Promise<CliResult> {
  return capture([...args, "--cwd", root], { env, platform });
}

/** Runs the CLI as started in `cwd`, without --cwd, as a user types it. */
export function runCliIn(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return capture(args, { env, cwd });
}

/** A new repository's top level: `.git` is what init looks for, so a directory is enough. */
export function tempProject(prefix = "ncc-project-"): string {
  const root = scratchDir(prefix);
  mkdirSync(join(root, ".git"));
  return root;
}
