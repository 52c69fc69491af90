// How CircleCI steps look: `- checkout`, `- run: <command>` or `- <step>: {…}`.

import { isMap, isScalar, type Node } from "../lazy.js";
import { NIX_EVIDENCE } from "../pipelines/jobs.js";
import { WIRED_PREFIX } from "../providers/actions.js";
import { INSTALLS_NIX, type StepRules } from "./steps.js";

function stepName(step: unknown): string {
  if (isScalar(step)) return String(step.value);
  if (isMap(step) && step.items.length === 1) return String((step.items[0]?.key as { value?: unknown })?.value ?? "");
  return "";
}

/** A run step's command, written as `run: cmd` or `run: {command: cmd}`. */
function command(step: unknown): string {
  if (!isMap(step) || stepName(step) !== "run") return "";
  const value = step.get("run", true) as Node | undefined;
  if (isScalar(value)) return String(value.value);
  return isMap(value) ? String(value.get("command") ?? "") : "";
}

export const CIRCLECI_RULES: StepRules = {
  checkout: (s) => stepName(s) === "checkout",
  installsNix: (s) => INSTALLS_NIX.test(command(s)),
  runsNix: (s) => NIX_EVIDENCE.test(command(s)),
  ours: (s) => {
    if (!isMap(s)) return false;
    const body = s.get(stepName(s), true);
    return isMap(body) && String(body.get("name") ?? "").startsWith(WIRED_PREFIX);
  },
};
