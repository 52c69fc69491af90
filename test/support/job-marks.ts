// Every test starts from a store in which no other project's job is running, as a
// runner whose earlier jobs have ended: the job marks env.sh and save.sh leave in the
// store (runtime: "A store that other jobs use at the same time") are removed after
// each test. The tests of a shared store make their own, and look at them.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { afterEach } from "vitest";

const MARK = /^[0-9a-z]{32}-nix-ci-cache-(job|done)-[0-9]+-[0-9]+-[0-9]+$/;

export function forgetJobMarks(): void {
  if (!existsSync("/nix/store")) return;
  const marks = readdirSync("/nix/store")
    .filter((n) => MARK.test(n))
    .map((n) => `/nix/store/${n}`);
  if (marks.length === 0) return;
  // A mark that a running test still holds stays; the next call takes it.
  spawnSync("nix-store", ["--delete", ...marks], { stdio: "ignore" });
}

afterEach(forgetJobMarks);
