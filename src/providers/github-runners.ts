// The runners a GitHub workflow's jobs run on, read from the parsed file: a label, a
// list of labels (flow or block), `{group, labels}`, or `${{ matrix.x }}` with the
// matrix's values (https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idruns-on).

import { isMap, parseDocument } from "../lazy.js";
import type { Platform } from "../model.js";
import type { PlatformEvidence } from "./types.js";

type Runner = string | string[];

const MATRIX_REF = /^\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}$/;

function platformOf(runner: Runner): Platform | undefined {
  const labels = typeof runner === "string" ? [runner] : runner;
  if (labels.some((label) => /^macos(-|$)/i.test(label))) return "darwin";
  if (labels.some((label) => /^ubuntu(-|$)|^linux$/i.test(label))) return "linux";
  return undefined;
}

const asRunner = (value: unknown): Runner | undefined =>
  typeof value === "string"
    ? value
    : Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")
      ? (value as string[])
      : undefined;

/** The values `matrix.<name>` takes: from the matrix's own list and from its `include` entries. */
function matrixValues(matrix: unknown, name: string): Runner[] {
  if (matrix === null || typeof matrix !== "object") return [];
  const m = matrix as Record<string, unknown>;
  const own = Array.isArray(m[name]) ? (m[name] as unknown[]) : [];
  const included = Array.isArray(m.include) ? (m.include as Array<Record<string, unknown>>).map((e) => e?.[name]) : [];
  return [...own, ...included].map(asRunner).filter((r): r is Runner => r !== undefined);
}

const show = (runner: Runner) => (typeof runner === "string" ? runner : `[${runner.join(", ")}]`);

/** Each job's runners with the platform they show, from one workflow's text. */
export function workflowRunners(file: string, text: string): PlatformEvidence[] {
  const doc = parseDocument(text);
  const jobs = isMap(doc.contents) ? doc.contents.get("jobs", true) : undefined;
  if (doc.errors.length > 0 || !isMap(jobs)) return [];
  const found: PlatformEvidence[] = [];
  for (const pair of jobs.items) {
    if (!isMap(pair.value)) continue;
    const job = pair.value.toJSON() as Record<string, unknown>;
    let runsOn = job["runs-on"];
    if (runsOn && typeof runsOn === "object" && !Array.isArray(runsOn)) runsOn = (runsOn as { labels?: unknown }).labels;
    const direct = asRunner(runsOn);
    if (direct === undefined) continue;
    const matrixName = typeof direct === "string" ? MATRIX_REF.exec(direct.trim())?.[1] : undefined;
    const written = `runs-on: ${show(direct)}`;
    const runners = matrixName ? matrixValues((job.strategy as { matrix?: unknown } | undefined)?.matrix, matrixName) : [direct];
    for (const runner of runners) {
      const platform = platformOf(runner);
      const line = matrixName ? `${written} with matrix.${matrixName}: ${show(runner)}` : written;
      if (platform) found.push({ platform, file, line, runner });
    }
  }
  return found;
}
