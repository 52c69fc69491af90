import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { requireNix } from "./support/nix.js";

it("the README's main job on the bundled example: run 1 builds, run 2 builds nothing", () => {
  requireNix();
  const r = spawnSync("sh", [join(import.meta.dirname, "..", "scripts", "run-demo.sh")], { encoding: "utf8" });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^run 1: built 9 derivations$/m);
  expect(r.stdout).toMatch(/^run 2: built 0 derivations$/m);
  expect(r.stdout).toMatch(/nix-ci-cache: saved 10 new paths/);
});
