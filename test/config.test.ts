import { describe, expect, it } from "vitest";
import { formatProblem, parseConfigText, validateConfig } from "../src/config.js";

const facts = { existingKeyFiles: ["flake.lock"], hasFlake: true };

describe("validateConfig", () => {
  it("fills in every default from the project", () => {
    const result = validateConfig({ providers: ["github"] }, facts);
    expect(result.config).toEqual({
      providers: ["github"],
      platforms: ["linux"],
      mode: "file",
      cacheDir: ".nix-ci-cache/cache",
      keyFiles: ["flake.lock"],
      compression: "zstd",
      build: "nix build -L",
    });
  });

  it("builds with nix-build when there is no flake", () => {
    expect(validateConfig({ providers: ["gitlab"] }, { existingKeyFiles: [], hasFlake: false }).config?.build).toBe("nix-build");
  });

  it.each([
    [{}, "/providers", "is required"],
    [{ providers: [] }, "/providers", "must NOT have fewer than 1 items"],
    [{ providers: ["jenkins2"] }, "/providers/0", 'must be one of "github", "gitlab"'],
    [{ providers: ["github"], mode: "tmpfs" }, "/mode", 'must be one of "file", "chroot" (e.g. mode: file)'],
    [{ providers: ["github"], platforms: ["windows"] }, "/platforms/0", 'must be one of "linux", "darwin"'],
    [{ providers: ["github"], compression: "gzip" }, "/compression", '"zstd"'],
    [{ providers: ["github"], cacheDir: "" }, "/cacheDir", "must NOT have fewer than 1 characters"],
    [{ providers: ["github"], keyFiles: "flake.lock" }, "/keyFiles", "must be array"],
    [{ providers: ["github"], cachedir: "x" }, "/cachedir", "unknown key; remove it"],
    [
      { providers: ["github"], mode: "chroot", platforms: ["darwin"] },
      "/mode",
      "building using a diverted store is not supported",
    ],
    [{ providers: ["github"], mode: "chroot", platforms: ["linux", "darwin"] }, "/mode", "Use mode: file"],
    [{ providers: ["gitlab"], cacheDir: "/var/cache/nix" }, "/cacheDir", "GitLab only caches paths inside the project"],
    [{ providers: ["gitlab"], cacheDir: "../cache" }, "/cacheDir", "GitLab only caches paths inside the project"],
    [{ providers: ["github"], cacheDir: "." }, "/cacheDir", "use a directory of its own"],
    [{ providers: ["github"], cacheDir: ".nix-ci-cache/state" }, "/cacheDir", "use a directory of its own"],
  ])("rejects %j at %s", (data, key, message) => {
    const result = validateConfig(data, facts);
    expect(result.problems).toBeDefined();
    const problem = result.problems?.find((p) => p.key === key);
    expect(problem, JSON.stringify(result.problems)).toBeDefined();
    expect(problem?.message).toContain(message);
  });

  it("allows an absolute cache dir where the provider can cache it", () => {
    expect(validateConfig({ providers: ["github"], cacheDir: "/home/runner/nix-cache" }, facts).config?.cacheDir).toBe(
      "/home/runner/nix-cache",
    );
  });

  it("gives one line per problem naming file and key", () => {
    const result = validateConfig({ providers: ["nope"], mode: "x", extra: 1 }, facts);
    const lines = (result.problems ?? []).map((p) => formatProblem(".nix-ci-cache/config.yaml", p));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^\.nix-ci-cache\/config\.yaml: \/\S+: /);
  });

  it("reports an empty file", () => {
    expect(validateConfig(undefined, facts).problems?.[0]?.message).toContain("providers");
  });
});

describe("parseConfigText", () => {
  it("reports YAML syntax errors with their line", () => {
    const { problems } = parseConfigText("providers: [github\nmode: file\n");
    expect(problems[0]?.key).toMatch(/^line \d+$/);
  });

  it("parses valid YAML", () => {
    expect(parseConfigText("providers: [github]\n")).toEqual({ data: { providers: ["github"] }, problems: [] });
  });
});
