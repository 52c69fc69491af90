import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import Handlebars from "handlebars";
import { stringify } from "yaml";
import { packageFile } from "./package.js";
import type { Plan } from "./plan.js";
import { shellQuote } from "./plan.js";
import type { UserFileEdit } from "./providers/types.js";
import { withWiring } from "./wire/index.js";

/** A generated file, whole, before anything touches the disk. */
export interface GeneratedFile {
  path: string;
  content: string;
  mode: number;
}

/** A file the user owns: its seed text when absent, and how we add our part. */
export interface UserFile extends UserFileEdit {
  seed: string;
}

export interface Rendered {
  files: GeneratedFile[];
  userFiles: UserFile[];
}

const RUNTIME_DIR = ".nix-ci-cache";
/** npm never packs files named `.gitignore`, so that template goes by another name. */
const RENAMED: Record<string, string> = { gitignore: ".gitignore" };

export function createEngine() {
  const hb = Handlebars.create();
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
  const partials = packageFile("templates/partials");
  for (const name of listFiles(partials)) {
    hb.registerPartial(name.slice(0, -".hbs".length), readFileSync(join(partials, name), "utf8"));
  }
  return hb;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

function renderTemplate(hb: typeof Handlebars, file: string, context: object): string {
  const template = hb.compile(readFileSync(file, "utf8"), { noEscape: true, strict: true });
  try {
    return template(context);
  } catch (error) {
    throw new Error(`template ${file}: ${(error as Error).message}`);
  }
}

function runtimeFiles(hb: typeof Handlebars, plan: Plan): GeneratedFile[] {
  const dir = packageFile("templates/runtime");
  return listFiles(dir)
    .filter((name) => name.endsWith(".hbs") && (plan.chroot || !name.startsWith("bin/")))
    .map((name) => {
      const base = name.slice(0, -".hbs".length);
      const path = `${RUNTIME_DIR}/${RENAMED[base] ?? base}`;
      const executable = base.endsWith(".sh") || base.startsWith("bin/");
      return { path, content: renderTemplate(hb, join(dir, name), plan), mode: executable ? 0o755 : 0o644 };
    });
}

/** Renders every file for the plan, in memory. */
export function render(plan: Plan): Rendered {
  const hb = createEngine();
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
  for (const provider of plan.providers) {
    const dir = packageFile(`templates/providers/${provider.id}`);
    const context = { ...plan, ...provider.context(plan.config) };
    for (const name of listFiles(dir)) {
      if (!name.endsWith(".hbs") || name.endsWith(".seed.hbs")) continue;
      files.push({ path: name.slice(0, -".hbs".length), content: renderTemplate(hb, join(dir, name), context), mode: 0o644 });
    }
    for (const edit of provider.userFiles) {
      userFiles.push({ ...edit, seed: renderTemplate(hb, join(dir, `${edit.path}.seed.hbs`), context) });
    }
  }
  return withWiring({ files, userFiles }, plan, hb);
}
