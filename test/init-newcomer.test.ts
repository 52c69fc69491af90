// What a user meets in the first five minutes: the printed next steps, missing Nix
// files, init --force, where it writes, flags, and writes that fail halfway.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type Ask, chooseConfig } from "../src/questions.js";
import { runCli, runCliIn, tempProject } from "./support/cli.js";
import { scratchDir } from "./support/scratch.js";

const read = (root: string, path: string) => readFileSync(join(root, path), "utf8");
const write = (root: string, path: string, text: string) => {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
};

/** Every file under `root` with its content, `.git` left out: what "nothing was written" compares. */
function snapshot(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (path.includes("/.git/") || path.endsWith("/.git")) continue;
    files[path.slice(root.length + 1)] = entry.isFile() ? readFileSync(path, "utf8") : "<dir>";
  }
  return files;
}

/** A real repository, for the printed git commands to run in. */
function gitRepo(): string {
  const root = scratchDir("ncc-git-");
  execFileSync("git", ["init", "-q"], { cwd: root });
  return root;
}

/** The printed `git …` lines, run as printed. */
function runPrinted(root: string, stdout: string): string[] {
  const lines = stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("git add ") || l.startsWith("git rm "));
  for (const line of lines) execFileSync("sh", ["-c", line], { cwd: root });
  return lines;
}

const staged = (root: string) =>
  execFileSync("git", ["diff", "--cached", "--name-only"], { cwd: root, encoding: "utf8" }).trim().split("\n").sort();

describe("the next step init prints", () => {
  it("is the exact git add of what it wrote, and runs in a GitHub-only repository", async () => {
    const root = gitRepo();
    const result = await runCli(root, ["init", "--yes", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = runPrinted(root, result.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(".gitlab");
    expect(staged(root)).toEqual(
      [
        ".github/workflows/nix.yml",
        ".nix-ci-cache/.gitignore",
        ".nix-ci-cache/config.yaml",
        ".nix-ci-cache/doctor.sh",
        ".nix-ci-cache/env.sh",
        ".nix-ci-cache/hook.sh",
        ".nix-ci-cache/manifest",
        ".nix-ci-cache/nix.conf",
        ".nix-ci-cache/save.sh",
      ].sort(),
    );
  });

  it("names every file keygen changed, and they are all there is to commit", async () => {
    const root = gitRepo();
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    execFileSync("sh", ["-c", "git add -A && git -c user.name=t -c user.email=t@t commit -qm init"], { cwd: root });
    const result = await runCli(root, ["keygen"]);
    expect(result.code, result.stderr).toBe(0);
    runPrinted(root, result.stderr);
    expect(staged(root)).toEqual(
      [
        ".github/workflows/nix.yml",
        ".nix-ci-cache/config.yaml",
        ".nix-ci-cache/doctor.sh",
        ".nix-ci-cache/env.sh",
        ".nix-ci-cache/nix.conf",
        ".nix-ci-cache/save.sh",
      ].sort(),
    );
    const unstaged = execFileSync("git", ["status", "--porcelain"], { cwd: root, encoding: "utf8" });
    expect(unstaged.split("\n").filter((l) => l && !l.startsWith("M "))).toEqual([]);
  });
});

describe("a repository without a Nix expression", () => {
  it.each([
    ["flake.nix", "build: nix build -L"],
    ["default.nix", "build: nix-build"],
    ["shell.nix", "build: nix-shell --run true"],
  ])("with %s gets %s", async (file, line) => {
    const root = tempProject();
    write(root, file, "{}");
    const result = await runCli(root, ["init", "--yes", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    expect(read(root, ".nix-ci-cache/config.yaml")).toContain(`\n${line}\n`);
  });

  it("is told what to fill in, and its job stops with the same words instead of running nix-build", async () => {
    const root = tempProject();
    const result = await runCli(root, ["init", "--yes", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("build: no flake.nix, default.nix or shell.nix in the repository");
    expect(result.stdout).toContain('--build "<command>"');
    const workflow = read(root, ".github/workflows/nix.yml");
    expect(workflow).not.toMatch(/run: nix-build\s*$/m);
    expect(workflow).toContain("set build: in .nix-ci-cache/config.yaml to your build command");
    const steps = (parse(workflow).jobs.build.steps as Array<{ run?: string }>).map((step) => step.run ?? "");
    const run = steps.find((step) => step.includes("set build:"));
    expect(run).toBeDefined();
    const job = (() => {
      try {
        execFileSync("sh", ["-c", run as string], { stdio: "pipe" });
        return { status: 0, stderr: "" };
      } catch (error) {
        return error as { status: number; stderr: Buffer };
      }
    })();
    expect(job.status).toBe(1);
    expect(String(job.stderr)).toContain("set build: in .nix-ci-cache/config.yaml");
  });

  it("is asked for the build command when init may ask", async () => {
    const asked: string[] = [];
    const answers: unknown[] = [["github"], ["linux"], "file", ".nix-ci-cache/cache", "make nix"];
    const ask: Ask = async (q) => {
      asked.push(String(q.message));
      return answers.shift();
    };
    const detection = {
      localOs: "linux" as const,
      providers: [],
      platforms: [],
      facts: { existingKeyFiles: [] },
    };
    const choices = await chooseConfig(detection, {}, ask);
    expect(asked.at(-1)).toBe("Build command for the generated job");
    expect(choices.raw.build).toBe("make nix");
    expect(choices.missingBuild).toBeUndefined();
  });

  it("takes --build", async () => {
    const root = tempProject();
    const result = await runCli(root, ["init", "--yes", "--build", "nix build .#checks"]);
    expect(result.code, result.stderr).toBe(0);
    expect(read(root, ".nix-ci-cache/config.yaml")).toContain("\nbuild: nix build .#checks\n");
  });
});

describe("init --force over an existing config", () => {
  it("keeps publicKey, maxSize and the other keys it does not ask about, and says what changed", async () => {
    const root = tempProject();
    write(root, "default.nix", "{}");
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    const key = "ci-1:Ab8GFdeMHrIdYdT7p+C9NV6d/TTc/PjjUhv1A7oAsS8=";
    write(
      root,
      ".nix-ci-cache/config.yaml",
      `${read(root, ".nix-ci-cache/config.yaml")}maxSize: 2G\ncapture: built\nexclude: ["*-source"]\npublicKey: "${key}"\n`,
    );
    const result = await runCli(root, ["init", "--yes", "--force", "--provider", "gitlab"]);
    expect(result.code, result.stderr).toBe(0);
    const config = read(root, ".nix-ci-cache/config.yaml");
    expect(parse(config)).toMatchObject({
      publicKey: key,
      maxSize: "2G",
      capture: "built",
      exclude: ["*-source"],
      providers: ["gitlab"],
    });
    expect(result.stdout).toContain("  providers: [ github ] → [ gitlab ]");
    expect(result.stdout).toContain("  kept: keyFiles, compression, capture, maxSize, exclude, publicKey");
    expect(result.stdout).toContain("  updated  .nix-ci-cache/config.yaml");
    expect(result.stdout).not.toContain("created  .nix-ci-cache/config.yaml");
    // The old provider's pipeline goes, the new one's comes.
    expect(result.stdout).toContain("  removed  .github/workflows/nix.yml");
    expect(existsSync(join(root, ".github"))).toBe(false);
    expect(read(root, ".gitlab/nix-ci-cache.yml")).toContain("unprotect: true");
  });
});

describe("init --force over a config with upstream caches", () => {
  it("keeps upstream and upstreamTimeout as they were, each entry one key a line", async () => {
    const root = tempProject();
    write(root, "default.nix", "{}");
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    const key = "ci-1:Ab8GFdeMHrIdYdT7p+C9NV6d/TTc/PjjUhv1A7oAsS8=";
    const cachix = {
      url: "https://my-cache.cachix.org",
      publicKey: "my-cache.cachix.org-1:Ab8GFdeMHrIdYdT7p+C9NV6d/TTc/PjjUhv1A7oAsS8=",
      pushCommand: "cachix push my-cache",
      secrets: ["CACHIX_AUTH_TOKEN"],
    };
    write(
      root,
      ".nix-ci-cache/config.yaml",
      `${read(root, ".nix-ci-cache/config.yaml")}publicKey: "${key}"\nupstreamTimeout: 30\nupstream:\n  - url: s3://nix-cache?region=eu-west-1\n  - ${JSON.stringify(cachix)}\n`,
    );
    const result = await runCli(root, ["init", "--yes", "--force", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    const config = read(root, ".nix-ci-cache/config.yaml");
    expect(parse(config)).toMatchObject({
      publicKey: key,
      upstreamTimeout: 30,
      upstream: [{ url: "s3://nix-cache?region=eu-west-1" }, cachix],
    });
    expect(config).toContain("# Shared binary caches read after the cache directory");
    expect(config).toContain("\nupstream:\n  - url: s3://nix-cache?region=eu-west-1\n  - url: https://my-cache.cachix.org\n");
    expect(config).toContain("# Seconds an upstream cache may take to answer");
    expect(result.stdout).toContain("  kept: keyFiles, compression, publicKey, upstream, upstreamTimeout");
    expect(read(root, ".github/workflows/nix.yml")).toContain(`CACHIX_AUTH_TOKEN: \${{ secrets.CACHIX_AUTH_TOKEN }}`);
    expect((await runCli(root, ["check"])).code).toBe(0);
  });
});

describe("init --force over a wired job", () => {
  it("keeps the jobs wired before, where --yes alone would choose none of two", async () => {
    const root = tempProject();
    write(
      root,
      ".github/workflows/ci.yml",
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix-build\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix build\n",
    );
    const first = await runCli(root, ["init", "--yes", "--into", ".github/workflows/ci.yml:a"]);
    expect(first.code, first.stderr).toBe(0);
    const dry = await runCli(root, ["init", "--yes", "--force", "--dry-run"]);
    expect(dry.stdout).not.toMatch(/^ {2}wired/m);
    const again = await runCli(root, ["init", "--yes", "--force"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("into: .github/workflows/ci.yml:a (kept from the existing config)");
    expect(parse(read(root, ".nix-ci-cache/config.yaml")).into).toEqual([".github/workflows/ci.yml:a"]);
    expect(existsSync(join(root, ".github/workflows/nix.yml"))).toBe(false);
  });
});

describe("where it writes", () => {
  it("refuses a --cwd that does not exist and creates nothing", async () => {
    const parent = scratchDir("ncc-parent-");
    const result = await runCli(join(parent, "nonexistent"), ["init", "--yes"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^--cwd: .*\/nonexistent does not exist; name the project's directory$/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("works at the repository's top level when started in a subdirectory, and says so", async () => {
    const root = tempProject();
    mkdirSync(join(root, "sub/deeper"), { recursive: true });
    const result = await runCliIn(join(root, "sub/deeper"), ["init", "--yes", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`working in the repository's top level ${root} (you are in sub/deeper/)`);
    expect(existsSync(join(root, ".github/workflows/nix.yml"))).toBe(true);
    expect(readdirSync(join(root, "sub"))).toEqual(["deeper"]);
    expect(readdirSync(join(root, "sub/deeper"))).toEqual([]);
    // generate and check find the config from there too.
    expect((await runCliIn(join(root, "sub"), ["check"])).code).toBe(0);
  });

  it("refuses a directory outside any repository unless --cwd names it, and then says why it may not work", async () => {
    const outside = scratchDir("ncc-nogit-");
    const refused = await runCliIn(outside, ["init", "--yes"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("is not in a git repository (no .git here or above)");
    expect(readdirSync(outside)).toEqual([]);
    const named = await runCli(outside, ["init", "--yes"]);
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr).toContain("is not in a git repository; CI providers read these files once it is one (git init)");
  });

  it("warns when --cwd is inside a repository but not its top level", async () => {
    const root = tempProject();
    mkdirSync(join(root, "pkg"));
    const result = await runCli(join(root, "pkg"), ["init", "--yes", "--provider", "github"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`is inside the repository ${root} but is not its top level`);
  });

  it.each([["${HOME}/nix-cache"], ["$HOME/nix-cache"], ["~/nix-cache"]])(
    "refuses cacheDir %s, which no provider and no script would expand",
    async (dir) => {
      const root = tempProject();
      const result = await runCli(root, ["init", "--yes", "--cache-dir", dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`init: --cache-dir: "${dir}" is used as written, without expanding $ or ~`);
      expect(readdirSync(root)).toEqual([".git"]);
    },
  );
});

describe("flags", () => {
  it.each([
    [["init", "--yes", "--provider", "githb"], '--provider: unknown value "githb" (did you mean "github"?)'],
    [["init", "--yes", "--provider", "gitlba"], '--provider: unknown value "gitlba" (did you mean "gitlab"?)'],
    [["init", "--yes", "--platform", "macoss"], '--platform: unknown value "macoss" (did you mean "darwin"?)'],
    [["init", "--yes", "--mode", "chroo"], '--mode: unknown value "chroo" (did you mean "chroot"?)'],
    [["init", "--provder", "github"], "unknown option --provder (did you mean --provider?); see nix-ci-cache init --help"],
    [
      ["generate", "--provider", "github"],
      "--provider does not apply to generate; it is an option of init (see nix-ci-cache generate --help)",
    ],
    [["check", "--force"], "--force does not apply to check; it is an option of init and generate and keygen"],
    [["init", "--name", "x"], "--name does not apply to init; it is an option of keygen"],
    [["genrate"], 'unknown command "genrate" (did you mean "generate"?)'],
    [["check", "extra"], 'check: unexpected argument "extra"; check takes no arguments'],
    [["init", "--yes=no"], "--yes takes no value"],
    [["init", "--provider"], "--provider needs a value: --provider <id>[,<id>…]"],
  ])("%j: one line, exit 2", async (args, message) => {
    const root = tempProject();
    const result = await runCli(root, args);
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n")).toHaveLength(1);
    expect(result.stderr).toContain(message);
    expect(readdirSync(root)).toEqual([".git"]);
  });

  it.each([
    ["gh", "github"],
    ["GitHub", "github"],
    ["gitea", "forgejo"],
    ["azure-devops", "azure"],
  ])("takes the provider alias %s for %s", async (alias, id) => {
    const root = tempProject();
    const result = await runCli(root, ["init", "--yes", "--provider", alias]);
    expect(result.code, result.stderr).toBe(0);
    expect(read(root, ".nix-ci-cache/config.yaml")).toContain(`providers: [ ${id} ]`);
  });

  it("takes macos for darwin, and repeated --provider flags", async () => {
    const root = tempProject();
    const result = await runCli(root, ["init", "--yes", "--platform", "linux,macOS", "--provider", "gh", "--provider=gl"]);
    expect(result.code, result.stderr).toBe(0);
    const config = read(root, ".nix-ci-cache/config.yaml");
    expect(config).toContain("platforms: [ linux, darwin ]");
    expect(config).toContain("providers: [ github, gitlab ]");
  });

  it("prints each command's own usage", async () => {
    const root = tempProject();
    const keygen = await runCli(root, ["keygen", "--help"]);
    expect(keygen.code).toBe(0);
    expect(keygen.stdout).toMatch(/^npx nix-ci-cache keygen \[options\]$/m);
    expect(keygen.stdout).toContain("--name <name>");
    expect(keygen.stdout).not.toContain("--provider");
    const help = await runCli(root, ["help", "init"]);
    expect(help.stdout).toContain("--provider <id>[,<id>…]");
    expect(help.stdout).not.toContain("--name");
    const overview = await runCli(root, ["--help"]);
    for (const command of ["init", "generate", "check", "stats", "keygen", "doctor"]) {
      expect(overview.stdout).toMatch(new RegExp(`^  npx nix-ci-cache ${command}\\b`, "m"));
    }
  });
});

describe("writes", () => {
  it("are all or nothing: a path that cannot be written midway leaves the setup as it was, and the error names it and the fix", async () => {
    const root = tempProject();
    // .github is a file: the workflow, written after the runtime files, cannot go in.
    write(root, ".github", "not a directory\n");
    const before = snapshot(root);
    const result = await runCli(root, ["init", "--yes", "--provider", "github"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^\.github\/workflows\/nix\.yml: cannot write \(a parent is a file, not a directory\); nothing was changed: .*\/\.github is a file where a directory must be; move it away, then run again$/m,
    );
    expect(snapshot(root)).toEqual(before);
  });

  it("put back every file they had replaced when one fails", async () => {
    const root = tempProject();
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    write(root, ".nix-ci-cache/config.yaml", `${read(root, ".nix-ci-cache/config.yaml")}maxSize: 1G\n`);
    rmSync(join(root, ".github"), { recursive: true });
    write(root, ".github", "not a directory\n");
    const before = snapshot(root);
    const result = await runCli(root, ["generate"]);
    expect(result.code).toBe(1);
    expect(snapshot(root)).toEqual(before);
    expect(readdirSync(join(root, ".nix-ci-cache")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("--dry-run", () => {
  it.each([
    [["init", "--yes", "--provider", "github", "--dry-run"], false, "+++ b/.github/workflows/nix.yml"],
    [["generate", "--dry-run"], true, "+++ b/.nix-ci-cache/save.sh"],
    [["keygen", "--dry-run"], true, "+publicKey: "],
  ])("%j prints the diff and writes nothing", async (args, initFirst, diffLine) => {
    const root = tempProject();
    if (initFirst) {
      expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
      // Something for generate to do.
      rmSync(join(root, ".nix-ci-cache/save.sh"));
    }
    const before = snapshot(root);
    const result = await runCli(root, args);
    expect(result.code, result.stderr).toBe(0);
    expect(`${result.stdout}\n${result.stderr}`).toContain(diffLine);
    expect(`${result.stdout}\n${result.stderr}`).toMatch(/--dry-run: \d+ file\(s\) would change; nothing was written/);
    expect(snapshot(root)).toEqual(before);
  });
});

describe("files generated for an earlier config", () => {
  it("are reported by check and removed by generate, with the directories they leave empty", async () => {
    const root = tempProject();
    expect((await runCli(root, ["init", "--yes", "--provider", "github", "--mode", "chroot"])).code).toBe(0);
    expect(existsSync(join(root, ".nix-ci-cache/bin/nix-build"))).toBe(true);
    const config = read(root, ".nix-ci-cache/config.yaml");
    write(
      root,
      ".nix-ci-cache/config.yaml",
      config.replace("providers: [ github ]", "providers: [ gitlab ]").replace("mode: chroot", "mode: file"),
    );
    const check = await runCli(root, ["check"]);
    expect(check.code).toBe(1);
    for (const path of [".github/workflows/nix.yml", ".nix-ci-cache/bin/nix-build", ".nix-ci-cache/bin/nix-shell"]) {
      expect(check.stderr).toContain(`${path}: generated by nix-ci-cache and no longer wanted by .nix-ci-cache/config.yaml`);
    }
    const generated = await runCli(root, ["generate"]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toContain("  removed  .github/workflows/nix.yml");
    expect(existsSync(join(root, ".github"))).toBe(false);
    expect(existsSync(join(root, ".nix-ci-cache/bin"))).toBe(false);
    expect((await runCli(root, ["check"])).code).toBe(0);
  });

  it("are kept, and named, once they lost our marker", async () => {
    const root = tempProject();
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    write(root, ".github/workflows/nix.yml", "name: mine now\n");
    const config = read(root, ".nix-ci-cache/config.yaml");
    write(root, ".nix-ci-cache/config.yaml", config.replace("providers: [ github ]", "providers: [ gitlab ]"));
    const generated = await runCli(root, ["generate"]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toContain("kept     .github/workflows/nix.yml");
    expect(read(root, ".github/workflows/nix.yml")).toBe("name: mine now\n");
  });

  it("are found without a manifest, as an earlier version left them", async () => {
    const root = tempProject();
    expect((await runCli(root, ["init", "--yes", "--provider", "github"])).code).toBe(0);
    rmSync(join(root, ".nix-ci-cache/manifest"));
    const config = read(root, ".nix-ci-cache/config.yaml");
    write(root, ".nix-ci-cache/config.yaml", config.replace("providers: [ github ]", "providers: [ gitlab ]"));
    const generated = await runCli(root, ["generate"]);
    expect(generated.stdout).toContain("  removed  .github/workflows/nix.yml");
  });
});

describe("a job taken out of into", () => {
  const unwired = async (path: string, original: string, into: string, provider: string) => {
    const root = tempProject();
    write(root, path, original);
    const init = await runCli(root, ["init", "--yes", "--provider", provider, "--into", into]);
    expect(init.code, init.stderr).toBe(0);
    expect(read(root, path)).not.toBe(original);
    const config = read(root, ".nix-ci-cache/config.yaml");
    write(root, ".nix-ci-cache/config.yaml", config.replace(/^into: .*$/m, "into: []"));
    const check = await runCli(root, ["check"]);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(`--- a/${path}`);
    const generated = await runCli(root, ["generate"]);
    expect(generated.code, generated.stderr).toBe(0);
    return { root, text: read(root, path) };
  };

  it("gets our steps taken out of its GitHub workflow, every byte of the user's back", async () => {
    const original =
      "# CI\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: nix-build   # the build\n";
    const { text } = await unwired(".github/workflows/ci.yml", original, ".github/workflows/ci.yml:build", "github");
    expect(text).toBe(original);
  });

  it.each([
    ["its own line", "build:\n  image: nixos/nix\n  script:\n    - nix-build\n"],
    [
      "a block list",
      "build:\n  extends:\n    - .base\n  image: nixos/nix\n  script:\n    - nix-build\n.base:\n  tags: [docker]\n",
    ],
    ["a flow list", "build:\n  extends: [.base]\n  image: nixos/nix\n  script:\n    - nix-build\n.base:\n  tags: [docker]\n"],
  ])("gets its GitLab extends back as it was, when ours was %s", async (_, original) => {
    const { text } = await unwired(".gitlab-ci.yml", original, ".gitlab-ci.yml:build", "gitlab");
    // The include of our hidden jobs stays: the file still uses nothing else of ours.
    expect(text.replace(/^include:\n {2}- local: \.gitlab\/nix-ci-cache\.yml\n/m, "")).toBe(original);
  });

  it("leaves alone a job that extends .nix-ci-cache by hand, never named in into", async () => {
    const root = tempProject();
    const mine = "mine:\n  extends: .nix-ci-cache\n  script:\n    - nix build\n";
    write(
      root,
      ".gitlab-ci.yml",
      `include:\n  - local: .gitlab/nix-ci-cache.yml\n${mine}build:\n  image: nixos/nix\n  script:\n    - nix-build\n`,
    );
    expect((await runCli(root, ["init", "--yes", "--provider", "gitlab", "--into", ".gitlab-ci.yml:build"])).code).toBe(0);
    const config = read(root, ".nix-ci-cache/config.yaml");
    write(root, ".nix-ci-cache/config.yaml", config.replace(/^into: .*$/m, "into: []"));
    expect((await runCli(root, ["generate"])).code).toBe(0);
    expect(read(root, ".gitlab-ci.yml")).toContain(mine);
    expect(read(root, ".gitlab-ci.yml")).toMatch(/build:\n {2}image: nixos\/nix\n/);
  });
});

describe("chroot mode at init", () => {
  it("comes with where it cannot work and what it costs", async () => {
    const root = tempProject();
    const result = await runCli(root, ["init", "--yes", "--provider", "github", "--mode", "chroot"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("Chroot mode, before you rely on it:");
    expect(result.stdout).toContain("Ubuntu 24.04 restricts the user namespaces");
    expect(result.stdout).toContain("not on macOS");
    expect(result.stdout).toContain("./result links point to /nix/store/…");
    expect(result.stdout).toContain("nix-shell");
    const file = await runCli(tempProject(), ["init", "--yes", "--provider", "github"]);
    expect(file.stdout).not.toContain("Chroot mode, before you rely on it:");
  });
});
