import prompts from "prompts";
import { describe, expect, it } from "vitest";
import type { Detection } from "../src/detect.js";
import { initPlan } from "../src/init.js";

const nothing: Detection = {
  localOs: "linux",
  providers: [],
  platforms: [],
  facts: { existingKeyFiles: [], hasFlake: false },
};

describe("init's questions", () => {
  it("take the answers for providers, platforms and mode", async () => {
    prompts.inject([["github"], ["linux"], "chroot"]);
    const plan = await initPlan(nothing, {}, false);
    expect(plan.raw).toMatchObject({ providers: ["github"], platforms: ["linux"], mode: "chroot" });
  });

  it("do not offer chroot with a provider whose jobs run in containers", async () => {
    prompts.inject([["github", "gitlab"], ["linux"]]);
    const plan = await initPlan(nothing, {}, false);
    expect(plan.raw).toMatchObject({ providers: ["github", "gitlab"], mode: "file" });
  });

  it("do not offer chroot once macOS is chosen", async () => {
    prompts.inject([["github"], ["linux", "darwin"]]);
    const plan = await initPlan(nothing, {}, false);
    expect(plan.raw).toMatchObject({ providers: ["github"], platforms: ["linux", "darwin"], mode: "file" });
  });

  it("start from what was detected", async () => {
    const detected: Detection = {
      ...nothing,
      providers: [{ id: "gitlab", reason: "found .gitlab-ci.yml" }],
      facts: { existingKeyFiles: ["flake.lock"], hasFlake: true },
    };
    const plan = await initPlan(detected, {}, true);
    expect(plan.raw).toMatchObject({ providers: ["gitlab"], keyFiles: ["flake.lock"], build: "nix build -L" });
    expect(plan.explanation[0]).toBe("providers: gitlab (found .gitlab-ci.yml)");
    expect(plan.explanation.at(-1)).toMatch(/^mode: file .*containers of GitLab CI jobs do not allow/);
  });
});
