import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { droneCacheRoundTrip, expectBuildStepPassesShellcheck, type PipelineStep } from "../support/drone-cache.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { providerSchemaErrors } from "../support/validators.js";

const PIPELINE = ".woodpecker.yaml";
const withWoodpecker = exampleDirs(PIPELINE);

interface WhenCondition {
  event?: string[];
  status?: string[];
  evaluate?: string;
}

interface WoodpeckerStep extends PipelineStep {
  volumes?: string[];
  when?: WhenCondition[];
}

/**
 * Whether a step runs for this event, and whether it also runs after a failure
 * (`status: [success, failure]`; runSteps applies that part).
 */
function stepRuns(step: WoodpeckerStep, event: string, vars: Record<string, string>): { runs: boolean; always: boolean } {
  const conditions = step.when ?? [{}];
  const always = conditions.some((c) => c.status?.includes("failure") ?? false);
  const holds = (c: WhenCondition) => {
    if (c.evaluate === undefined) return true;
    // The only expression we generate: one variable unequal to another.
    const m = /^(\w+) != (\w+)$/.exec(c.evaluate);
    if (!m) throw new Error(`unexpected evaluate expression ${c.evaluate}`);
    return vars[m[1] as string] !== vars[m[2] as string];
  };
  return { runs: conditions.some((c) => (c.event === undefined || c.event.includes(event)) && holds(c)), always };
}

describe("Woodpecker pipeline", () => {
  // Woodpecker runs a step's commands as one script under `sh -e`.
  it.each(withWoodpecker)("examples/%s: the build step's commands pass shellcheck as one sh script", async (name) => {
    await expectBuildStepPassesShellcheck(join(examples, name, PIPELINE));
  });

  it("the schema check can fail: a broken pipeline is reported", () => {
    const text = readFileSync(join(examples, "woodpecker/linux", PIPELINE), "utf8").replace(
      "status: [success, failure]",
      "status: [always]",
    );
    expect(providerSchemaErrors("woodpecker.json", text)).toContainEqual(
      expect.stringMatching(/\/when\/0\/status\/0: must be equal to one of the allowed values/),
    );
  });

  it("runs on real Nix with the cache carried by drone-cache's branch key; a pull request reads its target branch's cache, a new branch the default branch's, and both build nothing; a failed build still saves (emulated Woodpecker runner and drone-cache)", async () => {
    requireNix();
    await droneCacheRoundTrip<WoodpeckerStep>({
      provider: "woodpecker",
      pipeline: PIPELINE,
      // For pull requests CI_COMMIT_BRANCH is the target branch.
      vars: (branch) => ({
        CI_REPO_OWNER: "owner",
        CI_REPO_NAME: "repo",
        CI_COMMIT_BRANCH: branch,
        CI_REPO_DEFAULT_BRANCH: "main",
      }),
      stepRuns,
      // The default branch's restore step runs only off the default branch (`evaluate`).
      pullRequestRestores: ["nix-ci-cache-owner-repo-linux-main"],
    });
  });
});
