import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { droneCacheRoundTrip, expectBuildStepPassesShellcheck, type PipelineStep } from "../support/drone-cache.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { providerSchemaErrors } from "../support/validators.js";

const PIPELINE = ".drone.yml";
const withDrone = exampleDirs(PIPELINE);

interface DroneStep extends PipelineStep {
  volumes?: { name: string; path: string }[];
  when?: { event?: string[]; status?: string[] };
}

/**
 * Whether a step runs for this event, and whether it also runs after a failure
 * (`status: [success, failure]`; runSteps applies that part).
 */
function stepRuns(step: DroneStep, event: string): { runs: boolean; always: boolean } {
  const when = step.when ?? {};
  return { runs: when.event === undefined || when.event.includes(event), always: when.status?.includes("failure") ?? false };
}

describe("Drone pipeline", () => {
  // Drone runs a step's commands as one script under `sh -e`.
  it.each(withDrone)("examples/%s: the build step's commands pass shellcheck as one sh script", async (name) => {
    await expectBuildStepPassesShellcheck(join(examples, name, PIPELINE));
  });

  it("the schema check can fail: a broken pipeline is reported", () => {
    const text = readFileSync(join(examples, "drone/linux", PIPELINE), "utf8").replace("type: docker", "type: podman");
    expect(providerSchemaErrors("drone.json", text)).toContainEqual(
      expect.stringMatching(/^\/type: must be equal to one of the allowed values \("docker"/),
    );
  });

  it("runs on real Nix with the cache carried by drone-cache's branch key; a pull request reads its target branch's cache, a new branch the default branch's, and both build nothing; a failed build still saves (emulated Drone runner and drone-cache)", async () => {
    requireNix();
    await droneCacheRoundTrip<DroneStep>({
      provider: "drone",
      pipeline: PIPELINE,
      // For pull requests DRONE_COMMIT_BRANCH is the target branch.
      vars: (branch) => ({
        DRONE_REPO_NAMESPACE: "owner",
        DRONE_REPO_NAME: "repo",
        DRONE_COMMIT_BRANCH: branch,
        DRONE_REPO_BRANCH: "main",
      }),
      stepRuns,
      // The plugin's archives live in a host volume, which is what outlives the build.
      checkPluginStep: (step, file) => {
        const hostVolumes = (file.volumes as { name: string; host?: { path: string } }[])
          .filter((v) => v.host)
          .map((v) => v.name);
        expect(step.volumes?.map((v) => v.name)).toEqual(hostVolumes);
      },
      // Both restore steps run, and for a pull request both name the target branch.
      pullRequestRestores: ["nix-ci-cache-owner-repo-linux-main", "nix-ci-cache-owner-repo-linux-main"],
    });
  });
});
