// Wiring our cache steps into the pipelines the user already has (config key `into`).

import type Handlebars from "handlebars";
import { UsageError } from "../errors.js";
import { CONFIG_PATH } from "../model.js";
import { splitInto } from "../pipelines/into.js";
import { providerOfPath, type WiredProvider } from "../pipelines/jobs.js";
import type { Plan } from "../plan.js";
import { stepIds } from "../providers/actions.js";
import { forgejoStepContext, RESTORE_NAME } from "../providers/forgejo.js";
import { githubStepContext } from "../providers/github.js";
import { PROVIDERS } from "../providers/index.js";
import { chainEdit, type Rendered, templateContext } from "../render.js";
import { CIRCLECI_RULES } from "./circleci.js";
import { unwireGitlabJob, wireGitlabJob } from "./gitlab.js";
import { ACTIONS_RULES, PlacementError, type StepLines, wireStepsJob, withoutOurSteps } from "./steps.js";

/** The file each provider generates that a wired job replaces: one pipeline per provider is enough. */
export const REPLACED: Partial<Record<WiredProvider, string>> = {
  github: ".github/workflows/nix.yml",
  forgejo: ".forgejo/workflows/nix.yml",
  circleci: ".circleci/config.yml",
};

const PARTIALS: Record<Exclude<WiredProvider, "gitlab">, { before: string[]; after: string[] }> = {
  github: { before: ["github/restore-step", "github/env-step"], after: ["github/write-step", "github/save-step"] },
  forgejo: { before: ["forgejo/restore-step"], after: ["forgejo/save-step"] },
  circleci: { before: ["circleci/restore-steps"], after: ["circleci/save-steps"] },
};

/** Our steps for a job of the user's, from the partials the generated pipelines use. */
export function stepLines(hb: typeof Handlebars, plan: Plan, provider: Exclude<WiredProvider, "gitlab">): StepLines {
  // The generated pipeline's values, with the step ids and names of a wired job instead.
  const context = templateContext(plan, {
    ...PROVIDERS[provider].context(plan),
    ...(provider === "github" ? githubStepContext(stepIds(true)) : {}),
    ...(provider === "forgejo" ? forgejoStepContext(stepIds(true, RESTORE_NAME)) : {}),
    ...(provider === "circleci" ? { names: stepIds(true).names } : {}),
  });
  // The partials are called as registered: the commands' engine is Handlebars' runtime,
  // which has no compiler (render.ts).
  const lines = (names: string[]) =>
    names
      .map((name) => (hb.partials[name] as (context: object) => string)(context))
      .join("")
      .replace(/\n$/, "")
      .split("\n");
  return { before: lines(PARTIALS[provider].before), after: lines(PARTIALS[provider].after) };
}

/** The file with our part in one job, or a PlacementError saying why it cannot have it. */
export function wireJob(text: string, provider: WiredProvider, job: string, lines: () => StepLines): string {
  if (provider === "gitlab") return wireGitlabJob(text, job);
  return wireStepsJob(text, job, lines(), provider === "circleci" ? CIRCLECI_RULES : ACTIONS_RULES);
}

/** The file without our part in one job, for a job the config named before and no longer does. */
export function unwireJob(text: string, provider: WiredProvider, job: string): string {
  try {
    if (provider === "gitlab") return unwireGitlabJob(text, job);
    return withoutOurSteps(text, job, provider === "circleci" ? CIRCLECI_RULES : ACTIONS_RULES);
  } catch (error) {
    // A job the user renamed or removed has nothing of ours left to take out.
    if (error instanceof PlacementError) return text;
    throw error;
  }
}

/** The lines to paste into a job of this provider that cannot take our part. */
export function pasteFor(provider: WiredProvider, hb: typeof Handlebars, plan: Plan): string[] {
  return provider === "gitlab" ? pasteLines(provider) : pasteLines(provider, stepLines(hb, plan, provider));
}

/** Lines to add by hand where a job cannot take our part. */
export function pasteLines(provider: WiredProvider | "jenkins", lines?: StepLines): string[] {
  const indent = (block: string[]) => block.map((line) => (line ? `      ${line}` : ""));
  switch (provider) {
    case "gitlab":
      return [
        "  extends: .nix-ci-cache   # .nix-ci-cache-darwin on macOS runners",
        "  before_script:",
        "    - !reference [.nix-ci-cache, before_script]",
        "    - your own commands",
        "  after_script:",
        "    - !reference [.nix-ci-cache, after_script]",
        "    - your own commands",
        "  # with a cache of your own, list both:",
        "  cache:",
        "    - !reference [.nix-ci-cache, cache]",
        "    - your own cache",
      ];
    case "jenkins":
      return [
        "script {",
        "    load('.jenkins/nix-ci-cache.groovy').withNixCache('linux') {   // or 'darwin'",
        "        sh '''",
        "            . .nix-ci-cache/env.sh",
        "            your Nix commands",
        "        '''",
        "    }",
        "}",
      ];
    default:
      return [
        "    # after the checkout and the Nix install step:",
        ...indent(lines?.before ?? []),
        "    # at the end of the job:",
        ...indent(lines?.after ?? []),
      ];
  }
}

/** Rendered files with the wired jobs: their files edited, the separate pipelines they replace left out. */
export function withWiring(rendered: Rendered, plan: Plan, hb: typeof Handlebars): Rendered {
  const entries = plan.into.map((entry) => ({ ...splitInto(entry), entry }));
  if (entries.length === 0) return rendered;
  const replaced = new Set(entries.map((e) => REPLACED[providerOfPath(e.file) as WiredProvider]));
  let userFiles = rendered.userFiles;
  for (const file of [...new Set(entries.map((e) => e.file))]) {
    const jobs = entries.filter((e) => e.file === file);
    const provider = providerOfPath(file) as WiredProvider;
    const edit = (text: string) =>
      jobs.reduce((current, { job }) => {
        try {
          return wireJob(current, provider, job, () => stepLines(hb, plan, provider as Exclude<WiredProvider, "gitlab">));
        } catch (error) {
          if (!(error instanceof PlacementError)) throw error;
          const paste = pasteFor(provider, hb, plan);
          throw new UsageError(
            `${CONFIG_PATH}: into: ${file}:${job}: cannot add our part: ${error.message}. Remove the entry and add these lines to the job by hand:\n${paste.join("\n")}`,
          );
        }
      }, text);
    userFiles = chainEdit(userFiles, file, edit, { first: false });
  }
  return { files: rendered.files.filter((f) => !replaced.has(f.path)), userFiles };
}
