// The config: validated against the schema and the rules, with every default filled in.
import { ruleProblems } from "./config-rules.js";
import { parseDocument } from "./lazy.js";
import {
  CONFIG_PATH,
  type Config,
  type NixExpression,
  type Platform,
  type Problem,
  type ProjectFacts,
  type ProviderId,
  type RawConfig,
} from "./model.js";
import { PROVIDERS } from "./providers/index.js";
import { schemaDefaults } from "./schema.js";
import { describeSchemaError } from "./schema-errors.js";
import { parseSize } from "./text.js";
import { schemaValidator } from "./validator.js";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: Problem[],
  ) {
    super(problems.map((p) => formatProblem(file, p)).join("\n"));
  }
}

export function formatProblem(file: string, problem: Problem): string {
  return `${file}: ${problem.key}: ${problem.message}`;
}

export const NO_EXPRESSION =
  "no flake.nix, default.nix or shell.nix in the repository, so there is nothing for nix-build to build";

/** A build command that fails on the first CI run with what to change, rather than nix-build's riddle. */
export const BUILD_PLACEHOLDER =
  "echo 'nix-ci-cache: set build: in .nix-ci-cache/config.yaml to your build command (no flake.nix, default.nix or shell.nix was found)' >&2; exit 1";

/** The build command the repository's Nix files call for, and why; `found` is false when it has none. */
export function buildFor(expression: NixExpression | undefined): { value: string; why: string; found: boolean } {
  switch (expression) {
    case "flake":
      return { value: "nix build -L", why: "flake.nix found", found: true };
    case "default":
      return { value: "nix-build", why: "default.nix found", found: true };
    case "shell":
      return {
        value: "nix-shell --run true",
        why: "only shell.nix found: the job builds the shell's inputs, so the cache holds them",
        found: true,
      };
    default:
      return { value: BUILD_PLACEHOLDER, why: NO_EXPRESSION, found: false };
  }
}

/** The schema's defaults, then the ones that depend on the project, under what the user wrote. */
export function applyDefaults(raw: RawConfig, facts: ProjectFacts): Config {
  const defaults = schemaDefaults();
  const platforms = raw.platforms ?? defaults.platforms;
  return {
    ...defaults,
    keyFiles: facts.existingKeyFiles,
    build: buildFor(facts.expression).value,
    maxSize: defaultBudget(raw.providers, platforms).size,
    ...(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as RawConfig),
    platforms,
  };
}

/** Where several providers keep the same directory, the tightest limit wins. */
export function defaultBudget(providers: ProviderId[], platforms: Platform[]): { size: string; provider: string; why: string } {
  const budgets = providers.map((id) => ({ provider: PROVIDERS[id].name, ...PROVIDERS[id].defaultBudget(platforms) }));
  return budgets.reduce((a, b) => (parseSize(b.size) < parseSize(a.size) ? b : a));
}

/** One line for init and generate: the budget, and why it is that. */
export function budgetLine(config: Config): string {
  const fallback = defaultBudget(config.providers, config.platforms);
  return config.maxSize === fallback.size
    ? `maxSize: ${config.maxSize} (the default for ${fallback.provider}: ${fallback.why}; set maxSize in ${CONFIG_PATH} to change it)`
    : `maxSize: ${config.maxSize} (set in ${CONFIG_PATH}; the default would be ${fallback.size})`;
}

/** Pure validation: the parsed YAML in, a full config or the list of problems out. */
export function validateConfig(
  data: unknown,
  facts: ProjectFacts,
): { config: Config; problems?: never } | { config?: never; problems: Problem[] } {
  if (data === null || data === undefined) {
    return { problems: [{ key: "/", message: "the file is empty; it needs at least `providers: [github]`" }] };
  }
  const validate = schemaValidator();
  if (!validate(data)) {
    const problems = dedupe((validate.errors ?? []).map(describeSchemaError));
    return { problems: problems.sort((a, b) => a.key.localeCompare(b.key)) };
  }
  const config = applyDefaults(data as RawConfig, facts);
  const problems = ruleProblems(config, facts.readFile ?? (() => undefined));
  return problems.length > 0 ? { problems } : { config };
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const id = `${p.key}\0${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Parses YAML text, reporting syntax errors as problems with a line number. */
export function parseConfigText(text: string): { data: unknown; problems: Problem[] } {
  const doc = parseDocument(text, { prettyErrors: true });
  const problems = doc.errors.map((e) => ({
    key: e.linePos?.[0] ? `line ${e.linePos[0].line}` : "/",
    message: `${(e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:$/, "")} (fix the YAML syntax)`,
  }));
  return { data: problems.length > 0 ? undefined : doc.toJS(), problems };
}
