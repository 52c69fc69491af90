// The job marks env.sh and save.sh leave in the store (runtime: "A store that other
// jobs use at the same time"). Imports nothing of Vitest: npm run bench uses it too.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

const MARK = /^[0-9a-z]{32}-nix-ci-cache-(job|done)-[0-9]+-[0-9]+-[0-9]+$/;

/** Removes every job mark from /nix/store: no other project's job is running then. */
export function forgetJobMarks(): void {
  if (!existsSync("/nix/store")) return;
  const marks = readdirSync("/nix/store")
    .filter((n) => MARK.test(n))
    .map((n) => `/nix/store/${n}`);
  if (marks.length === 0) return;
  // A mark that a running job still holds stays; the next call takes it.
  spawnSync("nix-store", ["--delete", ...marks], { stdio: "ignore" });
}
