import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli } from "../support/cli.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import {
  CacheStore,
  checkout,
  coldThenWarmWithImmutableKeys,
  expandExpressions,
  forgetGraph,
  projectWithGraph,
  runSteps,
  type Step,
  type WorkflowStep,
} from "../support/provider-run.js";
import { actionlintErrors, shellcheckErrors, workflowParserErrors } from "../support/validators.js";

const WORKFLOW = ".github/workflows/nix.yml";
const withGithub = exampleDirs(WORKFLOW);

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
    expect(await actionlintErrors(text, WORKFLOW)).toContainEqual(
      expect.stringMatching(/unexpected key "runs_on" for "job" section/),
    );
    expect(await workflowParserErrors(text, WORKFLOW)).toContainEqual(expect.stringMatching(/: Unexpected value 'runs_on'$/));
  });

  describe("runs on real Nix with the cache restored by key prefix and saved only when save.sh added paths (the `if:` conditions evaluated by @actions/expressions)", () => {
    // GitHub evaluates these expressions; a runner on Linux x64.
    const evaluate = (text: string, dir: string, runId: number) =>
      expandExpressions(text, dir, {
        "runner.os": "Linux",
        "runner.arch": "X64",
        "github.run_id": String(runId),
        "github.run_attempt": "1",
        "matrix.runner": "ubuntu-latest",
      });

    /** The workflow's job as the runner runs it; `text` is the workflow file. */
    function runner(text: string, store: CacheStore) {
      const workflow = parse(text);
      const cacheDir = ".nix-ci-cache/cache";
      return (dir: string, runId: number) => {
        let primaryKey = "";
        let restoredKey: string | undefined;
        let restoreId: string | undefined;
        const steps: Step[] = (workflow.jobs.build.steps as WorkflowStep[]).flatMap((s): Step[] => {
          if (s.uses?.startsWith("actions/cache/restore@")) {
            restoreId = s.id;
            return [
              {
                name: "restore",
                id: s.id,
                condition: s.if,
                action: () => {
                  expect(s.with?.path).toBe(cacheDir);
                  primaryKey = evaluate(s.with?.key ?? "", dir, runId);
                  const prefixes = (s.with?.["restore-keys"] ?? "").split("\n").filter(Boolean);
                  restoredKey = store.restoreByPrefix(
                    dir,
                    primaryKey,
                    prefixes.map((p) => evaluate(p, dir, runId)),
                  );
                  return { "cache-primary-key": primaryKey };
                },
              },
            ];
          }
          if (s.uses?.startsWith("actions/cache/save@")) {
            expect(s.with?.key).toBe(`\${{ steps.${restoreId}.outputs.cache-primary-key }}`);
            return [{ name: "save", condition: s.if, action: () => void store.save(dir, cacheDir, primaryKey, true) }];
          }
          // Checkout and the Nix installer: this machine has the checkout and Nix.
          if (s.uses) return [];
          return [
            {
              name: s.name ?? "run",
              id: s.id,
              condition: s.if,
              script: s.run ?? "",
              shell: ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
            },
          ];
        });
        return { ...runSteps(dir, steps, "github-env"), restoredKey: () => restoredKey };
      };
    }

    it("a cold run saves; a warm run builds nothing and, having added nothing, creates no entry (emulated GitHub runner and cache)", async () => {
      requireNix();
      const project = await projectWithGraph(["init", "--provider", "github"]);
      const store = new CacheStore();
      const job = runner(readFileSync(join(project.source, WORKFLOW), "utf8"), store);
      coldThenWarmWithImmutableKeys(project, store, job, { savesUnchanged: false });
    });

    it("a job of the user's, wired by generate, is cached the same way: cold saves, warm builds nothing and saves nothing (emulated GitHub runner and cache)", async () => {
      requireNix();
      const project = await projectWithGraph(["init", "--provider", "github"]);
      const ci = ".github/workflows/ci.yml";
      writeFileSync(
        join(project.source, ci),
        "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: cachix/install-nix-action@v31\n      # the project's own build\n      - name: Build\n        run: nix-build\n",
      );
      const config = join(project.source, ".nix-ci-cache/config.yaml");
      writeFileSync(config, `${readFileSync(config, "utf8")}into: ["${ci}:build"]\n`);
      expect((await runCli(project.source, ["generate"])).code).toBe(0);
      const text = readFileSync(join(project.source, ci), "utf8");
      expect(text).toContain("id: nix-ci-cache-restore");
      const store = new CacheStore();
      coldThenWarmWithImmutableKeys(project, store, runner(text, store), { savesUnchanged: false });
    });

    it("a failed save.sh writes no output, and what is in the cache directory is still saved; not so with `outputs.added != '0'` alone (emulated GitHub runner and cache)", async () => {
      requireNix();
      const project = await projectWithGraph(["init", "--provider", "github"]);
      const text = readFileSync(join(project.source, WORKFLOW), "utf8");
      const naive = text.replace(
        /steps\.restore\.outcome == 'success' && \(.*\)$/m,
        "steps.restore.outcome == 'success' && steps.write.outputs.added != '0'",
      );
      expect(naive).not.toBe(text);
      for (const [workflow, saves] of [
        [text, true],
        [naive, false],
      ] as const) {
        const store = new CacheStore();
        const dir = checkout(project, "save.sh fails");
        writeFileSync(join(dir, ".nix-ci-cache/save.sh"), "echo 'nix-ci-cache: save failed: disk full' >&2\nexit 1\n");
        const result = runner(workflow, store)(dir, 201);
        expect(result.status, result.log).toBe(1);
        expect(result.steps.write?.outcome).toBe("failure");
        expect(result.steps.write?.outputs).toEqual({});
        expect(store.keys, result.log).toHaveLength(saves ? 1 : 0);
        forgetGraph(project, dir);
      }
    });
  });
});
