import { execFileSync } from "node:child_process";
import { join } from "node:path";

const repo = join(import.meta.dirname, "../..");
let built = false;

/** bin/nix-ci-cache.js over a dist/ compiled from the current sources, for tests that need a real process. */
export function builtCli(): string {
  if (!built) {
    // The whole build: tsc alone would leave an earlier build's precompiled templates and
    // validator in dist/, which the CLI prefers to the sources.
    execFileSync("npm", ["run", "--silent", "build"], { cwd: repo, stdio: "inherit" });
    built = true;
  }
  return join(repo, "bin/nix-ci-cache.js");
}
