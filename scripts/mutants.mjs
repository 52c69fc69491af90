#!/usr/bin/env node
// Mutation check, on demand (not in CI): puts one small bug at a time into a scratch
// copy of the working tree, runs the tests that should notice it, and prints which
// bugs were caught and which survived. The unmutated copy must pass the same tests
// first, or the table would mean nothing.
//
//   node scripts/mutants.mjs            every mutant
//   node scripts/mutants.mjs lock prune only those whose name contains a word given
//
// As root, each run gets a Nix store of its own (scripts/private-store.sh).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SAVE = "templates/runtime/save.sh.hbs";
const SAVE_FILE = "templates/partials/runtime/save-file.hbs";
const SAVE_CAPTURE = "templates/partials/runtime/save-capture.hbs";
const SAVE_LOCK = "templates/partials/runtime/save-lock.hbs";
const SAVE_REPORT = "templates/partials/runtime/save-report.hbs";
const PRUNE = "templates/partials/runtime/save-prune.hbs";
const SAVE_TESTS = "test/runtime-save.test.ts";
const ENV = "templates/runtime/env.sh.hbs";
const ENV_FILE = "templates/partials/runtime/env-file.hbs";
const ENV_JOB_START = "templates/partials/runtime/env-job-start.hbs";
const ENV_DAEMON = "templates/partials/runtime/env-daemon.hbs";
const ENV_CHROOT = "templates/partials/runtime/env-chroot.hbs";
const NIX_VERSION = "templates/partials/runtime/nix-version.hbs";
const STORE_PROBE = "templates/partials/runtime/store-probe.hbs";
const CHROOT_PROBE = "templates/partials/runtime/chroot-probe.hbs";
const DOCTOR = "templates/runtime/doctor.sh.hbs";
const DOCTOR_NIX = "templates/partials/runtime/doctor-nix.hbs";
const DOCTOR_SETTINGS = "templates/partials/runtime/doctor-settings.hbs";
const DOCTOR_CACHE = "templates/partials/runtime/doctor-cache.hbs";
const DOCTOR_TESTS = "test/runtime-doctor.test.ts";
const DOCTOR_SITES_TESTS = "test/runtime-doctor-sites.test.ts";
const VERSIONS_TESTS = "test/runtime-versions.test.ts";
const DAEMON_TESTS = "test/runtime-daemon.test.ts";
const APPARMOR_TESTS = "test/runtime-apparmor.test.ts";
const NEWCOMER_TESTS = "test/init-newcomer.test.ts";
const ENV_UPSTREAM = "templates/partials/runtime/env-upstream.hbs";
const SAVE_PUSH = "templates/partials/runtime/save-push.hbs";
const UPSTREAM_TESTS = "test/upstream.test.ts";
const TERMINAL_TESTS = "test/init-terminal.test.ts";

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
    file: SAVE_LOCK,
    from: "-gt 3600 ]",
    to: "-gt 360000 ]",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a stale lock's age: 60 → 6000 minutes (no owner line)",
    file: SAVE_LOCK,
    from: "-mmin +60",
    to: "-mmin +6000",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a stale lock's age: 60 → 58 minutes",
    file: SAVE_LOCK,
    from: "-gt 3600 ]",
    to: "-gt 3480 ]",
    tests: [SAVE_TESTS],
    only: "lock",
  },
  {
    name: "a live lock is waited for 150 minutes, not 15",
    file: SAVE_LOCK,
    from: '[ "$waited" -ge 900 ]',
    to: '[ "$waited" -ge 9000 ]',
    tests: [SAVE_TESTS],
    only: "15 minutes",
  },
  {
    name: "a lock of this host whose process is gone is not stale",
    file: SAVE_LOCK,
    from: 'kill -0 "$pid" 2>/dev/null || stale=',
    to: 'true || stale=',
    tests: [SAVE_TESTS],
    only: "killed halfway",
  },
  {
    name: "new paths: save.sh ignores the names above the job's mark (the name diff alone)",
    file: SAVE_CAPTURE,
    from: '  elif [ "$at" -gt 1 ]; then',
    to: "  elif false; then",
    tests: [SAVE_TESTS],
    only: "leftover of the same name",
  },
  {
    name: "new paths: save.sh ignores the names that were not there at the start (the mark alone)",
    file: SAVE_CAPTURE,
    from: 'sort -m "$state/names-at-start" "$state/names-at-start" "$tmp/names-now" | uniq -u >>"$tmp/new-names"',
    to: ': >>"$tmp/new-names"',
    tests: [SAVE_TESTS],
    only: "takes the job's mark",
  },
  {
    name: "new paths: env.sh lists every valid path again (nix path-info --all)",
    file: ENV_JOB_START,
    from: "  _ncc_list_names\n  _ncc_rc_list=$?",
    to: "  _ncc_nix path-info --all >/dev/null 2>&1\n  _ncc_list_names\n  _ncc_rc_list=$?",
    tests: ["test/runtime-shared-store.test.ts"],
    only: "without ever listing every valid path",
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
    name: "no-op save: the cache is taken as unchanged without comparing its files",
    file: SAVE_FILE,
    from: `[ "$(tail -n +2 "$meta/files" | paste -d '\\n' - "$tmp/files" | uniq -c | grep -cv '^ *2 ')" = 0 ] &&`,
    to: "true &&",
    tests: [SAVE_TESTS],
    only: "when the job added nothing",
  },
  {
    name: "no-op save: what the job used keeps the last save's time",
    file: SAVE_FILE,
    from: 'if [ -s "$tmp/reused" ] && ! {',
    to: 'if false && ! {',
    tests: [SAVE_TESTS],
    only: "when the job added nothing",
  },
  {
    name: "no-op save: a warm job's downloads from the cache take the long way",
    file: SAVE_CAPTURE,
    from: 'if [ -z "$sign" ] && [ "$others" -eq 0 ] && [ ! -s "$tmp/built-outs" ] &&',
    to: 'if [ -z "$sign" ] && [ "$others" -eq 0 ] && [ ! -s "$tmp/new-paths" ] && [ ! -s "$tmp/built-outs" ] &&',
    tests: [SAVE_TESTS],
    only: "after a warm job",
  },
  {
    name: "no-op save: a path the cache lacks is taken for cached",
    file: SAVE_CAPTURE,
    from: '[ -z "$(with_hashes "$tmp/new-paths" | without_keys 1 "$tmp/listed" | head -n 1)" ]; then',
    to: "true; then",
    tests: [SAVE_TESTS],
    only: "after a warm job",
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
    file: "src/nix-settings.ts",
    from: '  settings.push({\n    name: "fallback",',
    to: '  [].push({\n    name: "fallback",',
    tests: [SAVE_TESTS],
    only: "truncated NAR",
  },
  {
    name: "env.sh keeps a build-users-group whose group does not exist",
    file: ENV,
    from: "    printf 'build-users-group =\\n'\n",
    to: "",
    tests: ["test/runtime-where.test.ts"],
    only: "fresh machine",
  },
  {
    name: "save.sh tells GitHub nothing of what it added (the provider saves every time)",
    file: SAVE_REPORT,
    from: "  printf 'added=%s\\n' \"$1\" >>\"$GITHUB_OUTPUT\"",
    to: "  printf '' >>\"$GITHUB_OUTPUT\"",
    tests: ["test/runtime-e2e.test.ts", "test/providers/github.test.ts"],
    only: "",
  },
  {
    name: "env.sh takes Nix 2.3 for 2.4 (NIX_CONFIG, extra- settings, zstd)",
    file: NIX_VERSION,
    from: '[ "$_ncc_minor" -ge 4 ]; }; then\n    _ncc_modern=1',
    to: '[ "$_ncc_minor" -ge 3 ]; }; then\n    _ncc_modern=1',
    tests: [VERSIONS_TESTS],
    only: "Nix 2.3",
  },
  {
    name: "save.sh gives Nix 2.3 the nix-command flag",
    file: SAVE,
    from: '[ "$minor" -ge 4 ]; }; then',
    to: '[ "$minor" -ge 3 ]; }; then',
    tests: [VERSIONS_TESTS],
    only: "Nix 2.3",
  },
  {
    name: "save.sh reads the version from the first word, not the last",
    file: SAVE,
    from: "version=${version##* }",
    to: "version=${version#* }",
    tests: [VERSIONS_TESTS],
    only: "emulated",
  },
  {
    name: "save.sh asks nix --version again although env.sh recorded it",
    file: SAVE,
    from: '[ ! -f "$state/nix-version" ] || read -r version <"$state/nix-version"',
    to: ":",
    tests: [VERSIONS_TESTS],
    only: "round trip|warm job",
  },
  {
    name: "Nix 2.3 is given zstd, which it lacks",
    file: ENV_FILE,
    from: "    _ncc_compression=none\n",
    to: "",
    tests: [VERSIONS_TESTS],
    only: "Nix 2.3",
  },
  {
    name: "Nix 2.3's trust probe uses 2.4's `nix store ping`",
    file: STORE_PROBE,
    from: "trust-probe ping-store 2>&1",
    to: "trust-probe store ping 2>&1",
    tests: [VERSIONS_TESTS],
    only: "Nix 2.3",
  },
  {
    name: "Nix 2.3 writes a second block into the user's nix.conf",
    file: ENV,
    from: "'# >>> nix-ci-cache'*) _ncc_inside=1 ;;",
    to: "'# >>> nix-ci-cache-never'*) _ncc_inside=1 ;;",
    tests: [VERSIONS_TESTS],
    only: "Nix 2.3",
  },
  {
    name: "a signed cache is taken on Nix 2.3, which cannot trust its key",
    file: ENV_FILE,
    from: '  if [ -z "$_ncc_modern" ]; then\n    _ncc_fail "the cache is signed',
    to: '  if false; then\n    _ncc_fail "the cache is signed',
    tests: [VERSIONS_TESTS],
    only: "signed",
  },
  {
    name: "require-drop-supplementary-groups only from Nix 2.18",
    file: CHROOT_PROBE,
    from: '[ "$_ncc_minor" -ge 17 ]',
    to: '[ "$_ncc_minor" -ge 18 ]',
    tests: [VERSIONS_TESTS],
    only: "user namespace",
  },
  {
    name: "the trial build's reason is newer Nix's bare \"error:\"",
    file: CHROOT_PROBE,
    from: "grep '^ *error: .'",
    to: "grep '^error'",
    tests: [VERSIONS_TESTS],
    only: "user namespace",
  },
  {
    name: "Determinate Nix's launchd label is taken for org.nixos's",
    file: STORE_PROBE,
    from: "    _ncc_label=systems.determinate.nix-daemon",
    to: "    _ncc_label=org.nixos.nix-daemon",
    tests: [DAEMON_TESTS],
    only: "real sudo",
  },
  {
    name: "nix.custom.conf (Determinate Nix) is not looked for",
    file: STORE_PROBE,
    from: 'if [ -f "$_ncc_dconf_dir/nix.custom.conf" ]; then',
    to: "if false; then",
    tests: [DAEMON_TESTS],
    only: "real sudo",
  },
  {
    name: "the daemon's settings are written without sudo",
    file: ENV_DAEMON,
    from: '    sudo "$@"',
    to: '    "$@"',
    tests: [DAEMON_TESTS],
    only: "real sudo",
  },
  {
    name: "the daemon is restarted without sudo",
    file: ENV_DAEMON,
    from: 'if _ncc_as_root sh -c "$_ncc_restart" >&2; then',
    to: 'if sh -c "$_ncc_restart" >&2; then',
    tests: [DAEMON_TESTS],
    only: "real sudo",
  },
  {
    name: "AppArmor's restriction is read as off",
    file: CHROOT_PROBE,
    from: '[ "$(cat "$_ncc_aa" 2>/dev/null)" = 1 ]',
    to: '[ "$(cat "$_ncc_aa" 2>/dev/null)" = 2 ]',
    tests: [APPARMOR_TESTS],
    only: "",
  },
  {
    name: "after lifting AppArmor's restriction, no second trial build",
    file: CHROOT_PROBE,
    from: 'for the chroot store"\n    _ncc_probe && return 0',
    to: 'for the chroot store"',
    tests: [APPARMOR_TESTS],
    only: "",
  },
  {
    name: "a refused sudo counts as AppArmor's restriction lifted",
    file: CHROOT_PROBE,
    from: "sudo -n sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0 >/dev/null 2>&1; then",
    to: "{ sudo -n sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0 >/dev/null 2>&1 || :; }; then",
    tests: [APPARMOR_TESTS],
    only: "",
  },
  {
    name: "chroot mode on Nix 2.30+ keeps the build directory below a world-writable /tmp",
    file: CHROOT_PROBE,
    from: '        _ncc_add_setting "build-dir = $_ncc_build_dir"\n',
    to: "",
    tests: ["test/runtime-where.test.ts"],
    only: "build users, the checkout",
  },
  {
    name: "doctor.sh exits 0 on a blocker",
    file: DOCTOR,
    from: '[ "$blockers" -eq 0 ]',
    to: '[ "$blockers" -ge 0 ]',
    tests: [DOCTOR_TESTS],
    only: "not sourced|%20",
  },
  {
    name: "doctor.sh colours its marks with NO_COLOR set",
    file: DOCTOR,
    from: '[ -z "${NO_COLOR:-}" ]',
    to: '[ -z "" ]',
    tests: [DOCTOR_TESTS],
    only: "colours",
  },
  {
    name: "doctor.sh's list of commands lacks paste",
    file: DOCTOR_NIX,
    from: "od paste printf",
    to: "od printf",
    tests: [DOCTOR_TESTS],
    only: "missing command|lists exactly",
  },
  {
    name: "doctor.sh takes the daemon's untrusted client for trusted",
    file: DOCTOR_NIX,
    from: "*'Trusted: 0'* | *'ignoring untrusted substituter'*) ;;",
    to: "*'no such line'*) ;;",
    tests: [DOCTOR_SITES_TESTS],
    only: "untrusted user",
  },
  {
    name: "doctor.sh misses the missing build users' group",
    file: DOCTOR_NIX,
    from: `*"specified in 'build-users-group' does not exist"*)`,
    to: `*"no such line"*)`,
    tests: [DOCTOR_SITES_TESTS],
    only: "without the nixbld group",
  },
  {
    name: "doctor.sh ignores NIX_STORE_DIR",
    file: DOCTOR_NIX,
    from: 'if [ "$store_dir" != /nix/store ]; then',
    to: "if false; then",
    tests: [DOCTOR_TESTS],
    only: "NIX_STORE_DIR",
  },
  {
    name: "doctor.sh takes settings not in effect for settings in effect",
    file: DOCTOR_SETTINGS,
    from: 'if [ -z "$_ours" ]; then',
    to: "if false; then",
    tests: [DOCTOR_TESTS],
    only: "env.sh not sourced: the settings",
  },
  {
    name: "doctor.sh lets a %-escaped file:// path through",
    file: DOCTOR_SETTINGS,
    from: 'if ! _ncc_plain_path "$_p"; then',
    to: "if false; then",
    tests: [DOCTOR_TESTS],
    only: "%20",
  },
  {
    name: "doctor.sh takes a binary cache for a store that builds",
    file: DOCTOR_SETTINGS,
    from: "  case $_store in\n    *://*)",
    to: "  case $_store in\n    *:///no-such-store*)",
    tests: [DOCTOR_TESTS],
    only: "a binary cache cannot build",
  },
  {
    name: "doctor.sh misses one substitution at a time on Nix before 2.16",
    file: DOCTOR_SETTINGS,
    from: 'if [ "$_jobs" = 1 ]; then',
    to: 'if [ "$_jobs" = 0 ]; then',
    tests: [DOCTOR_TESTS],
    only: "substitution in parallel",
  },
  {
    name: "doctor.sh accepts an unsigned cache without ?trusted=1",
    file: DOCTOR_SETTINGS,
    from: "    *trusted=1*) ;;",
    to: "    *) ;;",
    tests: [DOCTOR_TESTS],
    only: "unsigned cache",
  },
  {
    name: "doctor.sh ignores the cache directory's permissions",
    file: DOCTOR_CACHE,
    from: 'if [ ! -r "$cache_cfg" ] || [ ! -w "$cache_cfg" ] || [ ! -x "$cache_cfg" ]; then',
    to: "if false; then",
    tests: [DOCTOR_SITES_TESTS],
    only: "made unreadable",
  },
  {
    name: "doctor.sh measures free disk on / instead of the cache's file system",
    file: DOCTOR_CACHE,
    from: '_c=$(free_kib "$_d")',
    to: "_c=$(free_kib /)",
    tests: [DOCTOR_TESTS],
    only: "no free disk",
  },
  {
    name: "doctor.sh takes a chroot store that cannot build for one that can",
    file: DOCTOR_CACHE,
    from: "  if _ncc_try_chroot; then",
    to: "  if true; then",
    tests: [DOCTOR_SITES_TESTS],
    only: "own /proc",
  },
  {
    name: "cli: EPIPE from a reader that went away is thrown",
    file: "src/cli.ts",
    from: 'if (error.code !== "EPIPE") throw error;',
    to: "throw error;",
    tests: [TERMINAL_TESTS],
    only: "reader",
  },
  {
    name: "cli: Ctrl-C at a question exits 2",
    file: "src/cli.ts",
    from: "return INTERRUPTED;",
    to: "return 2;",
    tests: [TERMINAL_TESTS],
    only: "Ctrl-C",
  },
  {
    name: "cli: prompts keep their colours under NO_COLOR",
    file: "src/questions.ts",
    from: "if (env.NO_COLOR) kleur.enabled = false;",
    to: "",
    tests: [TERMINAL_TESTS],
    only: "NO_COLOR",
  },
  {
    name: "cli: an unknown value gets no suggestion",
    file: "src/suggest.ts",
    from: "return best && best.d <= Math.max(1, Math.floor(best.choice.length / 3)) ? best.choice : undefined;",
    to: "return undefined;",
    tests: [NEWCOMER_TESTS],
    only: "flags",
  },
  {
    name: "cli: started in a subdirectory, it writes there",
    file: "src/root.ts",
    from: "  const top = gitTopLevel(cwd);",
    to: '  const top = existsSync(join(cwd, ".git")) ? cwd : undefined;',
    tests: [NEWCOMER_TESTS],
    only: "subdirectory",
  },
  {
    name: "cli: a write that fails midway leaves the files staged before it",
    file: "src/write.ts",
    from: "      undoStaging();\n      throw writeError(root, change.path, error);",
    to: "      throw writeError(root, change.path, error);",
    tests: [NEWCOMER_TESTS],
    only: "all or nothing",
  },
  {
    name: "cli: files generated for an earlier config stay",
    file: "src/synth.ts",
    from: "staleChanges(root, [...before.paths, ...everyTemplatePath()], wanted)",
    to: "staleChanges(root, [], wanted)",
    tests: [NEWCOMER_TESTS],
    only: "earlier config",
  },
  {
    name: "cli: a job taken out of into keeps our steps",
    file: "src/synth.ts",
    from: "if (dropped.length === 0) return rendered;",
    to: "if (dropped.length >= 0) return rendered;",
    tests: [NEWCOMER_TESTS],
    only: "taken out of into",
  },
  {
    name: "cli: init --force drops publicKey and maxSize",
    file: "src/init.ts",
    from: "...Object.fromEntries(KEPT_KEYS.map((k) => [k, previous?.raw[k]])),",
    to: "",
    tests: [NEWCOMER_TESTS],
    only: "keeps publicKey",
  },
  {
    name: "cli: no Nix expression, and the job runs nix-build",
    file: "src/config.ts",
    from: "return { value: BUILD_PLACEHOLDER, why: NO_EXPRESSION, found: false };",
    to: 'return { value: "nix-build", why: NO_EXPRESSION, found: false };',
    tests: [NEWCOMER_TESTS],
    only: "what to fill in",
  },
  {
    name: "cli: wired steps compiled at run time, which the built CLI cannot",
    file: "src/wire/index.ts",
    from: '.map((name) => (hb.partials[name] as (context: object) => string)(context))\n      .join("")',
    to: '.map((name) => hb.compile(`{{> ${name}}}`, { noEscape: true, strict: true })(context))\n      .join("")',
    tests: [TERMINAL_TESTS],
    only: "precompiled",
  },
  {
    name: "upstream: a remote that did not answer stays a substituter for the whole job",
    file: ENV_UPSTREAM,
    from: '    if [ -f "$_ncc_probe_dir/$_ncc_n" ]; then',
    to: '    if true; then',
    tests: [UPSTREAM_TESTS],
    only: "never answers",
  },
  {
    name: "upstream: a job without the push's secrets pushes",
    file: SAVE_PUSH,
    from: '  if [ -n "$missing" ]; then',
    to: "  if false; then",
    tests: [UPSTREAM_TESTS],
    only: "untrusted job",
  },
  {
    name: "upstream: the push sends nothing the directory gained",
    file: SAVE_PUSH,
    from: '  with_hashes "$tmp/closure" | without_keys 1 "$tmp/listed.before" | cut -d \' \' -f 1 >"$tmp/gained"',
    to: '  : >"$tmp/gained"',
    tests: [UPSTREAM_TESTS],
    only: "N - M uploads",
  },
  {
    name: "upstream: a failed push is forgotten",
    file: SAVE_PUSH,
    from: '    if ! { cp "$tmp/push.$n" "$pending.tmp.$$" && mv "$pending.tmp.$$" "$pending"; }; then',
    to: "    if false; then",
    tests: [UPSTREAM_TESTS],
    only: "made by the next job",
  },
  {
    name: "upstream: downloads from upstream counted as from other substituters",
    file: SAVE_CAPTURE,
    from: '  downloaded=$(($(wc -l <"$tmp/downloaded")))',
    to: '  downloaded=$(($(wc -l <"$tmp/downloaded")))\n  upstream=0',
    tests: [UPSTREAM_TESTS],
    only: "runner B, sharing only an nginx",
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
const unmutated = new Map();
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
  // Mutants that share tests share their unmutated run.
  const key = JSON.stringify([m.tests, m.only]);
  if (!unmutated.has(key)) unmutated.set(key, vitest(m, `${i}-unmutated`));
  const base = unmutated.get(key);
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
