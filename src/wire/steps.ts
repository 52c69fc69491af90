// Our steps in a GitHub, Forgejo or CircleCI job of the user's, spliced into the file's text.

import { isMap, type Node, type YAMLMap, type YAMLSeq } from "../lazy.js";
import { jobsOf, NIX_EVIDENCE, parsePipeline, stepText } from "../pipelines/jobs.js";
import { WIRED_PREFIX } from "../providers/actions.js";
import { afterNode, dashColumn, eolOf, indentLines, insertAt, lineStart } from "../yaml-splice.js";

/** Our steps, rendered at column 0: those that go before the job's own Nix steps, and those at its end. */
export interface StepLines {
  before: string[];
  after: string[];
}

/** Why a job cannot take our steps; the caller prints the steps to paste instead. */
export class PlacementError extends Error {}

/** How to tell the steps of one provider apart. */
export interface StepRules {
  checkout(step: unknown): boolean;
  installsNix(step: unknown): boolean;
  runsNix(step: unknown): boolean;
  ours(step: unknown): boolean;
}

const CHECKOUT = /(^|\/)actions\/checkout@/;
export const INSTALLS_NIX =
  /install-nix-action|nix-installer-action|determinate-nix-action|nix-quick-install-action|install\.determinate\.systems\/nix|nixos\.org\/nix\/install/;

/** The job's steps; `jobs.<id>.steps` in GitHub, Forgejo and CircleCI alike. */
function stepsOf(text: string, job: string): YAMLSeq {
  const doc = parsePipeline(text);
  if (doc.errors.length > 0) throw new PlacementError(`not valid YAML: ${doc.errors[0]?.message.split("\n")[0]}`);
  const found = jobsOf("github", doc).find((j) => j.name === job);
  if (!found) throw new PlacementError(`no job "${job}"`);
  const shell = [found.node, isMap(doc.contents) ? doc.contents : undefined]
    .map((map) => map?.getIn(["defaults", "run", "shell"]))
    .find((value) => value !== undefined);
  if (shell !== undefined && !/^(bash|sh)\b/.test(String(shell))) {
    throw new PlacementError(`its run steps use the shell ${String(shell)} (defaults.run.shell), and ours need sh or bash`);
  }
  const steps = (found.node as YAMLMap).get("steps", true) as Node | undefined;
  if (!steps || !("items" in steps) || !Array.isArray(steps.items) || (steps as YAMLSeq).flow) {
    throw new PlacementError(
      found.node.has("uses")
        ? "it calls a reusable workflow; wire the job that runs Nix inside that workflow"
        : "its steps are not a block list (`- ` items) we can add to",
    );
  }
  return steps as YAMLSeq;
}

export const ACTIONS_RULES: StepRules = {
  checkout: (s) => CHECKOUT.test(stepText(s, "uses")),
  installsNix: (s) => INSTALLS_NIX.test(stepText(s, "uses")) || INSTALLS_NIX.test(stepText(s, "run")),
  runsNix: (s) => NIX_EVIDENCE.test(stepText(s, "run")) || NIX_EVIDENCE.test(stepText(s, "uses")),
  ours: (s) =>
    isMap(s) &&
    (String(s.get("name") ?? "").startsWith(WIRED_PREFIX) || String(s.get("id") ?? "").startsWith(`${WIRED_PREFIX}-`)),
};

/** A run of consecutive steps of ours: its text from its first `- ` line to its last line, and its step indices. */
interface Run {
  start: number;
  end: number;
  first: number;
  last: number;
}

function ourRuns(text: string, steps: YAMLSeq, rules: StepRules): Run[] {
  const runs: Run[] = [];
  steps.items.forEach((item, index) => {
    const node = item as Node;
    if (!rules.ours(node)) return;
    const previous = runs.at(-1);
    const start = lineStart(text, node.range?.[0] ?? 0);
    // Lines between two of our steps (a blank line, a comment) are the user's: they end a run.
    if (previous && previous.last === index - 1 && previous.end === start) {
      previous.end = afterNode(text, node);
      previous.last = index;
    } else {
      runs.push({ start, end: afterNode(text, node), first: index, last: index });
    }
  });
  return runs;
}

/** The text without our steps. */
export function withoutOurSteps(text: string, job: string, rules: StepRules): string {
  let out = text;
  for (const { start, end } of ourRuns(text, stepsOf(text, job), rules).reverse()) out = out.slice(0, start) + out.slice(end);
  return out;
}

const stepCount = (lines: string[]) => lines.filter((line) => line.startsWith("- ")).length;

/**
 * Our steps rewritten where they are, when both groups are there whole and still where
 * they work: the first after checkout and Nix install and before the first Nix step, the
 * second after the last one. Steps the user added after ours, or moved, stay put.
 */
function inPlace(text: string, steps: YAMLSeq, lines: StepLines, rules: StepRules, anchor: number): string | undefined {
  const runs = ourRuns(text, steps, rules);
  const [before, after] = runs;
  if (runs.length !== 2 || !before || !after) return undefined;
  if (before.last - before.first + 1 !== stepCount(lines.before) || after.last - after.first + 1 !== stepCount(lines.after)) {
    return undefined;
  }
  const runsNix = steps.items.flatMap((s, i) => (rules.runsNix(s) && !rules.installsNix(s) ? [i] : []));
  const firstNix = runsNix[0] ?? Number.POSITIVE_INFINITY;
  const lastNix = runsNix.at(-1) ?? -1;
  if (before.first <= anchor || before.last >= firstNix || after.first <= lastNix) return undefined;
  const eol = eolOf(text);
  let out = text;
  for (const [run, block] of [
    [after, lines.after],
    [before, lines.before],
  ] as const) {
    const column = dashColumn(text, (steps.items[run.first] as Node).range?.[0] ?? 0);
    if (column === undefined) return undefined;
    out = out.slice(0, run.start) + indentLines(block, column, eol) + out.slice(run.end);
  }
  return out;
}

function lastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i] as T)) return i;
  return -1;
}

/** Where the cache must be ready: after checkout (env.sh is in the repository) and after Nix is installed. */
function anchorIndex(steps: YAMLSeq, rules: StepRules): number {
  const items = steps.items;
  const checkout = lastIndex(items, rules.checkout);
  if (checkout === -1) {
    throw new PlacementError("it has no checkout step, and .nix-ci-cache/env.sh comes from the checkout");
  }
  const install = lastIndex(items, rules.installsNix);
  const anchor = Math.max(checkout, install);
  const firstNix = items.findIndex((s, i) => i !== install && rules.runsNix(s));
  if (firstNix !== -1 && firstNix < anchor) {
    throw new PlacementError(
      `step ${firstNix + 1} runs Nix before ${anchor === checkout ? "the checkout" : "Nix is installed"}; our steps would come too late`,
    );
  }
  return anchor;
}

/** Our steps in the job, updated where they are or placed anew; the text unchanged when they already are as rendered. */
export function wireStepsJob(text: string, job: string, lines: StepLines, rules: StepRules): string {
  const current = stepsOf(text, job);
  const updated = inPlace(text, current, lines, rules, anchorIndex(current, rules));
  if (updated !== undefined) return updated;
  const bare = withoutOurSteps(text, job, rules);
  const steps = stepsOf(bare, job);
  const anchor = anchorIndex(steps, rules);
  const items = steps.items as Node[];
  const column = dashColumn(bare, items[anchor]?.range?.[0] ?? 0);
  if (column === undefined) throw new PlacementError(`step ${anchor + 1} does not start its own line with "- "`);
  const eol = eolOf(bare);
  const last = items.at(-1) as Node;
  const atAnchor = afterNode(bare, items[anchor] as Node);
  const atEnd = afterNode(bare, last);
  let out = insertAt(bare, atEnd, indentLines(lines.after, column, eol));
  out = insertAt(out, atAnchor, indentLines(lines.before, column, eol));
  const check = stepsOf(out, job).items.filter(rules.ours).length;
  if (check === 0) throw new PlacementError("our steps did not land in the job");
  return out;
}
