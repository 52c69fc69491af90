import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "../lazy.js";
import type { Platform } from "../model.js";
import type { Plan } from "../plan.js";
import { INSTALL_NIX_HERE } from "./shared.js";
import type { Provider, TemplateContext } from "./types.js";

const PIPELINE = ".buildkite/pipeline.yml";
const FRAGMENT = ".buildkite/nix-ci-cache.yml";
const UPLOAD = `buildkite-agent pipeline upload ${FRAGMENT}`;
/**
 * The official cache plugin; its levels, `force`, `key-extra` and `soft-fail` need at
 * least v1.8.0. v1.12.0 changed none of the options used here (it adds `retries`), and
 * its post-command hook still skips the save after a failed command
 * (buildkite-plugins/cache-buildkite-plugin hooks/post-command @ v1.12.0).
 */
const CACHE_PLUGIN = "cache#v1.12.0";

function context(plan: Plan): TemplateContext {
  const several = plan.platforms.length > 1;
  return {
    fragment: FRAGMENT,
    upload: UPLOAD,
    cachePlugin: CACHE_PLUGIN,
    // One script: env.sh's settings hold for the build and for save.sh after it. Agents
    // without Nix get it from the Determinate installer, in this same shell.
    command: [INSTALL_NIX_HERE, ". .nix-ci-cache/env.sh", plan.build.replace(/\n+$/, ""), "sh .nix-ci-cache/save.sh"].join("\n"),
    steps: plan.platforms.map((platform: Platform) => ({
      platform,
      key: `nix-ci-cache-${platform}`,
      label: `:nix: ${plan.build.split("\n")[0]} (${platform})`,
      // Agents carry only the tags their owners give them: with one platform any
      // agent will do; with several, the steps need tags to tell them apart.
      agentsOs: several ? platform : undefined,
    })),
  };
}

function hasUploadStep(steps: unknown): boolean {
  return (
    Array.isArray(steps) &&
    steps.some((step) => {
      if (typeof step === "string") return false;
      const command =
        (step as { command?: unknown; commands?: unknown } | null)?.command ?? (step as { commands?: unknown })?.commands;
      return (Array.isArray(command) ? command : [command]).some((c) => typeof c === "string" && c.includes(UPLOAD));
    })
  );
}

/** Adds a step uploading our fragment to the user's `steps:`, keeping everything else as written. */
function addUploadStep(existing: string): string | undefined {
  const doc = parseDocument(existing);
  if (doc.errors.length > 0) {
    throw new Error(
      `${PIPELINE}: cannot add our upload step because the file is not valid YAML: ${doc.errors[0]?.message.split("\n")[0]}`,
    );
  }
  const root = doc.contents;
  const stepsNode = isMap(root) ? (root as YAMLMap).get("steps", true) : isSeq(root) ? root : undefined;
  if (!isSeq(stepsNode)) {
    throw new Error(`${PIPELINE}: found no "steps:" list; add a step with "command: ${UPLOAD}" by hand`);
  }
  if (hasUploadStep(doc.toJS()?.steps ?? doc.toJS())) return undefined;
  (stepsNode as YAMLSeq<unknown>).items.push(doc.createNode({ label: ":pipeline: nix-ci-cache", command: UPLOAD }));
  return doc.toString();
}

export const buildkite: Provider = {
  id: "buildkite",
  name: "Buildkite",
  pipelinePath: `${PIPELINE} (+ ${FRAGMENT})`,
  // Hosted agents offer Linux and macOS; self-hosted agents run anywhere.
  platforms: ["linux", "darwin"],
  signingKey:
    "not passed by the generated pipeline: export NIX_CI_CACHE_SIGNING_KEY from an agent `environment` hook or a secrets plugin",
  keyStrategy:
    "mutable: the cache plugin's branch level, overwritten each run (`force`), restored from the branch, else from the pipeline level that every branch also writes",
  scope: "every branch of the pipeline writes the pipeline-level entry that new branches start from",
  validatedBy:
    "Buildkite's pipeline schema, the cache plugin's options in a test, shellcheck; run on real Nix with the agent and the cache plugin's levels emulated (cold, new branch, failed build)",
  detectEnv: "BUILDKITE",
  detectFiles: [".buildkite"],
  // The cache plugin's post-command hook skips saving when the command failed, and has
  // no option to save anyway (hooks/post-command @ v1.12.0).
  saveOnFailure: false,
  cacheLimit:
    "the plugin's backend (agent disk, S3, GCS, Azure) sets it; hosted cache volumes keep 14 days from last use; the plugin saves only after the command succeeded, so a failed build keeps nothing",
  defaultBudget: () => ({ size: "4G", why: "the cache plugin's backend sets the limit; 4G keeps each upload and restore short" }),
  context,
  userFiles: [{ path: PIPELINE, update: addUploadStep }],
  platformSigns: { path: ".buildkite", directory: true, darwin: [/macos|darwin/i, /queue|os|image|agents/] },
};
