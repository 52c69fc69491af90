#!/usr/bin/env node
// Mutation check, on demand (not in CI): puts one small bug at a time into a scratch
// copy of the working tree, runs the tests that should notice it, and prints which
// bugs were caught and which survived. The unmutated copy must pass the same tests
// first, or the table would mean nothing.
//
//   node scripts/mutants.mjs            every mutant
//   node scripts/mutants.mjs lock prune only those whose name contains a word given
//
// Root with bwrap: each run gets a Nix store of its own (scripts/private-store.sh).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SAVE = "templates/runtime/save.sh.hbs";
const SAVE_FILE = "templates/partials/runtime/save-file.hbs";
const PRUNE = "templates/partials/runtime/save-prune.hbs";
const SIGN = "templates/partials/runtime/save-sign.hbs";
const SAVE_TESTS = "test/runtime-save.test.ts";

/**
 * name, file, text to replace (exactly once), its replacement, test files, and a
 * pattern of test names (vitest -t) that should fail.
 */
const MUTANTS = [
  {
    name: "the damage check keeps entries whose references are missing",
    file: SAVE_FILE,
    from: "close_index() {\n  while :; do",
    to: "close_index() {\n  return 0\n  while :; do",
    tests: [SAVE_TESTS],
    only: "reference left the cache|together with everything",
  },
  {
    name: "a stale lock's age: 60 → 6000 minutes (owner line)",
    file: SAVE,
    from: "-gt 3600 ]",
    to: "-gt 360000 ]",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a stale lock's age: 60 → 6000 minutes (no owner line)",
    file: SAVE,
    from: "-mmin +60",
    to: "-mmin +6000",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a stale lock's age: 60 → 58 minutes",
    file: SAVE,
    from: "-gt 3600 ]",
    to: "-gt 3480 ]",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a live lock is waited for 150 minutes, not 15",
    file: SAVE,
    from: '[ "$waited" -ge 900 ]',
    to: '[ "$waited" -ge 9000 ]',
    tests: [SAVE_TESTS],
    only: "15 minutes",
  },
  {
    name: "a lock of this host whose process is gone is not stale",
    file: SAVE,
    from: 'kill -0 "$pid" 2>/dev/null || stale=',
    to: 'true || stale=',
    tests: [SAVE_TESTS],
    only: "killed halfway",
  },
  {
    name: "isGenerated looks for the marker on every line, not the first 3",
    file: "src/write.ts",
    from: 'content.split("\\n", 3)',
    to: 'content.split("\\n")',
    tests: ["test/cli.test.ts"],
    only: "never overwrites",
  },
  {
    name: "truncated NARs go unnoticed (size check dropped)",
    file: SAVE_FILE,
    from: 'if [ -s "$tmp/nars.bad" ]; then',
    to: "if false; then",
    tests: [SAVE_TESTS],
    only: "truncated NAR",
  },
  {
    name: "prune stops evicting entries that refer to an evicted one",
    file: PRUNE,
    from: '  close_index "$tmp/index"\n  (cd "$cache" && settle)',
    to: '  (cd "$cache" && settle)',
    tests: [SAVE_TESTS],
    only: "evicts",
  },
  {
    name: "prune evicts the most recently used first",
    file: PRUNE,
    from: "sort -n -k 1,1 | {",
    to: "sort -rn -k 1,1 | {",
    tests: [SAVE_TESTS],
    only: "evicts",
  },
  {
    // The emulated GitLab keys save whatever `when` says: only gitlab-ci-local's own cache notices.
    name: "GitLab saves the cache only after a passing job",
    file: "templates/providers/gitlab/.gitlab/nix-ci-cache.yml.hbs",
    from: "    when: always\n",
    to: "    when: on_success\n",
    tests: ["test/providers/gitlab.test.ts"],
    only: "own cache",
  },
  {
    name: "a signed cache accepts entries without our signature",
    file: SAVE_FILE,
    from: '  [ -n "$6" ] || return 0\n',
    to: "",
    tests: ["test/runtime-signing.test.ts"],
    only: "",
  },
  {
    name: "env.sh leaves out fallback = true (a damaged entry fails the build)",
    file: "templates/runtime/env.sh.hbs",
    from: "  printf 'fallback = true\\n'\n",
    to: "",
    tests: [SAVE_TESTS],
    only: "truncated NAR",
  },
  {
    name: "env.sh keeps a build-users-group whose group does not exist",
    file: "templates/runtime/env.sh.hbs",
    from: "    printf 'build-users-group =\\n'\n",
    to: "",
    tests: ["test/runtime-where.test.ts"],
    only: "fresh machine",
  },
  {
    name: "save.sh tells GitHub nothing of what it added (the provider saves every time)",
    file: SAVE,
    from: "  printf 'added=%s\\n' \"$1\" >>\"$GITHUB_OUTPUT\"",
    to: "  printf '' >>\"$GITHUB_OUTPUT\"",
    tests: ["test/runtime-e2e.test.ts", "test/providers/github.test.ts"],
    only: "",
  },
];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const words = process.argv.slice(2);
const chosen = MUTANTS.filter((m) => words.length === 0 || words.some((w) => m.name.includes(w)));

const scratch = mkdtempSync(join(tmpdir(), "nix-ci-cache-mutants-"));
// The working tree as it is (changes not yet committed included), without untracked files.
execFileSync("sh", ["-c", `git ls-files -z | tar --null -T - -cf - | tar -xf - -C "${scratch}"`], { cwd: root });
// Only read from: nothing here ever runs npm.
symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));

function vitest(m, label) {
  const args = ["scripts/private-store.sh", "npx", "vitest", "run", ...m.tests];
  if (m.only) args.push("-t", m.only);
  // A mutant that makes save.sh wait for a lock could hang a test for 15 minutes.
  const r = spawnSync("sh", args, { cwd: scratch, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, timeout: 600_000 });
  const log = join(scratch, `${label}.log`);
  writeFileSync(log, `${r.stdout}\n${r.stderr}`);
  // "Tests  1 failed | 3 passed | 15 skipped (19)", any part of it missing.
  const tests = /^\s*Tests\s+(.*)$/m.exec(r.stdout ?? "")?.[1] ?? "";
  const number = (what) => Number(new RegExp(`(\\d+) ${what}`).exec(tests)?.[1] ?? 0);
  return { status: r.status, timedOut: r.signal !== null, log, failed: number("failed"), passed: number("passed") };
}

const rows = [];
let broken = false;
for (const [i, m] of chosen.entries()) {
  const path = join(scratch, m.file);
  const original = readFileSync(path, "utf8");
  const count = original.split(m.from).length - 1;
  if (count !== 1) {
    rows.push(`| ${m.name} | \`${m.file}\` | the text to change occurs ${count} times: fix the mutant |`);
    broken = true;
    continue;
  }
  const base = vitest(m, `${i}-unmutated`);
  if (base.status !== 0) {
    rows.push(`| ${m.name} | \`${m.file}\` | the unmutated tests fail (${base.log}) |`);
    broken = true;
    continue;
  }
  writeFileSync(path, original.replace(m.from, m.to));
  const r = vitest(m, `${i}-mutated`);
  writeFileSync(path, original);
  const caught = r.status !== 0 && !r.timedOut;
  if (!caught) broken = true;
  const how = r.timedOut
    ? `caught only by a hang: the tests ran 10 minutes (${r.log})`
    : caught
      ? `caught: ${r.failed} of ${r.failed + r.passed} tests fail`
      : `**survived** (${r.log})`;
  rows.push(`| ${m.name} | \`${m.file}\` | ${how} |`);
  process.stderr.write(`${caught ? "caught  " : "SURVIVED"} ${m.name}\n`);
}
console.log("| mutation | where | result |\n|---|---|---|");
for (const row of rows) console.log(row);
if (!broken) rmSync(scratch, { recursive: true, force: true });
else console.log(`\nlogs: ${scratch}`);
process.exit(broken ? 1 : 0);
