import { describe, expect, it } from "vitest";
import type { Detection } from "../src/detect.js";
import type { Ask } from "../src/questions.js";
import { chooseConfig } from "../src/questions.js";

const nothing: Detection = {
  localOs: "linux",
  providers: [],
  platforms: [],
  facts: { existingKeyFiles: [], expression: "default" },
};

/** Answers in order, as prompts.inject would, recording the questions. */
function answering(answers: unknown[]): Ask & { asked: string[] } {
  const asked: string[] = [];
  const ask = async (question: Record<string, unknown>) => {
    asked.push(String(question.message));
    return answers.shift();
  };
  return Object.assign(ask, { asked });
}

describe("init's questions", () => {
  it("take the answers for providers, platforms and mode", async () => {
    const choices = await chooseConfig(nothing, {}, answering([["github"], ["linux"], "chroot", ".nix-ci-cache/cache"]));
    expect(choices.raw).toMatchObject({ providers: ["github"], platforms: ["linux"], mode: "chroot" });
  });

  it("ask only what no flag answered", async () => {
    const flags = { providers: ["gitlab" as const], platforms: ["linux" as const], cacheDir: "ci-cache", build: "make" };
    const none = answering([]);
    const all = await chooseConfig(nothing, { ...flags, mode: "file" }, none);
    expect(none.asked).toEqual([]);
    expect(all.raw).toEqual({ ...flags, mode: "file" });
    // Without --mode the mode is still not asked: GitLab's containers leave file mode only.
    const some = answering([]);
    await chooseConfig(nothing, flags, some);
    expect(some.asked).toEqual([]);
    const github = answering(["chroot"]);
    await chooseConfig(nothing, { ...flags, providers: ["github"] }, github);
    expect(github.asked).toEqual(["Mode"]);
  });

  it("do not offer chroot with a provider whose jobs run in containers", async () => {
    const ask = answering([["github", "gitlab"], ["linux"], "c"]);
    const choices = await chooseConfig(nothing, {}, ask);
    expect(ask.asked).toEqual(["CI providers", "Runner platforms", "Cache directory"]);
    expect(choices.raw).toMatchObject({ providers: ["github", "gitlab"], mode: "file" });
  });

  it("do not offer chroot once macOS is chosen", async () => {
    const choices = await chooseConfig(nothing, {}, answering([["github"], ["linux", "darwin"], "c"]));
    expect(choices.raw).toMatchObject({ providers: ["github"], platforms: ["linux", "darwin"], mode: "file" });
  });

  it("start from what was detected", async () => {
    const detected: Detection = {
      ...nothing,
      providers: [{ id: "gitlab", reason: "found .gitlab-ci.yml" }],
      facts: { existingKeyFiles: ["flake.lock"], expression: "flake" },
    };
    const choices = await chooseConfig(detected, {}, undefined);
    expect(choices.raw).toMatchObject({ providers: ["gitlab"], build: "nix build -L" });
    expect(choices.explanation[0]).toBe("providers: gitlab (found .gitlab-ci.yml)");
    expect(choices.explanation[2]).toMatch(/^mode: file .*containers of GitLab CI jobs do not allow/);
  });
});
