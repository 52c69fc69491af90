import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validatorSource } from "../src/validator.js";
import { EXAMPLES_DIR, exampleDirs } from "./support/examples.js";
import { scratchDir } from "./support/scratch.js";

const repo = join(import.meta.dirname, "..");
const probe = join(import.meta.dirname, "support", "loaded-packages.mjs");

let packDir: string;
let tarball: string;
let files: string[];
/** The package as `npm install` lays it out, with its dependencies beside it. */
let installed: string;

beforeAll(() => {
  packDir = scratchDir("ncc-pack-");
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: repo, encoding: "utf8" }),
  );
  files = packed[0].files.map((f: { path: string }) => f.path);
  tarball = join(packDir, packed[0].filename);
  const prefix = scratchDir("ncc-installed-");
  writeFileSync(join(prefix, "package.json"), "{}\n");
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
    cwd: prefix,
    env: { ...process.env, npm_config_cache: join(packDir, "npm-cache") },
    stdio: "pipe",
  });
  installed = join(prefix, "node_modules", "nix-ci-cache");
}, 240_000);

/** Runs the installed package's bin as `npx` does, and the files under node_modules/ it loaded. */
function runInstalled(args: string[], cwd: string) {
  const log = join(scratchDir("ncc-loaded-"), "loaded");
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, ["--import", probe, join(installed, "bin", "nix-ci-cache.js"), ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, LOADED_PACKAGES_FILE: log },
  });
  const loaded = [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))]
    .map((p) => p.replace(/.*\/node_modules\//, ""))
    .filter((p) => !p.startsWith("nix-ci-cache/"));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, loaded };
}

function freshProject(): string {
  const project = scratchDir("ncc-fresh-");
  execFileSync("git", ["init", "-q"], { cwd: project });
  writeFileSync(join(project, "flake.lock"), "{}\n");
  return project;
}

describe("the npm package as users get it", () => {
  it("holds the compiled code, templates, schema, docs, licence and changelog, and none of the sources", () => {
    for (const file of [
      "LICENSE",
      "README.md",
      "CHANGELOG.md",
      "package.json",
      "bin/nix-ci-cache.js",
      "dist/cli.js",
      "dist/config-validator.cjs",
      "dist/templates.cjs",
      "schemas/config.schema.json",
      "templates/runtime/env.sh.hbs",
      "templates/runtime/gitignore.hbs",
      "templates/providers/github/.github/workflows/nix.yml.hbs",
      "docs/runtime.md",
      "docs/signing.md",
      "docs/providers.md",
      "docs/upstream.md",
    ]) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((f) => /^(src|test|bench|scripts|examples|docs\/plans)\//.test(f))).toEqual([]);
    expect(readFileSync(join(installed, "LICENSE"), "utf8")).toMatch(
      /^MIT License\n\nCopyright \(c\) 2026 nix-ci-cache contributors\n/,
    );
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    expect(manifest).toMatchObject({ license: "MIT", repository: { type: "git" }, bugs: { url: expect.any(String) } });
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.keywords).toContain("nix");
  });

  it("ships the schema at the path the config's $schema line names, for this version", () => {
    const project = freshProject();
    const r = runInstalled(["init", "--yes", "--provider", "github"], project);
    expect(r.status, r.stderr).toBe(0);
    const config = readFileSync(join(project, ".nix-ci-cache", "config.yaml"), "utf8");
    const url = /^# yaml-language-server: \$schema=(\S+)$/m.exec(config)?.[1];
    const { name, version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
    // unpkg serves https://unpkg.com/<name>@<version>/<path in the tarball>.
    const [, urlName, urlVersion, path] = /^https:\/\/unpkg\.com\/([^@/]+)@([^/]+)\/(.+)$/.exec(url ?? "") ?? [];
    expect({ name: urlName, version: urlVersion }, url).toEqual({ name, version });
    expect(files).toContain(path);
    expect(readFileSync(join(installed, path as string), "utf8")).toBe(
      readFileSync(join(repo, "schemas/config.schema.json"), "utf8"),
    );
  });

  it("ships the validator compiled from the schema it ships", () => {
    const shipped = JSON.parse(readFileSync(join(installed, "schemas/config.schema.json"), "utf8"));
    expect(readFileSync(join(installed, "dist/config-validator.cjs"), "utf8")).toBe(validatorSource(shipped));
  });

  it("runs --help installed from the tarball, loading none of its dependencies", () => {
    const r = runInstalled(["--help"], scratchDir("ncc-help-"));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^nix-ci-cache \d+\.\d+\.\d+: /);
    expect(r.stdout).toContain("npx nix-ci-cache init");
    // src/lazy.ts: a static import of a dependency anywhere costs every command its load.
    expect(r.loaded).toEqual([]);
  });

  it("init --yes and check load the precompiled validator and templates, not Ajv's or Handlebars' compilers, nor prompts", () => {
    const project = freshProject();
    for (const args of [["init", "--yes"], ["check"]]) {
      const r = runInstalled(args, project);
      expect(r.status, `${args.join(" ")}\n${r.stderr}`).toBe(0);
      const packages = new Set(r.loaded.map((p) => p.split("/")[0]));
      for (const unwanted of ["prompts", "source-map", "diff", "fast-uri", "json-schema-traverse"]) {
        expect(packages.has(unwanted), `${args.join(" ")} loaded ${unwanted}`).toBe(false);
      }
      expect(
        r.loaded.filter((p) => p.startsWith("ajv/") && !p.startsWith("ajv/dist/runtime/")),
        args.join(" "),
      ).toEqual([]);
      expect(
        r.loaded.filter((p) => p.startsWith("handlebars/dist/cjs/handlebars/compiler/")),
        args.join(" "),
      ).toEqual([]);
    }
  });

  it("generates every example as the sources do (precompiled templates and validator)", () => {
    const names = exampleDirs();
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const r = runInstalled(["check", "--cwd", join(EXAMPLES_DIR, name)], repo);
      expect(r.status, `${name}\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
  });

  it("runs init from the packed tarball in a fresh repository", () => {
    const project = freshProject();
    const output = execFileSync("npx", ["--yes", `file:${tarball}`, "init", "--yes", "--provider", "github"], {
      cwd: project,
      encoding: "utf8",
      env: { ...process.env, npm_config_cache: join(packDir, "npm-cache") },
    });
    expect(output).toContain("created  .github/workflows/nix.yml");
    for (const path of [".nix-ci-cache/env.sh", ".nix-ci-cache/save.sh", ".nix-ci-cache/hook.sh", ".nix-ci-cache/.gitignore"]) {
      expect(existsSync(join(project, path)), path).toBe(true);
    }
    expect(readFileSync(join(project, ".github/workflows/nix.yml"), "utf8")).toContain("hashFiles('flake.lock')");
    const check = execFileSync("npx", ["--yes", `file:${tarball}`, "check"], {
      cwd: project,
      encoding: "utf8",
      env: { ...process.env, npm_config_cache: join(packDir, "npm-cache") },
    });
    expect(check).toContain("up to date");
  }, 240_000);
});
