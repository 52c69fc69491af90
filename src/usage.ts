// The help texts: the overview of the commands, or one command's usage alone.
import { COMMAND_NAMES, COMMANDS, type CommandName, GLOBAL, OPTIONS, type OptionName, type OptionSpec } from "./args.js";

function optionLines(names: OptionName[], extra: Partial<Record<OptionName, string>>): string[] {
  return names.map((name) => {
    const spec: OptionSpec = OPTIONS[name];
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.value ? ` ${spec.value}` : ""}`;
    const help = extra[name] ? `${spec.help}: ${extra[name]}` : spec.help;
    return `  ${flag.padEnd(26)} ${help}`;
  });
}

/**
 * The help text: the overview, or one command's usage alone. `choices` adds the valid
 * values after an option's help (the provider ids).
 */
export function renderUsage(
  header: string,
  command: CommandName | undefined,
  choices: Partial<Record<OptionName, string>> = {},
): string {
  if (command === undefined) {
    const commands = COMMAND_NAMES.map((c) => {
      const usage = `${c}${COMMANDS[c].argument ? ` ${COMMANDS[c].argument}` : ""}`;
      return `  npx nix-ci-cache ${usage.padEnd(14)} ${COMMANDS[c].summary}`;
    });
    return `${header}

Usage:
${commands.join("\n")}

Options for every command:
${optionLines([...GLOBAL, "version"], choices).join("\n")}

"npx nix-ci-cache <command> --help" lists the options of that command.
Exit status: 0 done, 1 check found differences or an unexpected failure, 2 bad input, 130 interrupted.
`;
  }
  const spec = COMMANDS[command];
  const synopsis = `npx nix-ci-cache ${command}${spec.argument ? ` ${spec.argument}` : ""}${spec.options.length ? " [options]" : ""}`;
  return `${synopsis}
  ${spec.summary}

Options:
${optionLines([...spec.options, ...GLOBAL], choices).join("\n")}
`;
}
