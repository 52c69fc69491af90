import { normalize } from "node:path";
import type { ErrorObject } from "ajv";
import { parseDocument } from "./lazy.js";
import {
  CONFIG_PATH,
  type Config,
  DEFAULT_CACHE_DIR,
  type Platform,
  type Problem,
  type ProjectFacts,
  type ProviderId,
  type RawConfig,
} from "./model.js";
import { PROVIDERS } from "./providers/index.js";
import { parseSize } from "./text.js";
import { schemaValidator } from "./validator.js";
import { intoProblems } from "./wire/rules.js";

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

const EXAMPLES: Record<string, string> = {
  "/providers": "e.g. providers: [github]",
  "/platforms": "e.g. platforms: [linux, darwin]",
  "/mode": "e.g. mode: file",
  "/cacheDir": "e.g. cacheDir: .nix-ci-cache/cache",
  "/keyFiles": "e.g. keyFiles: [flake.lock]",
  "/compression": "e.g. compression: zstd",
  "/build": "e.g. build: nix build -L",
  "/capture": "e.g. capture: build-closure",
  "/maxSize": 'e.g. maxSize: "4G"',
  "/extraRoots": "e.g. extraRoots: [.nix-ci-cache/state/dev-profile]",
  "/exclude": 'e.g. exclude: ["*-source"]',
  "/publicKey": 'e.g. publicKey: "my-project-1:…=", made by "npx nix-ci-cache keygen"',
  "/into": 'e.g. into: [".github/workflows/ci.yml:build"]',
  "/runners": "e.g. runners: {darwin: macos-14}",
};

const PATTERN_MESSAGES: Record<string, string> = {
  maxSize: "must be a whole number with an optional K, M, G or T suffix (powers of 1024)",
  extraRoots: "must be one line",
  exclude: "must be a store path name glob: letters, digits, + . _ = - and the wildcards * and ?",
  into: 'must be "<pipeline file>:<job>"',
  runners: 'must be one line without "${{"',
  publicKey: "must be a Nix public key, <name>:<44 characters of base64> (the output of nix key convert-secret-to-public)",
};

function describeSchemaError(error: ErrorObject): Problem {
  const key = error.instancePath || "/";
  const example = EXAMPLES[`/${key.split("/")[1] ?? ""}`];
  const hint = example ? ` (${example})` : "";
  switch (error.keyword) {
    case "additionalProperties": {
      const unknown = String(error.params.additionalProperty);
      const known = Object.keys(EXAMPLES)
        .map((k) => k.slice(1))
        .join(", ");
      return {
        key: `${key === "/" ? "" : key}/${unknown}`,
        message: `unknown key; remove it (known keys: ${known})`,
      };
    }
    case "enum":
      return {
        key,
        message: `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}${hint}`,
      };
    case "required":
      return {
        key: `/${String(error.params.missingProperty)}`,
        message: `is required${EXAMPLES[`/${String(error.params.missingProperty)}`] ? ` (${EXAMPLES[`/${String(error.params.missingProperty)}`]})` : ""}`,
      };
    case "pattern":
      return { key, message: `${PATTERN_MESSAGES[key.split("/")[1] ?? ""] ?? error.message ?? "is invalid"}${hint}` };
    default:
      return { key, message: `${error.message ?? "is invalid"}${hint}` };
  }
}

/** Rules the schema cannot express: combinations that cannot work at run time. */
const RULES: Array<(config: Config) => Problem[]> = [
  (config) =>
    config.mode === "chroot" && config.platforms.includes("darwin")
      ? [
          {
            key: "/mode",
            message:
              'chroot stores need Linux namespaces; on macOS Nix fails with "building using a diverted store is not supported on this platform". Use mode: file (Linux and macOS) or platforms: [linux]',
          },
        ]
      : [],
  (config) => {
    const inContainers = config.providers.filter((id) => PROVIDERS[id].linuxContainer !== undefined);
    if (config.mode !== "chroot" || inContainers.length === 0) return [];
    const where = inContainers.map((id) => `${PROVIDERS[id].name} (${PROVIDERS[id].linuxContainer})`).join(", ");
    return [
      {
        key: "/mode",
        message: `chroot stores build only inside Nix's sandbox (new user, mount and pid namespaces, a fresh /proc), which Docker's default seccomp profile and capabilities forbid, and the generated Linux jobs of ${where} run in a container; Nix up to 2.34 then builds without the sandbox and fails with "executing '/nix/store/…': No such file or directory" (NixOS/nix#16291). Use mode: file, or remove ${inContainers.join(" and ")} from providers`,
      },
    ];
  },
  (config) => {
    const dir = normalize(config.cacheDir);
    if (dir === "." || dir === "./" || dir === ".nix-ci-cache" || dir === ".nix-ci-cache/") {
      return [
        {
          key: "/cacheDir",
          message: `"${config.cacheDir}" would hold the project or the generated files; use a directory of its own (e.g. ${DEFAULT_CACHE_DIR})`,
        },
      ];
    }
    if (dir === ".nix-ci-cache/state" || dir.startsWith(".nix-ci-cache/state/") || dir === ".git" || dir.startsWith(".git/")) {
      return [
        {
          key: "/cacheDir",
          message: `"${config.cacheDir}" is used by git or by nix-ci-cache itself; use a directory of its own (e.g. ${DEFAULT_CACHE_DIR})`,
        },
      ];
    }
    return [];
  },
  (config) =>
    config.providers.flatMap((id) =>
      config.platforms
        .filter((os) => !PROVIDERS[id].platforms.includes(os))
        .map((os) => ({
          key: "/platforms",
          message: `${PROVIDERS[id].name} has no ${os} runners we can generate for; remove ${os} or the provider ${id}`,
        })),
    ),
  (config) =>
    config.mode === "chroot" && config.publicKey
      ? [
          {
            key: "/publicKey",
            message:
              "a chroot store has no signatures: its database is the cache, trusted as a whole. Remove publicKey, or use mode: file to sign and check every entry",
          },
        ]
      : [],
  // The same path goes into the provider's cache stanza and, quoted, into the scripts:
  // neither expands it, so "$HOME/x" would make a directory named "$HOME" in the project.
  (config) =>
    /\$|^~/.test(config.cacheDir)
      ? [
          {
            key: "/cacheDir",
            message: `"${config.cacheDir}" is used as written, without expanding $ or ~; use a path relative to the project (e.g. ${DEFAULT_CACHE_DIR}) or an absolute one`,
          },
        ]
      : [],
  (config) =>
    /[\n\r]/.test(config.cacheDir) || config.cacheDir.includes("${{")
      ? [{ key: "/cacheDir", message: 'must not contain a newline or "${{"; use a plain path' }]
      : [],
];

export function applyDefaults(raw: RawConfig, facts: ProjectFacts): Config {
  const platforms = raw.platforms ?? ["linux"];
  return {
    providers: raw.providers,
    platforms,
    mode: raw.mode ?? "file",
    cacheDir: raw.cacheDir ?? DEFAULT_CACHE_DIR,
    keyFiles: raw.keyFiles ?? facts.existingKeyFiles,
    compression: raw.compression ?? "zstd",
    build: raw.build ?? (facts.hasFlake ? "nix build -L" : "nix-build"),
    capture: raw.capture ?? "build-closure",
    maxSize: raw.maxSize ?? defaultBudget(raw.providers, platforms).size,
    extraRoots: raw.extraRoots ?? [],
    exclude: raw.exclude ?? [],
    publicKey: raw.publicKey,
    into: raw.into ?? [],
    runners: raw.runners ?? {},
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
  const problems = [
    ...RULES.flatMap((rule) => rule(config)),
    ...config.providers.flatMap((id) => PROVIDERS[id].rules(config)),
    ...intoProblems(config, facts.readFile ?? (() => undefined)),
  ];
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
