import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import {
  CacheStore,
  coldThenWarmWithImmutableKeys,
  expandExpressions,
  projectWithGraph,
  runSteps,
  type Step,
  type WorkflowStep,
} from "../support/provider-run.js";
import { actionlintErrors, providerSchemaErrors, shellcheckErrors, workflowParserErrors } from "../support/validators.js";

const WORKFLOW = ".forgejo/workflows/nix.yml";
const ACTIONS = ".forgejo/actions/nix-ci-cache";
const ACTION_FILES = [`${ACTIONS}/restore/action.yml`, `${ACTIONS}/save/action.yml`];
const withForgejo = exampleDirs(WORKFLOW);

/**
 * actionlint only knows GitHub's hosted runner labels; Forgejo runners are
 * labelled by their administrator, and `docker` is the Forgejo runner's default.
 */
async function forgejoActionlintErrors(text: string): Promise<string[]> {
  return (await actionlintErrors(text, WORKFLOW)).filter((e) => !/label "docker" is unknown.*\[runner-label\]$/.test(e));
}

/** GitHub's own parser for composite actions (Forgejo reads the same action.yml). */
async function actionParserErrors(text: string): Promise<string[]> {
  const { parseAction } = await import("@actions/workflow-parser/actions/index");
  const { NoOperationTraceWriter } = await import("@actions/workflow-parser");
  const result = parseAction({ name: "action.yml", content: text }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => e.message);
}

describe("Forgejo Actions workflow and composite actions", () => {
  it.each(withForgejo)("examples/%s passes actionlint, GitHub's workflow and action parsers and shellcheck", async (name) => {
    const text = readFileSync(join(examples, name, WORKFLOW), "utf8");
    expect(await forgejoActionlintErrors(text)).toEqual([]);
    expect(await workflowParserErrors(text, WORKFLOW)).toEqual([]);
    const runs: WorkflowStep[] = parse(text).jobs.build.steps;
    for (const file of ACTION_FILES) {
      const action = readFileSync(join(examples, name, file), "utf8");
      expect(await actionParserErrors(action), file).toEqual([]);
      runs.push(...(parse(action).runs.steps as WorkflowStep[]));
    }
    for (const step of runs.filter((s) => s.run)) {
      // SC1091: env.sh is checked on its own (runtime-shell.test.ts).
      expect(await shellcheckErrors(step.run ?? "", step.shell === "sh" ? "sh" : "bash", ["SC1091"])).toEqual([]);
    }
  });

  it("the validators can fail: a broken workflow and a broken action are reported", async () => {
    const text = readFileSync(join(examples, "forgejo/linux", WORKFLOW), "utf8").replace("runs-on:", "runs_on:");
    expect(await forgejoActionlintErrors(text)).toContainEqual(
      expect.stringMatching(/unexpected key "runs_on" for "job" section/),
    );
    expect(await workflowParserErrors(text, WORKFLOW)).toContainEqual(expect.stringMatching(/: Unexpected value 'runs_on'$/));
    expect(providerSchemaErrors("github-workflow.json", text)).toContainEqual(
      expect.stringMatching(/^\/jobs\/build: must NOT have additional properties \(runs_on\)/),
    );
    const action = readFileSync(join(examples, "forgejo/linux", ACTION_FILES[0] as string), "utf8");
    expect(await actionParserErrors(action.replace("using: composite", "usin: composite"))).toContainEqual(
      expect.stringMatching(/: Required property is missing: using$/),
    );
  });

  it("runs twice on real Nix with the cache restored by key prefix (`if:` evaluated by @actions/expressions); the second run builds nothing and, having added nothing, saves nothing (emulated Forgejo runner and cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "forgejo"]);
    const read = (file: string) => parse(readFileSync(join(project.source, file), "utf8"));
    const workflow = read(WORKFLOW);
    const cacheDir = ".nix-ci-cache/cache";
    const store = new CacheStore();

    function job(dir: string, runId: number) {
      let restoredKey: string | undefined;
      // What the runner knows; composite outputs and inputs are added as they are set.
      const known: Record<string, string> = {
        "runner.os": "Linux",
        "runner.arch": "X64",
        "github.run_id": String(runId),
        "github.run_attempt": "1",
      };
      const evaluate = (text: string) => expandExpressions(text, dir, known);

      // `gate`: whether the composite action a step belongs to runs at all.
      const expand = (s: WorkflowStep, gate?: () => boolean): Step[] => {
        if (s.uses?.startsWith("actions/cache/restore@")) {
          return [
            {
              name: "restore",
              id: s.id,
              condition: s.if,
              gate,
              action: () => {
                expect(s.with?.path).toBe(cacheDir);
                known["steps.restore.outputs.cache-primary-key"] = evaluate(s.with?.key ?? "");
                const prefixes = (s.with?.["restore-keys"] ?? "").split("\n").filter(Boolean);
                // The runner's cache server: exact key, else the newest entry per prefix.
                restoredKey = store.restoreByPrefix(
                  dir,
                  known["steps.restore.outputs.cache-primary-key"],
                  prefixes.map(evaluate),
                );
              },
            },
          ];
        }
        if (s.uses?.startsWith("actions/cache/save@")) {
          expect(s.with?.path).toBe(cacheDir);
          return [
            {
              name: "save",
              condition: s.if,
              gate,
              always: gate !== undefined,
              action: () => void store.save(dir, cacheDir, evaluate(s.with?.key ?? ""), true),
            },
          ];
        }
        if (s.uses?.startsWith("./")) {
          // A local composite action: its steps run in place when the action runs (as
          // the outer step's `if:` decides), its inputs and outputs pass through the
          // expression context. Its outcome is taken as success: nothing here fails.
          const action = read(join(s.uses, "action.yml"));
          let entered = false;
          const setInputs: Step = {
            name: `inputs of ${s.uses}`,
            condition: s.if,
            action: () => {
              entered = true;
              for (const [k, v] of Object.entries(s.with ?? {})) known[`inputs.${k}`] = evaluate(v);
            },
          };
          const setOutputs: Step = {
            name: `outputs of ${s.uses}`,
            id: s.id,
            gate: () => entered,
            always: true,
            action: () => {
              for (const [k, v] of Object.entries(action.outputs ?? {})) {
                known[`steps.${s.id}.outputs.${k}`] = evaluate((v as { value: string }).value);
              }
            },
          };
          const inner = (action.runs.steps as WorkflowStep[]).flatMap((inner) => expand(inner, () => entered));
          return [setInputs, ...inner, setOutputs];
        }
        // Checkout: the harness made the checkout.
        if (s.uses) return [];
        // The install step is run as generated: Nix is on PATH here, so it does nothing.
        const shell = s.shell === "sh" ? ["sh", "-e"] : ["bash", "--noprofile", "--norc", "-eo", "pipefail"];
        // Inside a composite action that runs, a step without `if:` runs.
        return [
          { name: s.name ?? "run", id: s.id, condition: s.if, gate, always: gate !== undefined, script: s.run ?? "", shell },
        ];
      };

      const steps = (workflow.jobs.build.steps as WorkflowStep[]).flatMap((s) => expand(s));
      return { ...runSteps(dir, steps, "github-env"), restoredKey: () => restoredKey };
    }

    coldThenWarmWithImmutableKeys(project, store, job, { savesUnchanged: false });
    expect(store.keys[0]).toMatch(/-101-1$/);
  });
});
