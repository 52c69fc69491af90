// How the secrets an upstream's push needs (plan.secrets) reach save.sh in the generated
// pipelines: mapped where the provider passes secrets only when asked, and the files
// still pass the validators the examples pass.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateConfig } from "../../src/config.js";
import type { ProjectFacts } from "../../src/model.js";
import { synth } from "../../src/synth.js";
import { runCli, tempProject } from "../support/cli.js";
import { actionlintErrors, providerSchemaErrors, workflowParserErrors } from "../support/validators.js";

const facts: ProjectFacts = { existingKeyFiles: ["flake.lock"], expression: "flake" };
const KEY = `ci-1:${"A".repeat(43)}=`;
const CACHIX_KEY = `my-cache.cachix.org-1:${"B".repeat(43)}=`;
const CACHIX = {
  url: "https://my-cache.cachix.org",
  publicKey: CACHIX_KEY,
  pushCommand: "cachix push my-cache",
  secrets: ["CACHIX_AUTH_TOKEN"],
};
const ALL = ["NIX_CI_CACHE_SIGNING_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CACHIX_AUTH_TOKEN"];

/** The generated files of a config, by path. */
function files(data: object): Map<string, string> {
  const result = validateConfig(data, facts);
  if (!result.config) throw new Error(JSON.stringify(result.problems));
  return new Map(synth(result.config).files.map((f) => [f.path, f.content]));
}

const file = (generated: Map<string, string>, path: string) => {
  const text = generated.get(path);
  if (text === undefined) throw new Error(`${path} was not generated`);
  return text;
};

describe("upstream secrets in the generated pipelines", () => {
  const generated = files({
    providers: ["github", "forgejo", "azure", "drone", "woodpecker", "sourcehut"],
    publicKey: KEY,
    upstream: [{ url: "s3://nix-cache?region=eu-west-1" }, CACHIX],
  });

  it("GitHub passes each to the write step from secrets, and the workflow passes actionlint and GitHub's parser", async () => {
    const text = file(generated, ".github/workflows/nix.yml");
    const write = parse(text).jobs.build.steps.find((s: { id?: string }) => s.id === "write");
    expect(write.env).toEqual(Object.fromEntries(ALL.map((name) => [name, `\${{ secrets.${name} }}`])));
    expect(await actionlintErrors(text)).toEqual([]);
    expect(await workflowParserErrors(text)).toEqual([]);
  });

  it("Forgejo passes each to the save action from secrets, and the workflow passes SchemaStore's schema", () => {
    const text = file(generated, ".forgejo/workflows/nix.yml");
    const steps: { uses?: string; env?: Record<string, string> }[] = parse(text).jobs.build.steps;
    const save = steps.find((s) => s.uses?.endsWith("/save"));
    expect(save?.env).toEqual(Object.fromEntries(ALL.map((name) => [name, `\${{ secrets.${name} }}`])));
    expect(providerSchemaErrors("github-workflow.json", text)).toEqual([]);
  });

  it("Azure maps each secret variable into save.sh's env, and the template passes Azure Pipelines' schema", () => {
    const text = file(generated, ".azure-pipelines/nix-ci-cache.yml");
    const save = parse(text).steps.find((s: { script?: string }) => s.script === "sh .nix-ci-cache/save.sh");
    expect(save.env).toEqual(Object.fromEntries(ALL.map((name) => [name, `$(${name})`])));
    expect(providerSchemaErrors("azure-pipelines.json", text)).toEqual([]);
    expect(providerSchemaErrors("azure-pipelines.json", file(generated, "azure-pipelines.yml"))).toEqual([]);
  });

  it("Drone maps each from its lower-case secret into the build step, and the pipeline passes SchemaStore's schema", () => {
    const text = file(generated, ".drone.yml");
    const build = parse(text).steps.find((s: { name: string }) => s.name === "build");
    expect(build.environment).toEqual(Object.fromEntries(ALL.map((name) => [name, { from_secret: name.toLowerCase() }])));
    expect(providerSchemaErrors("drone.json", text)).toEqual([]);
  });

  it("Woodpecker maps none: a from_secret that names a missing secret stops its pipeline", () => {
    expect(file(generated, ".woodpecker.yaml")).not.toContain("from_secret");
  });

  it("a pushCommand's secret alone, without a signing key, is mapped alone", () => {
    const unsigned = files({ providers: ["github", "drone"], upstream: [CACHIX] });
    const workflow = file(unsigned, ".github/workflows/nix.yml");
    const write = parse(workflow).jobs.build.steps.find((s: { id?: string }) => s.id === "write");
    expect(write.env).toEqual({ CACHIX_AUTH_TOKEN: `\${{ secrets.CACHIX_AUTH_TOKEN }}` });
    expect(workflow).not.toContain("Signs what it writes");
    expect(file(unsigned, ".drone.yml")).toContain("      CACHIX_AUTH_TOKEN:\n        from_secret: cachix_auth_token\n");
  });

  it("a GitHub job of the user's gets the same env on the write step spliced into it", async () => {
    const root = tempProject("ncc-upstream-");
    const write = (path: string, text: string) => {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write("flake.nix", "{}");
    write(
      ".github/workflows/ci.yml",
      "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix build\n",
    );
    write(
      ".nix-ci-cache/config.yaml",
      `providers: [github]\npublicKey: "${KEY}"\ninto: [.github/workflows/ci.yml:build]\nupstream:\n  - url: s3://nix-cache\n  - ${JSON.stringify(CACHIX)}\n`,
    );
    const result = await runCli(root, ["generate"]);
    expect(result.code, result.stderr).toBe(0);
    const text = readFileSync(join(root, ".github/workflows/ci.yml"), "utf8");
    const steps: { run?: string; env?: Record<string, string> }[] = parse(text).jobs.build.steps;
    const save = steps.find((s) => s.run === "sh .nix-ci-cache/save.sh");
    expect(save?.env).toEqual(Object.fromEntries(ALL.map((name) => [name, `\${{ secrets.${name} }}`])));
    expect(await actionlintErrors(text, ".github/workflows/ci.yml")).toEqual([]);
  });

  it("a read-only upstream with its own key maps nothing", () => {
    const readOnly = files({
      providers: ["github", "azure"],
      upstream: [{ url: CACHIX.url, publicKey: CACHIX_KEY, push: false }],
    });
    expect(file(readOnly, ".github/workflows/nix.yml")).not.toContain("env:\n");
    expect(file(readOnly, ".azure-pipelines/nix-ci-cache.yml")).not.toContain("env:");
  });
});
