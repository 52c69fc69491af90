// The command entry: parses the arguments, finds the repository, runs one command, and
// turns every failure into one line and an exit status.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { type CommandName, parseCommandLine, type Values } from "./args.js";
import { check, generate, type Io, keygen, readConfig, stats } from "./commands.js";
import { ConfigError } from "./config.js";
import { doctor } from "./doctor.js";
import { UsageError } from "./errors.js";
import { init } from "./init.js";
import { CONFIG_PATH, type Mode, type Platform, PROVIDER_IDS } from "./model.js";
import { VERSION } from "./package.js";
import { PROVIDER_ALIASES } from "./providers/index.js";
import { Cancelled } from "./questions.js";
import { findRoot } from "./root.js";
import { choicesOf } from "./schema.js";
import { choose, chooseList, PLATFORM_ALIASES } from "./suggest.js";
import { renderUsage } from "./usage.js";
import { ForeignFilesError, WriteError } from "./write.js";

export type { Io } from "./commands.js";

const HEADER = `nix-ci-cache ${VERSION}: turn your CI provider's cache directory into a Nix binary cache`;

export function usage(command?: CommandName): string {
  return renderUsage(HEADER, command, { provider: PROVIDER_IDS.join(", ") });
}

/** Exit status of an interrupted command, as a shell reports SIGINT. */
export const INTERRUPTED = 130;

function defaultIo(): Io {
  // Ctrl-C outside a prompt: the handler runs between synchronous steps, so a write in
  // progress finishes whole before the exit.
  process.once("SIGINT", () => {
    process.stderr.write("nix-ci-cache: interrupted\n");
    process.exit(INTERRUPTED);
  });
  // Under `| head` the reader goes away; what is left to print is not wanted, and
  // Node would otherwise throw EPIPE from a later write.
  let closed = false;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    closed = true;
  });
  return {
    out: (line) => {
      if (!closed) process.stdout.write(`${line}\n`);
    },
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  };
}

function initOptions(values: Values) {
  const text = (name: keyof Values) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  const cacheDir = text("cache-dir");
  if (cacheDir !== undefined && cacheDir.trim() === "") throw new UsageError("--cache-dir: must not be empty");
  const build = text("build");
  if (build !== undefined && build.trim() === "") throw new UsageError("--build: must not be empty");
  const mode = text("mode");
  return {
    providers: chooseList("--provider", values.provider, PROVIDER_IDS, PROVIDER_ALIASES),
    platforms: chooseList("--platform", values.platform, choicesOf("platforms") as Platform[], PLATFORM_ALIASES),
    mode: mode === undefined ? undefined : choose("--mode", mode, choicesOf("mode") as Mode[]),
    cacheDir,
    build,
    into: text("into")
      ?.split(",")
      .map((v) => v.trim())
      .filter(Boolean),
    yes: values.yes === true,
    force: values.force === true,
    dryRun: values["dry-run"] === true,
  };
}

async function run(command: CommandName, root: string, positionals: string[], values: Values, io: Io): Promise<number> {
  const force = values.force === true;
  const dryRun = values["dry-run"] === true;
  switch (command) {
    case "init":
      return await init(root, initOptions(values), io);
    case "generate":
      return generate(root, force, dryRun, io);
    case "check":
      return check(root, io);
    case "stats":
      return stats(root, positionals[0], io);
    case "keygen":
      return keygen(root, values.name as string | undefined, force, dryRun, io);
    case "doctor":
      return doctor(root, existsSync(join(root, CONFIG_PATH)) ? readConfig(root) : undefined, io);
  }
}

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let debug = argv.includes("--debug");
  try {
    const { command, positionals, values } = parseCommandLine(argv);
    debug = values.debug === true;
    if (values.help) {
      io.out(usage(command));
      return 0;
    }
    if (values.version) {
      io.out(VERSION);
      return 0;
    }
    if (command === undefined) {
      io.err(usage());
      return 2;
    }
    const { root, notes } = findRoot(values.cwd as string | undefined, io.cwd ?? process.cwd(), command);
    for (const note of notes) io.err(note);
    return await run(command, root, positionals, values, io);
  } catch (error) {
    if (error instanceof Cancelled) {
      io.err(error.message);
      return INTERRUPTED;
    }
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof ForeignFilesError) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof WriteError) {
      io.err(error.message);
      return 1;
    }
    io.err(`nix-ci-cache: ${(error as Error).message}`);
    if (debug) io.err(String((error as Error).stack));
    else io.err("(run again with --debug for details)");
    return 1;
  }
}
