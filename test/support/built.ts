import { execFileSync } from "node:child_process";
import { join } from "node:path";

const repo = join(import.meta.dirname, "../..");
let built = false;

/** bin/nix-ci-cache.js over a dist/ compiled from the current sources, for tests that need a real process. */
export function builtCli(): string {
  if (!built) {
    execFileSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: repo, stdio: "inherit" });
    built = true;
  }
  return join(repo, "bin/nix-ci-cache.js");
}
