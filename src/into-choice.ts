// init's part in wiring: which jobs get our steps, and what to tell the user.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "./errors.js";
import type { Config, Platform, Runners } from "./model.js";
import { splitInto } from "./pipelines/into.js";
import { type Candidate, jobsOf, providerOfPath, type WiredProvider } from "./pipelines/jobs.js";
import { makePlan } from "./plan.js";
import { RUNNERS } from "./providers/github.js";
import type { PlatformEvidence } from "./providers/types.js";
import type { Ask } from "./questions.js";
import { createEngine } from "./render.js";
import { pasteFor, pasteLines, REPLACED, wireJob } from "./wire/index.js";
import { PlacementError } from "./wire/steps.js";

export interface IntoChoice {
  /** `file:job` entries for the config. */
  into: string[];
  /** Why, printed before anything is written. */
  explanation: string[];
  /** Jobs that cannot take our part, with the reason: init prints what to paste. */
  unplaced: Array<{ entry: string; provider: WiredProvider; why: string }>;
}

/** Whether our part fits the job as it is written; the reason when not. */
function placement(root: string, entry: Candidate): string | undefined {
  const probe = { before: ['- name: "nix-ci-cache: probe"'], after: ['- name: "nix-ci-cache: probe"'] };
  const circleProbe = {
    before: ["- run:", '    name: "nix-ci-cache: probe"'],
    after: ["- run:", '    name: "nix-ci-cache: probe"'],
  };
  try {
    wireJob(readFileSync(join(root, entry.file), "utf8"), entry.provider, entry.job, () =>
      entry.provider === "circleci" ? circleProbe : probe,
    );
    return undefined;
  } catch (error) {
    if (error instanceof PlacementError) return error.message;
    throw error;
  }
}

/** `--into FILE[:JOB]` values as jobs; a file alone means its jobs that run Nix. */
function fromFlag(root: string, values: string[], candidates: Candidate[]): Candidate[] {
  return values.flatMap((value): Candidate[] => {
    const colon = value.indexOf(":");
    const file = (colon === -1 ? value : value.slice(0, colon)).replace(/^\.\//, "");
    const provider = providerOfPath(file);
    if (!provider)
      throw new UsageError(
        `--into: ${file}: not a pipeline we can wire (a GitHub, Forgejo or Gitea workflow, .gitlab-ci.yml or .circleci/config.yml)`,
      );
    let text: string;
    try {
      text = readFileSync(join(root, file), "utf8");
    } catch {
      throw new UsageError(`--into: ${file}: no such file`);
    }
    const jobs = jobsOf(provider, text).map((j) => j.name);
    if (colon !== -1) {
      const job = value.slice(colon + 1);
      if (!jobs.includes(job))
        throw new UsageError(`--into: ${file} has no job "${job}" (its jobs: ${jobs.join(", ") || "none"})`);
      return [
        candidates.find((c) => c.file === file && c.job === job) ?? { provider, file, job, line: 0, text: "named by --into" },
      ];
    }
    const found = candidates.filter((c) => c.file === file);
    if (found.length === 0)
      throw new UsageError(
        `--into: no job of ${file} runs Nix; name one: --into ${file}:<job> (its jobs: ${jobs.join(", ") || "none"})`,
      );
    return found;
  });
}

const entryOf = (c: Candidate) => `${c.file}:${c.job}`;
const why = (c: Candidate) => (c.line > 0 ? `line ${c.line}: ${c.text}` : c.text);

/**
 * The jobs to wire: those named by --into; else, asked, the detected ones (all offered,
 * all chosen by default); else, without questions, a provider's only job that runs Nix.
 */
export async function chooseInto(
  root: string,
  candidates: Candidate[],
  providers: string[],
  flag: string[] | undefined,
  ask: Ask | undefined,
  /** Where `flag` came from, for the explanation. */
  flagWhy = "from --into",
): Promise<IntoChoice> {
  const explanation: string[] = [];
  const mine = candidates.filter((c) => providers.includes(c.provider));
  let chosen: Candidate[];
  if (flag?.length) {
    chosen = fromFlag(root, flag, mine);
    explanation.push(`into: ${chosen.map(entryOf).join(", ")} (${flagWhy})`);
  } else if (ask && mine.length > 0) {
    const picked = (await ask({
      type: "multiselect",
      message: "Add the cache steps to these jobs (they run Nix)",
      choices: mine.map((c) => ({ title: `${entryOf(c)} (${why(c)})`, value: entryOf(c), selected: true })),
    })) as string[] | undefined;
    chosen = mine.filter((c) => (picked ?? []).includes(entryOf(c)));
    explanation.push(`into: ${chosen.map(entryOf).join(", ") || "none"} (chosen)`);
  } else {
    chosen = [];
    for (const provider of [...new Set(mine.map((c) => c.provider))]) {
      const jobs = mine.filter((c) => c.provider === provider);
      if (jobs.length === 1) {
        chosen.push(...jobs);
        explanation.push(
          `into: ${entryOf(jobs[0] as Candidate)} (the only ${provider} job that runs Nix, ${why(jobs[0] as Candidate)})`,
        );
      } else {
        const separate = REPLACED[provider] ? `; ${REPLACED[provider]} is generated instead` : "";
        explanation.push(
          `into: none for ${provider} (${jobs.length} jobs run Nix: ${jobs.map(entryOf).join(", ")}${separate}); choose with --into ${entryOf(jobs[0] as Candidate)}`,
        );
      }
    }
  }
  const unplaced: IntoChoice["unplaced"] = [];
  const into = chosen.flatMap((c) => {
    const reason = placement(root, c);
    if (reason === undefined) return [entryOf(c)];
    unplaced.push({ entry: entryOf(c), provider: c.provider, why: reason });
    return [];
  });
  return { into: [...new Set(into)], explanation, unplaced };
}

/** What init prints after writing: what each wired job got, and what to paste where nothing could be placed. */
export function wiringReport(config: Config, choice: IntoChoice): string[] {
  const lines: string[] = [];
  for (const entry of config.into) {
    const provider = providerOfPath(splitInto(entry).file) as WiredProvider;
    lines.push(
      provider === "gitlab"
        ? `  wired    ${entry}: extends .nix-ci-cache (before_script, after_script and cache come from it)`
        : `  wired    ${entry}: restore and env.sh steps after the checkout and Nix install, save steps at the end (names start with "nix-ci-cache")`,
    );
    // Its sh reads no $BASH_ENV, where env.sh leaves its settings for later steps.
    if (provider === "circleci") {
      lines.push("           in the nixos/nix image, start your Nix commands with . .nix-ci-cache/env.sh");
    }
  }
  // The steps to paste are rendered only where a job could not take them.
  if (choice.unplaced.length > 0) {
    const plan = makePlan(config);
    const hb = createEngine();
    for (const { entry, provider, why } of choice.unplaced) {
      lines.push(`  not wired ${entry}: ${why}. Add to the job by hand:`, ...pasteFor(provider, hb, plan));
    }
  }
  if (config.providers.includes("jenkins"))
    lines.push("  Jenkinsfile: wrap your Nix steps, after the checkout:", ...pasteLines("jenkins"));
  return lines;
}

/** The runners the user's workflows use, where they are not the ones we would pick. */
export function carriedRunners(evidence: PlatformEvidence[], platforms: Platform[]): Runners {
  const runners: Runners = {};
  for (const platform of platforms) {
    const found = evidence.find((e) => e.platform === platform && e.runner !== undefined)?.runner;
    if (found !== undefined && found !== RUNNERS[platform]) runners[platform] = found;
  }
  return runners;
}

/** The keys init adds for wiring: the jobs chosen, and the GitHub runners to keep. */
export function wiredKeys(
  evidence: PlatformEvidence[],
  raw: { providers: string[]; platforms: Platform[] },
  choice: IntoChoice,
): { into?: string[]; runners?: Runners } {
  const runners = raw.providers.includes("github") ? carriedRunners(evidence, raw.platforms) : {};
  return {
    ...(choice.into.length > 0 ? { into: choice.into } : {}),
    ...(Object.keys(runners).length > 0 ? { runners } : {}),
  };
}
