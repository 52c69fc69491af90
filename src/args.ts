// The command line: which options each command takes, their values after aliases, and
// one-line errors that suggest what the user probably meant.
import { UsageError } from "./errors.js";
import { didYouMean, suggest } from "./suggest.js";

export type CommandName = "init" | "generate" | "check" | "stats" | "keygen" | "doctor";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** How the value is shown in help, e.g. `<id>[,<id>…]`. */
  value?: string;
  help: string;
  /** May be given more than once; the values are joined with commas. */
  repeatable?: boolean;
}

export const OPTIONS = {
  provider: {
    type: "string",
    value: "<id>[,<id>…]",
    help: "CI providers (default: detected, else github)",
    repeatable: true,
  },
  platform: {
    type: "string",
    value: "<os>[,<os>…]",
    help: "runner platforms: linux, darwin (default: detected)",
    repeatable: true,
  },
  mode: {
    type: "string",
    value: "file|chroot",
    help: "file: a file:// binary cache beside /nix/store (Linux, macOS); chroot: the cache directory is the store (Linux only)",
  },
  "cache-dir": { type: "string", value: "<path>", help: "the directory the provider keeps (default .nix-ci-cache/cache)" },
  build: {
    type: "string",
    value: "<command>",
    help: "the command the generated job runs (default: from flake.nix, default.nix or shell.nix)",
  },
  into: {
    type: "string",
    value: "<file>[:<job>]",
    help: "wire the cache into this existing pipeline file (and job) instead of a separate one",
    repeatable: true,
  },
  yes: { type: "boolean", short: "y", help: "never prompt; take detected values and defaults" },
  force: { type: "boolean", help: "replace files that nix-ci-cache did not generate; init: start over from an existing config" },
  name: { type: "string", value: "<name>", help: "the key's name (default: <project>-1, or the next number)" },
  "dry-run": { type: "boolean", help: "print the unified diff of every change and write nothing" },
  cwd: { type: "string", value: "<dir>", help: "the project root (default: the repository around the current directory)" },
  debug: { type: "boolean", help: "print stack traces" },
  help: { type: "boolean", short: "h", help: "this text" },
  version: { type: "boolean", help: "the version" },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];
/** Taken by every command. */
export const GLOBAL: OptionName[] = ["cwd", "debug", "help"];

export interface CommandSpec {
  summary: string;
  /** The positional argument, if the command takes one. */
  argument?: string;
  options: OptionName[];
}

export const COMMANDS: Record<CommandName, CommandSpec> = {
  init: {
    summary: "write .nix-ci-cache/config.yaml and generate the files",
    options: ["provider", "platform", "mode", "cache-dir", "build", "into", "yes", "force", "dry-run"],
  },
  generate: { summary: "regenerate the files from .nix-ci-cache/config.yaml", options: ["force", "dry-run"] },
  check: { summary: "exit 1 with a diff when generated files are out of date", options: [] },
  stats: {
    summary: "what a cache directory holds and what the last saves did (default: cacheDir of the config)",
    argument: "[dir]",
    options: [],
  },
  keygen: {
    summary: "sign the cache: a new key pair; the public key goes into the config, the secret one to stdout",
    options: ["name", "force", "dry-run"],
  },
  doctor: {
    summary: "check that Nix, the settings and the cache directory work here, with the fix for each problem",
    options: [],
  },
};
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export type Values = Partial<Record<OptionName, string | boolean>>;

export interface CommandLine {
  command: CommandName | undefined;
  positionals: string[];
  values: Values;
}

function optionNamed(token: string, command: CommandName | undefined): OptionName {
  const short = /^-([^-])$/.exec(token)?.[1];
  const name = short ? OPTION_NAMES.find((n) => (OPTIONS[n] as OptionSpec).short === short) : token.slice(2);
  if (name !== undefined && (OPTION_NAMES as string[]).includes(name)) return name as OptionName;
  const seeHelp = command ? `nix-ci-cache ${command} --help` : "nix-ci-cache --help";
  throw new UsageError(
    `unknown option ${token}${didYouMean(suggest(token.replace(/^-+/, ""), OPTION_NAMES), (s) => `--${s}`)}; see ${seeHelp}`,
  );
}

/**
 * Splits the arguments into command, positionals and options, and refuses what the
 * command does not take: a typo, or a flag that would otherwise be ignored silently.
 */
export function parseCommandLine(argv: string[]): CommandLine {
  const values: Values = {};
  const positionals: string[] = [];
  const given: Array<{ name: OptionName; token: string }> = [];
  let command: CommandName | undefined;
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "help" && command === undefined && !onlyPositionals) {
      values.help = true;
      continue;
    }
    if (onlyPositionals || !arg.startsWith("-") || arg === "-") {
      if (command === undefined && positionals.length === 0 && !onlyPositionals) command = commandNamed(arg);
      else positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      onlyPositionals = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const token = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const name = optionNamed(token, command);
    const spec: OptionSpec = OPTIONS[name];
    let value: string | boolean;
    if (spec.type === "boolean") {
      if (token !== arg) throw new UsageError(`${token} takes no value; write ${token} alone`);
      value = true;
    } else if (token !== arg) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw new UsageError(`${token} needs a value: ${token} ${spec.value ?? "<value>"}`);
      }
      value = next;
      i++;
    }
    const before = values[name];
    if (before !== undefined && spec.type === "string" && !spec.repeatable && before !== value) {
      throw new UsageError(`${token} is given twice ("${before}" and "${value}"); give it once`);
    }
    values[name] = spec.repeatable && typeof before === "string" ? `${before},${value}` : value;
    given.push({ name, token });
  }
  if (command !== undefined && !values.help) {
    const taken = new Set([...GLOBAL, ...COMMANDS[command].options]);
    for (const { name, token } of given) {
      if (taken.has(name)) continue;
      const users = COMMAND_NAMES.filter((c) => COMMANDS[c].options.includes(name));
      throw new UsageError(
        `${token} does not apply to ${command}${users.length > 0 ? `; it is an option of ${users.join(" and ")}` : ""} (see nix-ci-cache ${command} --help)`,
      );
    }
    const most = COMMANDS[command].argument ? 1 : 0;
    if (positionals.length > most) {
      throw new UsageError(
        `${command}: unexpected argument "${positionals[most]}"${most === 0 ? `; ${command} takes no arguments` : ""} (see nix-ci-cache ${command} --help)`,
      );
    }
  }
  return { command, positionals, values };
}

function commandNamed(word: string): CommandName {
  if ((COMMAND_NAMES as string[]).includes(word)) return word as CommandName;
  throw new UsageError(
    `unknown command "${word}"${didYouMean(suggest(word, COMMAND_NAMES), (s) => `"${s}"`)}; the commands are ${COMMAND_NAMES.join(", ")} (see nix-ci-cache --help)`,
  );
}
