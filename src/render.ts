import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { handlebars, handlebarsRuntime, stringify } from "./lazy.js";
import { type NixPlaces, type NixSetting, nixConfLine, nixPrintf } from "./nix-settings.js";
import { packageFile } from "./package.js";
import type { Plan } from "./plan.js";
import { PROVIDERS } from "./providers/index.js";
import type { TemplateContext, UserFileEdit } from "./providers/types.js";
import { shellQuote } from "./text.js";

/** A generated file, whole, before anything touches the disk. */
export interface GeneratedFile {
  path: string;
  content: string;
  mode: number;
}

/** A file the user owns: its seed text when absent, and how we add our part. */
export interface UserFile extends UserFileEdit {
  seed: string;
  /** Only an edit of a file that is there: absent, it is not created from the seed. */
  onlyIfPresent?: boolean;
}

/**
 * The user files with `edit` chained to the file's earlier edit, if it has one: `edit`
 * runs before it (`first`) or on its result. Two edits of one file (our include and a
 * wired job, a wired and an unwired job) thus make one change.
 */
export function chainEdit(
  userFiles: UserFile[],
  path: string,
  edit: (text: string) => string,
  options: { first: boolean; onlyIfPresent?: boolean },
): UserFile[] {
  const index = userFiles.findIndex((f) => f.path === path);
  const earlier = userFiles[index];
  const byEarlier = (text: string) => earlier?.update(text) ?? text;
  const update = (text: string) => {
    const result = options.first ? byEarlier(edit(text)) : edit(byEarlier(text));
    return result === text ? undefined : result;
  };
  const chained: UserFile = {
    path,
    seed: earlier?.seed ?? "",
    update,
    ...(options.onlyIfPresent ? { onlyIfPresent: true } : {}),
  };
  return earlier ? userFiles.map((f, i) => (i === index ? chained : f)) : [...userFiles, chained];
}

export interface Rendered {
  files: GeneratedFile[];
  userFiles: UserFile[];
}

type Engine = ReturnType<ReturnType<typeof handlebars>["create"]>;

/** Compiler options: the templates are shell and YAML, never HTML. */
const TEMPLATE_OPTIONS = { noEscape: true, strict: true } as const;

/**
 * Compiling the templates took about 0.1 s of every command that renders, and the
 * compiler brings in source-map, so the build compiles them once into
 * dist/templates.cjs (scripts/build-precompiled.mjs) and commands need only Handlebars'
 * runtime. Run from the TypeScript sources (tests, bench) there is no such file and they
 * are compiled here from templates/. test/package.test.ts holds the two to the same output:
 * the installed package's check, with the precompiled templates, finds every example up to date.
 */
export const PRECOMPILED_TEMPLATES = "templates.cjs";

const require = createRequire(import.meta.url);
let precompiled: Record<string, TemplateSpecification> | null | undefined;

function precompiledTemplates(): Record<string, TemplateSpecification> | null {
  if (precompiled === undefined) {
    const file = fileURLToPath(new URL(`./${PRECOMPILED_TEMPLATES}`, import.meta.url));
    precompiled = existsSync(file) ? (require(file) as Record<string, TemplateSpecification>) : null;
  }
  return precompiled;
}

/** Every template's path under templates/, the key of its precompiled form. */
function templateKey(file: string): string {
  return relative(packageFile("templates"), file);
}

/** The source of dist/templates.cjs: every template under templates/, compiled. */
export function templatesSource(): string {
  const hb = handlebars();
  const dir = packageFile("templates");
  const entries = listFiles(dir)
    .filter((name) => name.endsWith(".hbs"))
    .map((name) => `${JSON.stringify(name)}: ${hb.precompile(readFileSync(join(dir, name), "utf8"), TEMPLATE_OPTIONS)}`);
  return `// Generated from templates/ by scripts/build-precompiled.mjs; do not edit.\nmodule.exports = {\n${entries.join(",\n")}\n};\n`;
}

function compileTemplate(hb: Engine, file: string): HandlebarsTemplateDelegate {
  const specs = precompiledTemplates();
  if (!specs) return hb.compile(readFileSync(file, "utf8"), TEMPLATE_OPTIONS);
  const spec = specs[templateKey(file)];
  if (!spec) throw new Error(`template ${file}: not in the precompiled ${PRECOMPILED_TEMPLATES}; run "npm run build"`);
  return hb.template(spec);
}

const RUNTIME_DIR = ".nix-ci-cache";
/** npm never packs files named `.gitignore`, so that template goes by another name. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

export function createEngine() {
  const hb = (precompiledTemplates() ? handlebarsRuntime() : handlebars()).create();
  hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  hb.registerHelper("sh", (value: string) => shellQuote(value));
  hb.registerHelper("yaml", (value: unknown) => stringify(value, { lineWidth: 0 }).trimEnd());
  // A block scalar for multi-line commands, indented to sit under its key.
  hb.registerHelper("yamlBlock", (value: string, indent: number) => {
    if (!value.includes("\n")) return stringify(value, { lineWidth: 0 }).trimEnd();
    const pad = " ".repeat(indent);
    return `|\n${value
      .replace(/\n+$/, "")
      .split("\n")
      .map((line) => (line ? pad + line : ""))
      .join("\n")}`;
  });
  // A setting of plan.nixSettings with its places filled in, given as hash arguments.
  hb.registerHelper("nixConf", (setting: NixSetting, options: { hash: NixPlaces }) => nixConfLine(setting, options.hash));
  hb.registerHelper("nixPrintf", (setting: NixSetting, options: { hash: NixPlaces }) => nixPrintf(setting, options.hash));
  const partials = packageFile("templates/partials");
  for (const name of listFiles(partials)) {
    hb.registerPartial(name.slice(0, -".hbs".length), compileTemplate(hb, join(partials, name)));
  }
  return hb;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

function renderTemplate(hb: Engine, file: string, context: object): string {
  const template = compileTemplate(hb, file);
  try {
    return template(context);
  } catch (error) {
    throw new Error(`template ${file}: ${(error as Error).message}`);
  }
}

function runtimeFiles(hb: Engine, plan: Plan): GeneratedFile[] {
  const dir = packageFile("templates/runtime");
  return listFiles(dir)
    .filter((name) => name.endsWith(".hbs") && (plan.chroot || !name.startsWith("bin/")))
    .map((name) => {
      const base = name.slice(0, -".hbs".length);
      const path = runtimePath(name);
      const executable = base.endsWith(".sh") || base.startsWith("bin/");
      return { path, content: renderTemplate(hb, join(dir, name), plan), mode: executable ? 0o755 : 0o644 };
    });
}

function runtimePath(name: string): string {
  const base = name.slice(0, -".hbs".length);
  return `${RUNTIME_DIR}/${RENAMED[base] ?? base}`;
}

/**
 * Every path a template can produce, whatever the config: files generated by an
 * earlier config (another provider, chroot's wrappers) are found among these.
 */
export function everyTemplatePath(): string[] {
  const runtime = listFiles(packageFile("templates/runtime"))
    .filter((n) => n.endsWith(".hbs"))
    .map(runtimePath);
  const providers = listFiles(packageFile("templates/providers"))
    .filter((n) => n.endsWith(".hbs") && !n.endsWith(".seed.hbs"))
    .map((n) => n.split("/").slice(1).join("/").slice(0, -".hbs".length));
  return [...runtime, ...providers];
}

/**
 * What a provider's templates see: the plan, and the provider's own values under `ci`,
 * where they cannot replace one of the plan's.
 */
export function templateContext(plan: Plan, ci: TemplateContext): Plan & { ci: TemplateContext } {
  return { ...plan, ci };
}

/** Renders every file for the plan, in memory. */
export function render(plan: Plan, hb: Engine = createEngine()): Rendered {
  const files = runtimeFiles(hb, plan);
  const userFiles: UserFile[] = [];
  const rootIgnore = plan.rootIgnore;
  if (rootIgnore) {
    // The cache is outside .nix-ci-cache/, whose own .gitignore cannot reach it.
    userFiles.push({
      path: ".gitignore",
      seed: `# The Nix cache is kept by the CI provider, not by git (nix-ci-cache).\n${rootIgnore}\n`,
      update: (existing) =>
        existing.split("\n").some((line) => line.trim() === rootIgnore)
          ? undefined
          : `${existing}${existing === "" || existing.endsWith("\n") ? "" : "\n"}${rootIgnore}\n`,
    });
  }
  for (const provider of plan.providers.map((id) => PROVIDERS[id])) {
    const dir = packageFile(`templates/providers/${provider.id}`);
    const context = templateContext(plan, provider.context(plan));
    for (const name of listFiles(dir)) {
      if (!name.endsWith(".hbs") || name.endsWith(".seed.hbs")) continue;
      files.push({ path: name.slice(0, -".hbs".length), content: renderTemplate(hb, join(dir, name), context), mode: 0o644 });
    }
    for (const edit of provider.userFiles ?? []) {
      userFiles.push({ ...edit, seed: renderTemplate(hb, join(dir, `${edit.path}.seed.hbs`), context) });
    }
  }
  return { files, userFiles };
}
