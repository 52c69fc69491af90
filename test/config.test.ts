import { describe, expect, it } from "vitest";
import { BUILD_PLACEHOLDER, budgetLine, formatProblem, parseConfigText, validateConfig } from "../src/config.js";
import type { ProjectFacts, ProviderId } from "../src/model.js";
import { PROVIDERS } from "../src/providers/index.js";
import { parseSize } from "../src/text.js";

const facts: ProjectFacts = { existingKeyFiles: ["flake.lock"], expression: "flake" };

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
      capture: "build-closure",
      maxSize: "3G",
      extraRoots: [],
      exclude: [],
      into: [],
      runners: {},
      upstream: [],
      upstreamTimeout: 10,
    });
  });

  it("takes capture, maxSize, extraRoots and exclude as given", () => {
    const data = {
      providers: ["github"],
      capture: "runtime-closure",
      maxSize: "500M",
      extraRoots: [".nix-ci-cache/state/dev-profile", ".#devShells.x86_64-linux.default"],
      exclude: ["*-source", "texlive-?"],
    };
    expect(validateConfig(data, facts).config).toMatchObject({ ...data, providers: ["github"] });
  });

  it("defaults maxSize to the smallest provider budget, and says why in one line", () => {
    const all = Object.keys(PROVIDERS) as ProviderId[];
    for (const id of all) expect(PROVIDERS[id].defaultBudget(["linux"]).size).toMatch(/^[1-9][0-9]*[KMGT]$/);
    const smallest = all.map((id) => PROVIDERS[id].defaultBudget(["linux"]).size).sort((a, b) => parseSize(a) - parseSize(b))[0];
    const config = validateConfig({ providers: all }, facts).config;
    expect(config?.maxSize).toBe(smallest);
    expect(config && budgetLine(config)).toMatch(/^maxSize: 800M \(the default for Bitbucket Pipelines: .*1 GB.*\)$/);
    const set = validateConfig({ providers: ["github"], maxSize: "5G" }, facts).config;
    expect(set && budgetLine(set)).toBe("maxSize: 5G (set in .nix-ci-cache/config.yaml; the default would be 3G)");
  });

  it("gives GitHub a budget by which each platform's default-branch entry, its previous one and a pull request's fit in 9 of the repository's 10 GB", () => {
    const GiB = 1024 ** 3;
    for (const platforms of [["linux"], ["linux", "darwin"]] as const) {
      const budget = PROVIDERS.github.defaultBudget([...platforms]);
      expect(3 * platforms.length * parseSize(budget.size)).toBeLessThanOrEqual(9 * GiB);
      expect(3 * platforms.length * parseSize(budget.size)).toBeGreaterThan(8.5 * GiB);
    }
    expect(validateConfig({ providers: ["github"], platforms: ["linux", "darwin"] }, facts).config?.maxSize).toBe("1536M");
    const config = validateConfig({ providers: ["github"], platforms: ["linux", "darwin"] }, facts).config;
    expect(config && budgetLine(config)).toMatch(
      /^maxSize: 1536M \(the default for GitHub Actions: GitHub keeps 10 GB .* for each of 2 platforms the default branch's latest and previous entries and a pull request's fit/,
    );
  });

  it("parses sizes in powers of 1024", () => {
    expect(parseSize("4G")).toBe(4 * 1024 ** 3);
    expect(parseSize("500M")).toBe(500 * 1024 ** 2);
    expect(parseSize("1234")).toBe(1234);
    expect(() => parseSize("4GB")).toThrow(/not a size/);
  });

  it("builds what the repository's Nix files call for, as init does, and without any stops with what to set", () => {
    const build = (expression?: ProjectFacts["expression"]) =>
      validateConfig({ providers: ["gitlab"] }, { existingKeyFiles: [], expression }).config?.build;
    expect(build("flake")).toBe("nix build -L");
    expect(build("default")).toBe("nix-build");
    expect(build("shell")).toBe("nix-shell --run true");
    expect(build(undefined)).toBe(BUILD_PLACEHOLDER);
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
    ...(["gitlab", "circleci", "bitbucket", "woodpecker", "drone", "forgejo"] as const).map((id): [object, string, string] => [
      { providers: ["github", id], mode: "chroot" },
      "/mode",
      `(NixOS/nix#16291). Use mode: file, or remove ${id} from providers`,
    ]),
    [{ providers: ["bitbucket"], cacheDir: "/opt/nix-cache" }, "/cacheDir", "Bitbucket artifacts, which carry the cache"],
    [{ providers: ["gitlab"], cacheDir: "/var/cache/nix" }, "/cacheDir", "GitLab only caches paths inside the project"],
    [{ providers: ["gitlab"], cacheDir: "../cache" }, "/cacheDir", "GitLab only caches paths inside the project"],
    [{ providers: ["github"], cacheDir: "." }, "/cacheDir", "use a directory of its own"],
    [{ providers: ["github"], cacheDir: ".nix-ci-cache/state" }, "/cacheDir", "use a directory of its own"],
    [{ providers: ["github"], capture: "all" }, "/capture", 'must be one of "build-closure", "built", "runtime-closure"'],
    [
      { providers: ["github"], maxSize: "4 GB" },
      "/maxSize",
      'optional K, M, G or T suffix (powers of 1024) (e.g. maxSize: "4G")',
    ],
    [{ providers: ["github"], maxSize: 4 }, "/maxSize", "must be string"],
    [{ providers: ["github"], extraRoots: ["a\nb"] }, "/extraRoots/0", "must be one line"],
    [{ providers: ["github"], exclude: ["/nix/store/*"] }, "/exclude/0", "must be a store path name glob"],
    [{ providers: ["github"], exclude: ["$(rm -rf /)"] }, "/exclude/0", "must be a store path name glob"],
    [{ providers: ["github"], publicKey: "cache.nixos.org-1" }, "/publicKey", "must be a Nix public key, <name>:<44 characters"],
    [{ providers: ["github"], publicKey: `a b:${"A".repeat(43)}=` }, "/publicKey", "must be a Nix public key"],
    [
      { providers: ["github"], mode: "chroot", publicKey: `ci-1:${"A".repeat(43)}=` },
      "/publicKey",
      "a chroot store has no signatures",
    ],
  ])("rejects %j at %s", (data, key, message) => {
    const result = validateConfig(data, facts);
    expect(result.problems).toBeDefined();
    const problem = result.problems?.find((p) => p.key === key);
    expect(problem, JSON.stringify(result.problems)).toBeDefined();
    expect(problem?.message).toContain(message);
  });

  it("takes a Nix public key", () => {
    const key = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
    expect(validateConfig({ providers: ["github"], publicKey: key }, facts).config?.publicKey).toBe(key);
    expect(validateConfig({ providers: ["github"] }, facts).config?.publicKey).toBeUndefined();
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
