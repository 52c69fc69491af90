import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import prompts from "prompts";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { applyDefaults } from "../src/config.js";
import { chooseInto } from "../src/into-choice.js";
import { nixJobsIn, type WiredProvider } from "../src/pipelines/jobs.js";
import { makePlan } from "../src/plan.js";
import { promptsAsker } from "../src/questions.js";
import { createEngine } from "../src/render.js";
import { stepLines, wireJob } from "../src/wire/index.js";
import { PlacementError } from "../src/wire/steps.js";
import { runCli, tempProject } from "./support/cli.js";
import { actionlintErrors, gitlabSchemaErrors, providerSchemaErrors, workflowParserErrors } from "./support/validators.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", "wire", name), "utf8");

/** Every line of `before` is in `after`, in order: we only ever add lines. */
function keepsEveryLine(before: string, after: string): void {
  const lines = after.split("\n");
  let at = 0;
  for (const [index, line] of before.split("\n").entries()) {
    while (at < lines.length && lines[at] !== line) at++;
    expect(at, `line ${index + 1} of the original, ${JSON.stringify(line)}, is missing or out of order`).toBeLessThan(
      lines.length,
    );
    at++;
  }
}

function wired(text: string, provider: WiredProvider, job: string, providers = [provider]): string {
  const plan = makePlan(applyDefaults({ providers, keyFiles: ["flake.lock"] }, { existingKeyFiles: [], expression: "flake" }));
  const hb = createEngine();
  return wireJob(text, provider, job, () => stepLines(hb, plan, provider as Exclude<WiredProvider, "gitlab">));
}

/** `text` wired: every line of it kept, and wiring the result again changes nothing. */
function wiredOnce(text: string, provider: WiredProvider, job: string): string {
  const after = wired(text, provider, job);
  keepsEveryLine(text, after);
  expect(wired(after, provider, job)).toBe(after);
  return after;
}

async function circleciParserErrors(text: string): Promise<string[]> {
  const parser = await import("@circleci/circleci-config-parser");
  try {
    parser.parseConfig(text);
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

describe("jobs that run Nix", () => {
  it("are found with the line that shows it, in every provider we wire", () => {
    expect(nixJobsIn(".github/workflows/ci.yml", fixture("github-ci.yml"))).toEqual([
      expect.objectContaining({ provider: "github", job: "build", text: "- uses: cachix/install-nix-action@v31" }),
      expect.objectContaining({
        provider: "github",
        job: "deploy",
        text: "steps: [{uses: actions/checkout@v4}, {run: nix-shell --run deploy}]",
      }),
    ]);
    expect(nixJobsIn(".forgejo/workflows/ci.yml", fixture("forgejo-ci.yml"))).toEqual([
      { provider: "forgejo", file: ".forgejo/workflows/ci.yml", job: "test", line: 6, text: "image: nixos/nix:latest" },
    ]);
    expect(nixJobsIn(".gitlab-ci.yml", fixture("gitlab-ci.yml")).map((c) => [c.job, c.line, c.text])).toEqual([
      ["build", 12, "- nix build -L   #fast"],
      ["test", 19, `script: ["nix flake check", 'echo done']`],
      ["lint", 24, "- nix develop -c npm run lint"],
    ]);
    expect(nixJobsIn(".circleci/config.yml", fixture("circleci.yml")).map((c) => c.job)).toEqual(["build"]);
    expect(nixJobsIn(".github/workflows/ci.yml", "jobs:\n  a:\n    steps:\n      - run: make # nix build later\n")).toEqual([]);
  });

  it.each([
    ["default:", "default:\n  image: nixos/nix:2.24\n", 2],
    ["the top-level image", "image: nixos/nix\n", 1],
  ])("in GitLab, include jobs that run in a Nix image given by %s, unless they name their own", (_, head, line) => {
    const text = `${head}build:\n  script:\n    - make\nlint:\n  image: node:20\n  script:\n    - npm run lint\n`;
    expect(nixJobsIn(".gitlab-ci.yml", text).map((c) => [c.job, c.line])).toEqual([["build", line]]);
  });
});

describe("our steps in a GitHub job", () => {
  const original = fixture("github-ci.yml");
  const path = ".github/workflows/ci.yml";

  it("go after checkout and the Nix install, and to the end; every other byte stays; valid; a second run changes nothing", async () => {
    expect(await actionlintErrors(original, path)).toEqual([]);
    const after = wiredOnce(original, "github", "build");
    expect(after.split("\n").length - original.split("\n").length).toBe(23);
    expect(await actionlintErrors(after, path)).toEqual([]);
    expect(await workflowParserErrors(after, path)).toEqual([]);
    const steps = parse(after).jobs.build.steps as Array<Record<string, string>>;
    expect(steps.map((s) => s.name ?? s.uses)).toEqual([
      "actions/checkout@v4",
      "cachix/install-nix-action@v31",
      "nix-ci-cache: restore the Nix cache",
      "nix-ci-cache: use the Nix cache in this job",
      "Build",
      "Test",
      "nix-ci-cache: write new store paths to the Nix cache",
      "nix-ci-cache: save the Nix cache",
    ]);
    // The same conditions as the generated nix.yml, with our ids.
    expect(steps[6]).toMatchObject({ id: "nix-ci-cache-write", if: "always()", "working-directory": "." });
    // The job's defaults.run.working-directory is ./app; env.sh is found from the root.
    expect(steps[3]).toMatchObject({ run: ". .nix-ci-cache/env.sh", "working-directory": "." });
    expect(steps[7]?.if).toBe(
      "always() && steps.nix-ci-cache-restore.outcome == 'success' && (steps.nix-ci-cache-write.outcome != 'success' || steps.nix-ci-cache-write.outputs.added != '0')",
    );
    expect(after).toContain('      - name: "nix-ci-cache: restore the Nix cache"\n        id: nix-ci-cache-restore\n');
  });

  it("are updated where they are when the config changes, and put back where they cannot work", () => {
    const after = wired(original, "github", "build");
    const edited = after.replace("restore-keys: |", "restore-keys: |\n            stale-");
    expect(wired(edited, "github", "build")).toBe(after);
    // A step the user adds after ours stays there, and ours are still updated in place.
    const upload = "      - name: Upload\n        uses: actions/upload-artifact@v4\n";
    const added = after.replace("    # trailing comment of the job\n", `${upload}    # trailing comment of the job\n`);
    expect(added).not.toBe(after);
    expect(wired(added, "github", "build")).toBe(added);
    expect(wired(added.replace("restore-keys: |", "restore-keys: |\n            stale-"), "github", "build")).toBe(added);
    // Moved where they cannot work (the save steps before the build): put back.
    const save = after.slice(after.indexOf('      - name: "nix-ci-cache: write'), after.indexOf("    # trailing comment"));
    const moved = after.replace(save, "").replace("      - name: Build\n", `${save}      - name: Build\n`);
    expect(wired(moved, "github", "build")).toBe(after);
  });

  it("keep CRLF line endings", async () => {
    const crlf = original.replaceAll("\n", "\r\n");
    const after = wired(crlf, "github", "build");
    expect(after.replaceAll("\r\n", "")).not.toContain("\n");
    keepsEveryLine(crlf, after);
  });

  it("are refused where they cannot go: flow steps, no checkout", () => {
    expect(() => wired(original, "github", "deploy")).toThrow(/not a block list/);
    expect(() => wired("jobs:\n  a:\n    steps:\n      - run: nix build\n", "github", "a")).toThrow(PlacementError);
    const pwsh =
      "defaults:\n  run:\n    shell: pwsh\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix build\n";
    expect(() => wired(pwsh, "github", "a")).toThrow(
      "its run steps use the shell pwsh (defaults.run.shell), and ours need sh or bash",
    );
  });
});

describe("our steps in a Forgejo job", () => {
  it("use the local actions after checkout; valid; a second run changes nothing", async () => {
    const original = fixture("forgejo-ci.yml");
    const after = wiredOnce(original, "forgejo", "test");
    expect(await workflowParserErrors(after, ".forgejo/workflows/ci.yml")).toEqual([]);
    const steps = parse(after).jobs.test.steps as Array<Record<string, string>>;
    expect(steps.map((s) => s.uses ?? s.run)).toEqual([
      "https://data.forgejo.org/actions/checkout@v4",
      "./.forgejo/actions/nix-ci-cache/restore",
      "nix-build",
      "./.forgejo/actions/nix-ci-cache/save",
    ]);
    expect(steps[3]?.if).toBe("always() && steps.nix-ci-cache-restore.outcome == 'success'");
  });
});

describe("a GitLab job extends .nix-ci-cache", () => {
  const original = fixture("gitlab-ci.yml");

  it("added as a line of its own, or to the extends list; every other byte stays; valid; a second run changes nothing", () => {
    const build = wired(original, "gitlab", "build");
    keepsEveryLine(original, build);
    expect(build).toContain("build:\n  extends: .nix-ci-cache\n  <<: *defaults\n");
    const both = wired(build, "gitlab", "test");
    keepsEveryLine(original, both);
    expect(both).toContain("  extends:\n    - .base\n    - .nix-ci-cache\n  stage: test");
    // GitLab resolves `<<` merge keys; the schema check reads the file as plain YAML 1.2.
    expect(gitlabSchemaErrors(stringify(parse(both, { merge: true })))).toEqual([]);
    expect(wired(both, "gitlab", "test")).toBe(both);
    expect(wired(both, "gitlab", "build")).toBe(both);
  });

  it("extends written as one name or a flow list", () => {
    const text = "a:\n  extends: .x   # base\n  script: [nix build]\nb:\n  extends: [.x]\n  script: [nix build]\n.x: {}\n";
    expect(wired(wired(text, "gitlab", "a"), "gitlab", "b")).toBe(
      "a:\n  extends: [.x, .nix-ci-cache]   # base\n  script: [nix build]\nb:\n  extends: [.x, .nix-ci-cache]\n  script: [nix build]\n.x: {}\n",
    );
    expect(wired("c:\n  extends: []\n  script: [nix build]\n", "gitlab", "c")).toBe(
      "c:\n  extends: [.nix-ci-cache]\n  script: [nix build]\n",
    );
  });

  it("is refused where ours would replace or merge with the job's own before_script, after_script or cache, or default's", () => {
    expect(() => wired(original, "gitlab", "lint")).toThrow(/its own before_script, which would replace or merge into ours/);
    expect(() => wired("default:\n  before_script: [x]\nj:\n  script: [nix build]\n", "gitlab", "j")).toThrow(
      /sets before_script for every job \(default:\)/,
    );
    expect(() => wired("j:\n  extends: .elsewhere\n  script: [nix build]\n", "gitlab", "j")).toThrow(/not in this file/);
  });
});

describe("our steps in a CircleCI job", () => {
  it("go after checkout and to the end; every other byte stays; valid; a second run changes nothing", async () => {
    const original = fixture("circleci.yml");
    const after = wiredOnce(original, "circleci", "build");
    expect(await circleciParserErrors(after)).toEqual([]);
    expect(providerSchemaErrors("circleciconfig.json", after)).toEqual([]);
    const steps = parse(after).jobs.build.steps as Array<string | Record<string, { name?: string }>>;
    expect(steps.map((s) => (typeof s === "string" ? s : Object.values(s)[0]?.name))).toEqual([
      "checkout",
      "nix-ci-cache: restore the Nix cache",
      "nix-ci-cache: use the Nix cache in this job",
      "Build",
      "nix-ci-cache: write new store paths to the Nix cache",
      "nix-ci-cache: save the Nix cache",
    ]);
  });
});

describe("the include added to .gitlab-ci.yml", () => {
  it("keeps every byte of the user's: comment spacing, flow sequences, blank lines", async () => {
    const root = tempProject("ncc-wire-");
    const original =
      "#comment without a space\nstages: [build, test]   # flow\n\n  # spaced   comment\nbuild:\n  script: [make, 'make test']\n";
    writeFileSync(join(root, ".gitlab-ci.yml"), original);
    expect((await runCli(root, ["init", "--yes", "--into", ".gitlab-ci.yml:build"])).code).toBe(0);
    expect(readFileSync(join(root, ".gitlab-ci.yml"), "utf8")).toBe(
      "#comment without a space\ninclude:\n  - local: .gitlab/nix-ci-cache.yml\nstages: [build, test]   # flow\n\n  # spaced   comment\nbuild:\n  extends: .nix-ci-cache\n  script: [make, 'make test']\n",
    );
    const flow = "include: [ci/a.yml]   #mine\n";
    writeFileSync(join(root, ".gitlab-ci.yml"), flow);
    expect((await runCli(root, ["generate"])).code).toBe(2);
    writeFileSync(join(root, ".nix-ci-cache/config.yaml"), "providers: [gitlab]\n");
    expect((await runCli(root, ["generate"])).code).toBe(0);
    expect(readFileSync(join(root, ".gitlab-ci.yml"), "utf8")).toBe(
      "include: [ci/a.yml, {local: .gitlab/nix-ci-cache.yml}]   #mine\n",
    );
    writeFileSync(join(root, ".gitlab-ci.yml"), "include: []\n");
    expect((await runCli(root, ["generate"])).code).toBe(0);
    expect(readFileSync(join(root, ".gitlab-ci.yml"), "utf8")).toBe("include: [{local: .gitlab/nix-ci-cache.yml}]\n");
  });
});

function project(files: Record<string, string>): string {
  const root = tempProject("ncc-wire-");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("init and generate with wired jobs", () => {
  it("--yes wires a provider's only Nix job, generates no nix.yml, and check keeps it in sync", async () => {
    const root = project({
      ".github/workflows/ci.yml": fixture("forgejo-ci.yml")
        .replace("runs-on: docker", "runs-on: ubuntu-latest")
        .replace("https://data.forgejo.org/", ""),
    });
    const r = await runCli(root, ["init", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "into: .github/workflows/ci.yml:test (the only github job that runs Nix, line 6: image: nixos/nix:latest)",
    );
    expect(r.stdout).toContain("wired    .github/workflows/ci.yml:test: restore and env.sh steps");
    expect(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8")).toContain("into: [ .github/workflows/ci.yml:test ]");
    expect(() => readFileSync(join(root, ".github/workflows/nix.yml"))).toThrow();
    expect(readFileSync(join(root, ".github/workflows/ci.yml"), "utf8")).toContain("nix-ci-cache-restore");
    expect((await runCli(root, ["check"])).code).toBe(0);
    const wiredText = readFileSync(join(root, ".github/workflows/ci.yml"), "utf8");
    writeFileSync(join(root, ".github/workflows/ci.yml"), wiredText.replace(/ {6}- name: "nix-ci-cache: save[\s\S]*$/, ""));
    const drift = await runCli(root, ["check"]);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toContain('+      - name: "nix-ci-cache: save the Nix cache"');
  });

  it.each([
    ["github", "github-ci.yml", ".github/workflows/ci.yml"],
    ["forgejo", "forgejo-ci.yml", ".forgejo/workflows/ci.yml"],
    ["gitlab", "gitlab-ci.yml", ".gitlab-ci.yml"],
    ["circleci", "circleci.yml", ".circleci/config.yml"],
  ])("%s: init --dry-run shows the wiring of %s as a diff and writes nothing", async (provider, name, path) => {
    const original = fixture(name);
    const root = project({ [path]: original });
    const r = await runCli(root, ["init", "--yes", "--dry-run", "--provider", provider, "--into", path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`+++ b/${path}`);
    expect(r.stdout).toMatch(/^\+.*nix-ci-cache/m);
    expect(readFileSync(join(root, path), "utf8")).toBe(original);
    expect(() => readFileSync(join(root, ".nix-ci-cache/config.yaml"))).toThrow();
  });

  it("--yes with two Nix jobs wires none and says how; a job that cannot take our part gets the lines to paste", async () => {
    const root = project({ ".github/workflows/ci.yml": fixture("github-ci.yml") });
    const r = await runCli(root, ["init", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "into: none for github (2 jobs run Nix: .github/workflows/ci.yml:build, .github/workflows/ci.yml:deploy; .github/workflows/nix.yml is generated instead); choose with --into .github/workflows/ci.yml:build",
    );
    expect(readFileSync(join(root, ".github/workflows/nix.yml"), "utf8")).toContain("Generated by nix-ci-cache");
    // Wired later by hand: our nix.yml, no longer generated, goes.
    const config = join(root, ".nix-ci-cache/config.yaml");
    writeFileSync(config, `${readFileSync(config, "utf8")}into: [.github/workflows/ci.yml:build]\n`);
    const generated = await runCli(root, ["generate"]);
    expect(generated.stdout).toMatch(/updated\s+\.github\/workflows\/ci\.yml/);
    expect(generated.stdout).toMatch(/removed\s+\.github\/workflows\/nix\.yml/);

    const root2 = project({ ".github/workflows/ci.yml": fixture("github-ci.yml") });
    const r2 = await runCli(root2, ["init", "--yes", "--into", ".github/workflows/ci.yml"]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain("not wired .github/workflows/ci.yml:deploy: its steps are not a block list");
    expect(r2.stdout).toContain('      - name: "nix-ci-cache: restore the Nix cache"');
    expect(readFileSync(join(root2, ".nix-ci-cache/config.yaml"), "utf8")).toContain("into: [ .github/workflows/ci.yml:build ]");
  });

  it("reports an into entry whose file or job is missing on one line naming the key", async () => {
    const root = project({ ".gitlab-ci.yml": fixture("gitlab-ci.yml") });
    expect((await runCli(root, ["init", "--yes"])).code).toBe(0);
    for (const [into, message] of [
      [
        ".gitlab-ci.yml:nope",
        '/into/0: .gitlab-ci.yml has no job "nope" (its jobs: build, test, lint); fix the job name or remove the entry',
      ],
      [
        ".circleci/config.yml:build",
        "/into/0: .circleci/config.yml is a circleci pipeline; add circleci to providers, or remove the entry",
      ],
      [".github/workflows/x.yml:a", "/into/0: .github/workflows/x.yml is a github pipeline; add github to providers"],
    ]) {
      writeFileSync(join(root, ".nix-ci-cache/config.yaml"), `providers: [gitlab]\ninto: ["${into}"]\n`);
      const r = await runCli(root, ["check"]);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`.nix-ci-cache/config.yaml: ${message}`);
    }
    writeFileSync(
      join(root, ".gitlab-ci.yml"),
      `${fixture("gitlab-ci.yml")}mac:\n  tags: [saas-macos-medium-m1]\n  script: [nix build]\n`,
    );
    writeFileSync(join(root, ".nix-ci-cache/config.yaml"), 'providers: [gitlab]\ninto: [".gitlab-ci.yml:mac"]\n');
    expect((await runCli(root, ["check"])).stderr).toBe(
      '.nix-ci-cache/config.yaml: /into/0: .gitlab-ci.yml: job "mac" runs on macOS runners (its tags); add darwin to platforms, or remove the entry',
    );
    writeFileSync(
      join(root, ".nix-ci-cache/config.yaml"),
      'providers: [gitlab]\nplatforms: [linux, darwin]\ninto: [".gitlab-ci.yml:mac"]\n',
    );
    expect((await runCli(root, ["generate"])).code).toBe(0);
    expect(readFileSync(join(root, ".gitlab-ci.yml"), "utf8")).toContain("mac:\n  extends: .nix-ci-cache-darwin\n  tags:");
    writeFileSync(join(root, ".nix-ci-cache/config.yaml"), 'providers: [gitlab, github]\ninto: [".github/workflows/x.yml:a"]\n');
    expect((await runCli(root, ["check"])).stderr).toBe(
      ".nix-ci-cache/config.yaml: /into/0: .github/workflows/x.yml does not exist; fix the path or remove the entry",
    );
  });

  it("a GitLab job with its own before_script is refused at generate with the lines to paste", async () => {
    const root = project({ ".gitlab-ci.yml": fixture("gitlab-ci.yml") });
    expect((await runCli(root, ["init", "--yes", "--into", ".gitlab-ci.yml:build"])).code).toBe(0);
    writeFileSync(join(root, ".nix-ci-cache/config.yaml"), 'providers: [gitlab]\ninto: [".gitlab-ci.yml:lint"]\n');
    const r = await runCli(root, ["generate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(".gitlab-ci.yml:lint: cannot add our part: it has its own before_script");
    expect(r.stderr).toContain("    - !reference [.nix-ci-cache, before_script]");
  });

  it("prints the Jenkinsfile lines to paste", async () => {
    const root = project({ Jenkinsfile: "pipeline { agent any; stages { stage('b') { steps { sh 'nix build' } } } }\n" });
    const r = await runCli(root, ["init", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("    load('.jenkins/nix-ci-cache.groovy').withNixCache('linux') {   // or 'darwin'");
  });
});

describe("chooseInto", () => {
  const files = { ".github/workflows/ci.yml": fixture("github-ci.yml"), ".gitlab-ci.yml": fixture("gitlab-ci.yml") };

  it("asks with every detected job chosen, and keeps what the answer keeps; a job that cannot take our part is set aside", async () => {
    const root = project(files);
    const candidates = [
      ...nixJobsIn(".github/workflows/ci.yml", files[".github/workflows/ci.yml"]),
      ...nixJobsIn(".gitlab-ci.yml", files[".gitlab-ci.yml"]),
    ];
    prompts.inject([[".github/workflows/ci.yml:deploy", ".gitlab-ci.yml:test", ".gitlab-ci.yml:lint"]]);
    const choice = await chooseInto(root, candidates, ["github", "gitlab"], undefined, promptsAsker({}));
    expect(choice.into).toEqual([".gitlab-ci.yml:test"]);
    expect(choice.unplaced.map((u) => u.entry)).toEqual([".github/workflows/ci.yml:deploy", ".gitlab-ci.yml:lint"]);
    // Only the providers chosen: GitLab's jobs are not offered for a GitHub-only config.
    prompts.inject([[".gitlab-ci.yml:test"]]);
    expect((await chooseInto(root, candidates, ["github"], undefined, promptsAsker({}))).into).toEqual([]);
  });

  it("refuses an --into that names no pipeline, no job, or a file without Nix jobs", async () => {
    const root = project({
      ...files,
      ".github/workflows/docs.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n",
    });
    await expect(chooseInto(root, [], ["github"], ["Makefile"], undefined)).rejects.toThrow(/--into: Makefile: not a pipeline/);
    await expect(chooseInto(root, [], ["github"], [".github/workflows/ci.yml:nope"], undefined)).rejects.toThrow(
      '--into: .github/workflows/ci.yml has no job "nope" (its jobs: lint, build, deploy)',
    );
    await expect(chooseInto(root, [], ["github"], [".github/workflows/docs.yml"], undefined)).rejects.toThrow(
      "--into: no job of .github/workflows/docs.yml runs Nix; name one: --into .github/workflows/docs.yml:<job> (its jobs: d)",
    );
  });
});

describe("GitHub runners", () => {
  it.each([
    ["runs-on: [self-hosted, macOS, ARM64]", "[self-hosted, macOS, ARM64]"],
    ["runs-on:\n      - self-hosted\n      - macOS\n      - ARM64", "[self-hosted, macOS, ARM64]"],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template
      "strategy:\n      matrix:\n        os:\n          - ubuntu-22.04\n          - macos-14\n    runs-on: ${{ matrix.os }}",
      "macos-14",
    ],
    ["runs-on: macos-14", "macos-14"],
  ])("%s is macOS, and the generated workflow keeps that runner", async (runsOn, runner) => {
    const root = project({ ".github/workflows/ci.yml": `on: push\njobs:\n  t:\n    ${runsOn}\n    steps:\n      - run: make\n` });
    const r = await runCli(root, ["init", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^platforms: (linux, )?darwin \(/m);
    const nix = readFileSync(join(root, ".github/workflows/nix.yml"), "utf8");
    expect(nix).toContain(`- platform: darwin\n            runner: ${runner}\n`);
    expect(await actionlintErrors(nix.replace(/macos-14|ubuntu-22.04/g, "macos-latest"))).toEqual([]);
  });
});
