// The CLI as a process in a real terminal and a real pipe: answers typed into a
// pseudo-terminal, Ctrl-C, NO_COLOR, and a reader that goes away.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { builtCli } from "./support/built.js";
import { tempProject } from "./support/cli.js";

const PTY = join(import.meta.dirname, "support/terminal.py");
const DOWN = "\x1b[B";
const SPACE = " ";
const ENTER = "\r";
const CTRL_C = "\x03";
/** SGR sequences: colour and weight, not the cursor movements prompts also sends. */
const ESC = String.fromCharCode(27);
const COLOUR = new RegExp(`${ESC}\\[\\d+(;\\d+)*m`);
/** Every escape sequence prompts writes, to read the text as a user sees it. */
const ESCAPES = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]|${ESC}[78]`, "g");

interface Typed {
  code: number;
  output: string;
  missed: string | null;
}

function typeInto(
  root: string,
  steps: Array<{ expect: string; send?: string; signal?: string }>,
  env: NodeJS.ProcessEnv = {},
): Typed {
  const bin = builtCli();
  const result = execFileSync("python3", [PTY, JSON.stringify(steps), "node", bin, "init"], {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm-256color", ...env },
  });
  return JSON.parse(result);
}

function project(): string {
  const root = tempProject();
  writeFileSync(join(root, "flake.nix"), "{}\n");
  mkdirSync(join(root, ".github/workflows"), { recursive: true });
  writeFileSync(join(root, ".github/workflows/ci.yml"), "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: []\n");
  return root;
}

describe("init in a real terminal", () => {
  it("shows each reason before its question, writes what was typed, and reports the picks", () => {
    const root = project();
    const typed = typeInto(root, [
      // GitHub is detected and selected; GitLab, second in the list, is added.
      { expect: "CI providers", send: `${DOWN}${SPACE}${ENTER}` },
      { expect: "Runner platforms", send: ENTER },
      // GitLab's jobs run in containers: no mode question, straight to the cache directory.
      { expect: "Cache directory", send: `ci-cache${ENTER}` },
      { expect: "Next, commit what was written", send: "" },
    ]);
    expect(typed.missed, typed.output).toBeNull();
    expect(typed.code, typed.output).toBe(0);
    const output = typed.output.replace(/\r/g, "").replace(ESCAPES, "");
    const reason = output.indexOf("Providers: github (found .github/workflows).");
    const question = output.indexOf("CI providers");
    expect(reason).toBeGreaterThan(-1);
    expect(reason).toBeLessThan(question);
    expect(output.indexOf("Platforms: linux (.github/workflows/ci.yml has")).toBeLessThan(output.indexOf("Runner platforms"));
    expect(output).not.toContain("Mode");
    // The summary after the questions is made of the answers.
    expect(output).toMatch(/^providers: github, gitlab \(your choice\)$/m);
    expect(output).toMatch(/^cacheDir: ci-cache \(your choice\)$/m);
    expect(output).toMatch(/^mode: file \(.*containers of GitLab CI jobs/m);
    const config = parse(readFileSync(join(root, ".nix-ci-cache/config.yaml"), "utf8"));
    expect(config).toMatchObject({ providers: ["github", "gitlab"], platforms: ["linux"], mode: "file", cacheDir: "ci-cache" });
    expect(readFileSync(join(root, ".gitlab/nix-ci-cache.yml"), "utf8")).toContain("- ci-cache");
  });

  it("exits 130 on Ctrl-C at a question and writes nothing", () => {
    const root = project();
    const typed = typeInto(root, [{ expect: "CI providers", send: CTRL_C }]);
    expect(typed.missed).toBeNull();
    expect(typed.code, typed.output).toBe(130);
    expect(typed.output).toContain("init: cancelled; nothing was written");
    expect(readdirSync(root).sort()).toEqual([".git", ".github", "flake.nix"]);
  });

  it("has colour in its questions, and none with NO_COLOR", () => {
    const coloured = typeInto(project(), [{ expect: "CI providers", send: CTRL_C }]);
    expect(coloured.output).toMatch(COLOUR);
    const plain = typeInto(project(), [{ expect: "CI providers", send: CTRL_C }], { NO_COLOR: "1" });
    expect(plain.missed).toBeNull();
    expect(plain.output).not.toMatch(COLOUR);
  });
});

describe("the CLI as a process", () => {
  it("ends quietly when the reader of its output goes away (| head)", async () => {
    const bin = builtCli();
    const child = spawn("node", [bin, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    // The reader is gone before the first write.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("exits 130 on SIGINT (a cancelled CI job, timeout -s INT), writing nothing", () => {
    const root = project();
    const typed = typeInto(root, [{ expect: "CI providers", signal: "INT" }]);
    expect(typed.missed).toBeNull();
    expect(typed.code, typed.output).toBe(130);
    expect(typed.output).toContain("nix-ci-cache: interrupted");
    expect(readdirSync(root).sort()).toEqual([".git", ".github", "flake.nix"]);
  });
});

describe("the built CLI, with its precompiled templates", () => {
  it("wires the cache into the only Nix job of an existing workflow, keeping every line", () => {
    const bin = builtCli();
    const root = tempProject();
    const workflow =
      "# CI\nname: CI\non: [push]\n\njobs:\n  build:\n    runs-on: ubuntu-latest  # ours\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix-build\n";
    mkdirSync(join(root, ".github/workflows"), { recursive: true });
    writeFileSync(join(root, ".github/workflows/ci.yml"), workflow);
    writeFileSync(join(root, "default.nix"), "{}\n");
    const result = spawnSync("node", [bin, "init", "--yes"], { cwd: root, encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("wired    .github/workflows/ci.yml:build");
    const wired = readFileSync(join(root, ".github/workflows/ci.yml"), "utf8").split("\n");
    const original = workflow.split("\n");
    // Every original line, in order.
    let at = 0;
    for (const line of wired) if (line === original[at]) at++;
    expect(at).toBe(original.length);
    expect(wired).toContain("        run: . .nix-ci-cache/env.sh");
    const check = spawnSync("node", [bin, "check"], { cwd: root, encoding: "utf8" });
    expect(check.status, check.stdout).toBe(0);
  });
});

describe("a directory the user cannot write", () => {
  it("stops init with the path and the fix, and leaves nothing behind (real EACCES)", () => {
    const bin = builtCli();
    const root = tempProject();
    mkdirSync(join(root, ".nix-ci-cache"));
    // The runtime files can be written, the workflow cannot: the failure comes midway.
    mkdirSync(join(root, ".github"));
    chmodSync(join(root, ".github"), 0o555);
    // Root passes every permission check through CAP_DAC_OVERRIDE: without it (and
    // without CAP_DAC_READ_SEARCH) root meets the mode bits like anyone else, and still
    // reads the checkout wherever it is (a root-only /root included).
    const asRoot = process.getuid?.() === 0;
    const command = asRoot ? ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "node", bin] : ["node", bin];
    const result = spawnSync(
      command[0] as string,
      [...command.slice(1), "init", "--yes", "--provider", "github", "--cwd", root],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH, HOME: "/tmp" },
      },
    );
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /^\.github\/workflows\/nix\.yml: cannot write \(permission denied\); nothing was changed: make .*\/\.github writable for you \(see ls -ld .*; e\.g\. sudo chown -R "\$\(id -un\)" .*\), then run again$/m,
    );
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(readdirSync(join(root, ".nix-ci-cache"))).toEqual([]);
    expect(readdirSync(join(root, ".github"))).toEqual([]);
  });
});
