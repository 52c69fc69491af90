// `extends: .nix-ci-cache` in a GitLab job of the user's, spliced into the file's text.
//
// GitLab merges `extends` key by key: mappings are merged deeply, anything else (lists
// such as before_script, and scalars) is taken from the last entry that has it, and the
// job's own keys win over all (https://docs.gitlab.com/ci/yaml/#extends,
// https://docs.gitlab.com/ci/yaml/yaml_optimization/#merge-details). So a job with its own
// before_script or after_script would drop ours, its own `cache:` would be merged into
// ours (its paths replacing ours), and ours would replace what `default:` or another
// extended job gives it. Those jobs are left alone, and init prints the lines to paste.

import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap, type YAMLSeq } from "../lazy.js";
import { hiddenJobFor, jobsOf, parsePipeline } from "../pipelines/jobs.js";
import { afterNode, appendItem, eolOf, indentLines, insertAt, keyColumn, lineStart } from "../yaml-splice.js";
import { PlacementError } from "./steps.js";

/** The keys of the hidden job that a job's, a parent's or `default:`'s own would fight with. */
const OURS = ["before_script", "after_script", "cache"] as const;

function extendsList(job: YAMLMap): string[] {
  const value = job.toJSON().extends as unknown;
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
}

/** Why our hidden job cannot simply be added to this job's extends, or undefined when it can. */
function conflict(root: YAMLMap, job: YAMLMap, hidden: string): string | undefined {
  const own = OURS.filter((key) => job.has(key));
  if (own.length > 0) {
    return `it has its own ${own.join(" and ")}, which would replace or merge into ours (GitLab replaces lists and merges mappings in extends, https://docs.gitlab.com/ci/yaml/#extends)`;
  }
  const defaults = root.get("default", true);
  const global = OURS.filter((key) => root.has(key) || (isMap(defaults) && defaults.has(key)));
  if (global.length > 0) {
    return `the pipeline sets ${global.join(" and ")} for every job (default:), and ours would replace it in this job`;
  }
  for (const parent of extendsList(job).filter((name) => name !== hidden)) {
    const node = root.get(parent, true);
    if (!isMap(node)) return `it extends ${parent}, which is not in this file, so what it sets cannot be checked`;
    const clash = OURS.filter((key) => node.has(key));
    if (clash.length > 0) return `it extends ${parent}, whose ${clash.join(" and ")} ours would replace`;
  }
  return undefined;
}

/** The job with our hidden job last in its extends; the text unchanged when it is there. */
export function wireGitlabJob(text: string, name: string): string {
  const doc = parsePipeline(text);
  const job = jobsOf("gitlab", doc).find((j) => j.name === name)?.node;
  if (!job || !isMap(doc.contents)) throw new PlacementError(`no job "${name}"`);
  const hidden = hiddenJobFor(job);
  if (extendsList(job).includes(hidden)) return text;
  const why = conflict(doc.contents, job, hidden);
  if (why) throw new PlacementError(why);
  if (job.flow) throw new PlacementError("it is written as a flow mapping ({…})");
  const eol = eolOf(text);
  const current = job.get("extends", true) as Node | undefined;
  if (current === undefined) {
    const first = job.items[0]?.key as Node | undefined;
    const column = first?.range ? keyColumn(text, first.range[0]) : undefined;
    if (!first?.range || column === undefined) throw new PlacementError("its keys do not start lines of their own");
    const at = first.range[0] - column;
    return insertAt(text, at, indentLines([`extends: ${hidden}`], column, eol));
  }
  return appendItem(text, current, { flow: hidden, block: hidden }, isScalar, (why) => {
    throw new PlacementError(
      why === "layout" ? "its extends list is written in a way we cannot add to" : "its extends is neither a name nor a list",
    );
  });
}

const HIDDEN_JOBS = [".nix-ci-cache", ".nix-ci-cache-darwin"];

/**
 * The job without our hidden jobs in its extends: the inverse of wireGitlabJob, for a
 * job that the config no longer names. Only jobs we wired come here (the manifest says
 * which): a user may extend `.nix-ci-cache` by hand, and that stays.
 */
export function unwireGitlabJob(text: string, name: string): string {
  const job = jobsOf("gitlab", text).find((j) => j.name === name)?.node;
  const pair = job?.items.find((p) => isScalar(p.key) && (p.key as Scalar).value === "extends");
  const current = pair?.value as Node | undefined;
  if (!pair || !current?.range) return text;
  const ours = (node: unknown) => isScalar(node) && HIDDEN_JOBS.includes(String((node as Scalar).value));
  if (ours(current)) {
    const key = pair.key as Node;
    const start = lineStart(text, key.range?.[0] ?? 0);
    return text.slice(0, start) + text.slice(afterNode(text, current));
  }
  if (!isSeq(current)) return text;
  const items = (current as YAMLSeq).items as Node[];
  if (!items.some(ours)) return text;
  if ((current as YAMLSeq).flow) {
    const [start, end] = current.range;
    const kept = items.filter((item) => !ours(item)).map((item) => text.slice(item.range?.[0], item.range?.[1]));
    return `${text.slice(0, start)}[${kept.join(", ")}]${text.slice(text.lastIndexOf("]", end) + 1)}`;
  }
  let out = text;
  // From the last, so that earlier offsets stay right.
  for (const item of [...items].reverse()) {
    if (ours(item) && item.range) out = out.slice(0, lineStart(out, item.range[0])) + out.slice(afterNode(out, item));
  }
  return out;
}
