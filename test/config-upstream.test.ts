import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatProblem, validateConfig } from "../src/config.js";
import type { ProjectFacts } from "../src/model.js";
import { runCli, tempProject } from "./support/cli.js";

const facts: ProjectFacts = { existingKeyFiles: ["flake.lock"], expression: "flake" };
const KEY = `ci-1:${"A".repeat(43)}=`;
const CACHIX_KEY = `my-cache.cachix.org-1:${"B".repeat(43)}=`;
const signed = { providers: ["github"], publicKey: KEY };

/** The problems of a config, as `key: message` lines. */
const problems = (data: object) => (validateConfig(data, facts).problems ?? []).map((p) => `${p.key}: ${p.message}`);

describe("upstream rules", () => {
  it("takes the entries the rules allow, with nothing else to say", () => {
    const upstream = [
      { url: "s3://nix-cache?region=eu-west-1" },
      {
        url: "https://my-cache.cachix.org",
        publicKey: CACHIX_KEY,
        pushCommand: "cachix push my-cache",
        secrets: ["CACHIX_AUTH_TOKEN"],
      },
      {
        url: "https://cache.nixos.org",
        publicKey: "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=",
        push: false,
      },
      { url: "ssh-ng://nix@cache.example.org", secrets: ["DEPLOY_KEY"] },
    ];
    expect(problems({ ...signed, upstream, upstreamTimeout: 30 })).toEqual([]);
    // Read only from a remote with its own key: no signing key needed here.
    expect(problems({ providers: ["github"], upstream: [upstream[2]] })).toEqual([]);
  });

  it.each(
    (
      [
        [
          "(a) mode chroot",
          { providers: ["github"], mode: "chroot", upstream: [{ url: "https://c.example.org", push: false }] },
          "/upstream",
          "not supported yet",
          "use mode: file",
        ],
        [
          "(b) nix copy without the config's publicKey",
          { providers: ["github"], upstream: [{ url: "s3://nix-cache" }] },
          "/upstream/0/push",
          "nix copy signs what it pushes with NIX_CI_CACHE_SIGNING_KEY",
          'run "npx nix-ci-cache keygen", or set push: false',
        ],
        [
          "(c) no key to check the remote's entries with",
          { providers: ["github"], upstream: [{ url: "https://c.example.org", push: false }] },
          "/upstream/0/publicKey",
          "its entries could not be checked",
          "give the key its entries are signed with",
        ],
        [
          "(c) a pushCommand's remote without a key",
          {
            providers: ["github"],
            upstream: [{ url: "https://c.cachix.org", pushCommand: "cachix push c", secrets: ["CACHIX_AUTH_TOKEN"] }],
          },
          "/upstream/0/publicKey",
          "its entries could not be checked",
          "publicKey:",
        ],
        [
          "(d) pushCommand without secrets",
          { ...signed, upstream: [{ url: "https://c.cachix.org", publicKey: CACHIX_KEY, pushCommand: "cachix push c" }] },
          "/upstream/0/secrets",
          "pushCommand runs in every job, forks' pull requests included",
          "secrets: [CACHIX_AUTH_TOKEN]",
        ],
        [
          "(d) pushCommand with an empty secrets",
          { ...signed, upstream: [{ url: "https://c.cachix.org", pushCommand: "cachix push c", secrets: [] }] },
          "/upstream/0/secrets",
          "pushCommand runs in every job",
          "name the variables the command needs",
        ],
        [
          "(e) the same url twice",
          {
            ...signed,
            upstream: [{ url: "s3://nix-cache" }, { url: "https://c.example.org", push: false }, { url: "s3://nix-cache/" }],
          },
          "/upstream/2/url",
          "the same store as /upstream/0/url",
          "remove one of the two entries",
        ],
        [
          "(f) push: false with pushCommand",
          { ...signed, upstream: [{ url: "https://c.cachix.org", push: false, pushCommand: "cachix push c" }] },
          "/upstream/0/push",
          "push: false never pushes, so pushCommand would do nothing",
          "remove pushCommand, or push: false",
        ],
        [
          "(f) push: false with secrets",
          { ...signed, upstream: [{ url: "s3://nix-cache", push: false, secrets: ["AWS_PROFILE"] }] },
          "/upstream/0/push",
          "so secrets would do nothing",
          "remove secrets, or push: false",
        ],
      ] as [string, object, string, string, string][]
    ).map(([name, data, key, what, fix]) => [name, key, data, what, fix] as const),
  )("%s: one problem at %s", (_name, key, data, what, fix) => {
    const found = validateConfig(data, facts).problems ?? [];
    expect(found.map((p) => p.key)).toEqual([key]);
    const line = formatProblem(".nix-ci-cache/config.yaml", found[0] ?? { key: "", message: "" });
    expect(line).toContain(what);
    expect(line).toContain(fix);
    expect(line).not.toContain("\n");
  });

  it("says only what keygen solves where a key would solve it all, and marks it for keygen", () => {
    const found = validateConfig({ providers: ["github"], upstream: [{ url: "s3://nix-cache" }] }, facts).problems;
    expect(found).toEqual([expect.objectContaining({ key: "/upstream/0/push", wantsPublicKey: true })]);
    const noKey = validateConfig(
      { providers: ["github"], upstream: [{ url: "https://c.example.org", push: false }] },
      facts,
    ).problems;
    expect(noKey?.[0]?.wantsPublicKey).toBeUndefined();
  });

  it.each([
    [{ upstream: [{ url: "ftp://c.example.org" }] }, "/upstream/0/url", "must be an http(s)://, s3:// or ssh-ng:// store URL"],
    [{ upstream: [{ url: "https://c.example.org", publicKey: "c-1" }] }, "/upstream/0/publicKey", "must be a Nix public key"],
    [
      { upstream: [{ url: "https://c.example.org", secrets: ["cachix_token"] }] },
      "/upstream/0/secrets/0",
      "(e.g. secrets: [CACHIX_AUTH_TOKEN])",
    ],
    [{ upstream: [{ url: "https://c.example.org", push: "no" }] }, "/upstream/0/push", "must be boolean (e.g. push: false"],
    [
      { upstream: [{ url: "https://c.example.org", token: "x" }] },
      "/upstream/0/token",
      "known keys: url, publicKey, push, pushCommand, secrets)",
    ],
    [{ upstream: [{ publicKey: KEY }] }, "/upstream/0/url", "is required (e.g. url: "],
    [{ upstream: { url: "s3://nix-cache" } }, "/upstream", "must be array (e.g. upstream: [{url: "],
    [{ upstreamTimeout: 0 }, "/upstreamTimeout", "must be >= 1 (e.g. upstreamTimeout: 10, in seconds)"],
    [{ upstream_timeout: 5 }, "/upstream_timeout", "upstream, upstreamTimeout)"],
  ])("explains the schema error of %j at %s", (data, key, message) => {
    const found = validateConfig({ ...signed, ...data }, facts).problems ?? [];
    expect(found.map((p) => p.key)).toEqual([key]);
    expect(found[0]?.message).toContain(message);
  });
});

describe("upstream problems through the CLI", () => {
  const write = (root: string, path: string, text: string) => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  it("stops generate with exit 2 and one line naming the file and the key", async () => {
    const root = tempProject("ncc-upstream-");
    write(root, "flake.nix", "{}");
    write(
      root,
      ".nix-ci-cache/config.yaml",
      `providers: [github]\npublicKey: "${KEY}"\nupstream:\n  - url: https://c.cachix.org\n    publicKey: "${CACHIX_KEY}"\n    pushCommand: cachix push c\n`,
    );
    const result = await runCli(root, ["generate"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(
        /^\.nix-ci-cache\/config\.yaml: \/upstream\/0\/secrets: without secrets, pushCommand runs in every job/,
      ),
    ]);
  });

  it("lets keygen add the publicKey that an upstream pushed to with nix copy asks for", async () => {
    const root = tempProject("ncc-upstream-");
    write(root, "flake.nix", "{}");
    write(root, ".nix-ci-cache/config.yaml", "providers: [github]\nupstream:\n  - url: s3://nix-cache?region=eu-west-1\n");
    const refused = await runCli(root, ["generate"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^\.nix-ci-cache\/config\.yaml: \/upstream\/0\/push: .*npx nix-ci-cache keygen/);
    const keygen = await runCli(root, ["keygen", "--name", "my-ci-1"]);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8")).toMatch(/^publicKey: "my-ci-1:/m);
    const workflow = readFileSync(join(root, ".github/workflows/nix.yml"), "utf8");
    expect(workflow).toContain(`AWS_SECRET_ACCESS_KEY: \${{ secrets.AWS_SECRET_ACCESS_KEY }}`);
    expect((await runCli(root, ["check"])).code).toBe(0);
  });

  it("still refuses in keygen what a key does not solve", async () => {
    const root = tempProject("ncc-upstream-");
    write(root, "flake.nix", "{}");
    const config = "providers: [github]\nupstream:\n  - url: s3://nix-cache\n  - url: s3://nix-cache\n    push: false\n";
    write(root, ".nix-ci-cache/config.yaml", config);
    const keygen = await runCli(root, ["keygen"]);
    expect(keygen.code).toBe(2);
    expect(keygen.stderr).toContain("/upstream/1/url: the same store as /upstream/0/url");
    expect(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8")).toBe(config);
  });
});
