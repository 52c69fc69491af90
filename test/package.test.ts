import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./support/scratch.js";

const repo = join(import.meta.dirname, "..");

describe("the npm package as users get it", () => {
  it("runs init from the packed tarball in a fresh repository", () => {
    const packDir = scratchDir("ncc-pack-");
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: repo, encoding: "utf8" }),
    );
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain("schemas/config.schema.json");
    expect(files).toContain("templates/runtime/env.sh.hbs");
    expect(files).toContain("templates/runtime/gitignore.hbs");
    expect(files).toContain("templates/providers/github/.github/workflows/nix.yml.hbs");
    expect(files).toContain("dist/cli.js");
    expect(files.filter((f) => f.startsWith("src/") || f.startsWith("test/"))).toEqual([]);

    const project = scratchDir("ncc-fresh-");
    execFileSync("git", ["init", "-q"], { cwd: project });
    writeFileSync(join(project, "flake.lock"), "{}\n");
    const tarball = join(packDir, packed[0].filename);
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
