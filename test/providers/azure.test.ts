import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import {
  CacheStore,
  checkout,
  coldThenWarmWithImmutableKeys,
  forgetGraph,
  projectWithGraph,
  runSteps,
  type Step,
} from "../support/provider-run.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const PIPELINE = "azure-pipelines.yml";
const TEMPLATE = ".azure-pipelines/nix-ci-cache.yml";
const SCHEMA = "azure-pipelines.json";
const withAzure = exampleDirs(PIPELINE);

interface AzureStep {
  script?: string;
  task?: string;
  template?: string;
  checkout?: string;
  displayName?: string;
  condition?: string;
  inputs?: Record<string, string>;
  parameters?: Record<string, string>;
}
interface StepsTemplate {
  parameters: Array<{ name: string; default: string }>;
  steps: AzureStep[];
}

/** The template's steps with `${{ parameters.x }}` replaced, as Azure expands them when it compiles the pipeline. */
function expandTemplate(template: StepsTemplate, given: Record<string, string> = {}): AzureStep[] {
  const values = Object.fromEntries(template.parameters.map((p) => [p.name, given[p.name] ?? p.default]));
  const fill = (text: string) =>
    text.replace(/\$\{\{\s*parameters\.(\w+)\s*\}\}/g, (_, name: string) => {
      if (!(name in values)) throw new Error(`unknown parameter ${name}`);
      return values[name] as string;
    });
  return template.steps.map((s) => ({ ...s, script: s.script === undefined ? undefined : fill(s.script) }));
}

describe("Azure Pipelines files", () => {
  it.each(withAzure)("examples/%s follows the Cache@2 rules and passes shellcheck", async (name) => {
    const pipeline = readFileSync(join(examples, name, PIPELINE), "utf8");
    const template = readFileSync(join(examples, name, TEMPLATE), "utf8");
    // No published parser runs offline; these are Cache@2's documented rules:
    // key and restoreKeys are `|`-separated segments, restore keys are prefixes of
    // the key, and the key must change every run since saved keys are immutable.
    const steps = expandTemplate(parse(template));
    const cache = steps.find((s) => s.task === "Cache@2");
    const key = (cache?.inputs?.key ?? "").split(" | ");
    expect(key.at(-1)).toBe('"$(Build.BuildId)"');
    for (const prefix of (cache?.inputs?.restoreKeys ?? "").split("\n").filter(Boolean)) {
      expect(key.slice(0, prefix.split(" | ").length)).toEqual(prefix.split(" | "));
    }
    expect(cache?.inputs?.path).toBe(".nix-ci-cache/cache");
    const matrix = parse(pipeline).jobs[0].strategy.matrix;
    expect(Object.keys(matrix)).toEqual(name.endsWith("linux-macos") ? ["linux", "macos"] : ["linux"]);
    // Azure runs a script step with `bash --noprofile --norc` (no -e).
    for (const step of steps.filter((s) => s.script)) {
      expect(await shellcheckErrors(step.script ?? "", "bash", ["SC1091"])).toEqual([]);
    }
  });

  it("the checks can fail: a broken pipeline is reported", () => {
    const pipeline = readFileSync(join(examples, "azure/linux", PIPELINE), "utf8");
    const template = readFileSync(join(examples, "azure/linux", TEMPLATE), "utf8");
    expect(providerSchemaErrors(SCHEMA, pipeline.replace("strategy:", "strategie:"))).toContainEqual(
      expect.stringMatching(/^\/jobs\/0: must NOT have additional properties \(strategie\)/),
    );
    expect(providerSchemaErrors(SCHEMA, template.replace("displayName: Install Nix", "displayNam: Install Nix"))).toContainEqual(
      expect.stringMatching(/^\/steps\/0: must NOT have additional properties \(displayNam\)/),
    );
    expect(() => expandTemplate(parse(template.replace("name: build", "name: built")))).toThrow(/unknown parameter build/);
  });

  it("runs on real Nix with the cache restored by segment prefix and saved only after success; the second run builds nothing (emulated Azure agent and Cache@2)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "azure"]);
    const read = (file: string) => parse(readFileSync(join(project.source, file), "utf8"));
    const jobSteps = read(PIPELINE).jobs[0].steps as AzureStep[];
    const cacheDir = ".nix-ci-cache/cache";
    const store = new CacheStore();

    function job(dir: string, buildId: number, parameters?: Record<string, string>) {
      let restoredKey: string | undefined;
      let savedKey = "";
      // Literal segments with the agent's variables; any other segment is a file, hashed.
      const fingerprint = (key: string) =>
        key
          .split(" | ")
          .map((segment) => {
            const literal = /^"(.*)"$/.exec(segment);
            if (!literal)
              return createHash("sha256")
                .update(readFileSync(join(dir, segment)))
                .digest("hex");
            const vars: Record<string, string> = {
              "Agent.OS": "Linux",
              "Agent.OSArchitecture": "X64",
              "Build.BuildId": String(buildId),
            };
            return (literal[1] ?? "").replace(/\$\(([\w.]+)\)/g, (_, v: string) => vars[v] ?? "");
          })
          .join("|");
      const steps: Step[] = jobSteps
        .flatMap((s) => (s.template ? expandTemplate(read(s.template), parameters ?? s.parameters) : [s]))
        .flatMap((s): Step[] => {
          if (s.task === "Cache@2") {
            expect(s.inputs?.path).toBe(cacheDir);
            return [
              {
                name: "Cache@2",
                action: () => {
                  savedKey = fingerprint(s.inputs?.key ?? "");
                  const prefixes = (s.inputs?.restoreKeys ?? "")
                    .split("\n")
                    .filter(Boolean)
                    .map((k) => `${fingerprint(k)}|`);
                  restoredKey = store.restoreByPrefix(dir, savedKey, prefixes);
                },
              },
            ];
          }
          // The agent made the checkout.
          if (s.checkout) return [];
          // The install step runs as generated: Nix is on PATH here, so it does nothing.
          return [{ name: s.displayName ?? "script", script: s.script ?? "", shell: ["bash", "--noprofile", "--norc"] }];
        });
      // Cache@2's post-job step: after every other step, and only when the job succeeded.
      steps.push({ name: "Post-job: Cache@2", action: () => void store.save(dir, cacheDir, savedKey, true) });
      return { ...runSteps(dir, steps, "none"), restoredKey: () => restoredKey };
    }

    const failed = checkout(project, "failed run");
    const broken = job(failed, 100, { build: "nix-build\nexit 3" });
    expect(broken.status, broken.log).toBe(3);
    expect(store.keys).toEqual([]);
    forgetGraph(project, failed);

    coldThenWarmWithImmutableKeys(project, store, job, { savesUnchanged: true });
  });
});
