// The multi-user (daemon) path of env.sh, against a real private nix-daemon: an
// untrusted client's extra-substituters and post-build-hook never reach the daemon, so
// env.sh either finds them in the daemon's nix.conf, writes them there and restarts the
// daemon, or fails naming the lines, the file and the restart command.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chownTree, type Daemon, ensureUser, grantSudo, runAs, startDaemon, type User } from "./support/daemon.js";
import { fakeBin, fakeUname } from "./support/fakes.js";
import {
  BASE_NIX_CONFIG,
  countBuilt,
  deleteGraph,
  escapeRegExp,
  type Graph,
  graphBuildArgs,
  graphStorePaths,
  makeProjectDir,
  readText,
  removeDir,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { scratchDir } from "./support/scratch.js";
import { HOST, rootSite, type Site, suites, withNewStore } from "./support/sites.js";

/** Where the daemon and its clients run: this machine's Nix, or a Debian root's with a new store. */
let at: Site = HOST;

const N = 3; // packages; with the toolchain N + 1 derivations are built
/** The user that gets passwordless sudo, not the shared CI user: other tests run as that one meanwhile. */
const SUDOER = "ncc-sudoer";
const BLOCK_START = "# >>> nix-ci-cache";

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

function project(label: string, plain = false): { dir: string; g: Graph } {
  let dir: string;
  if (plain) {
    dir = join(mkdtempSync(join(tmpdir(), "ncc-test-")), "proj");
    mkdirSync(dir);
  } else {
    dir = makeProjectDir(label);
  }
  const tag = uniqueTag();
  // capture "built": the only policy that installs the post-build hook, which these tests follow into the daemon.
  writeRuntime(dir, runtimeContext("file", undefined, undefined, { capture: "built" }));
  const g = writeGraph(dir, tag, N);
  cleanup.push(() => {
    for (const n of existsSync(dir) ? readdirSync(dir) : []) if (n.startsWith("result")) rmSync(join(dir, n));
    deleteGraphSoon(tag);
    removeDir(dirname(dir));
  });
  return { dir, g };
}

function daemon(trustedUsers: string, extraConf?: string): Daemon {
  const d = startDaemon({ trustedUsers, extraConf, site: at });
  cleanup.push(() => d.stop());
  return d;
}

const JOB = (g: Graph) =>
  `. .nix-ci-cache/env.sh || exit 90\nnix-build graph.nix ${graphBuildArgs(g)} -o result || exit 91\n.nix-ci-cache/save.sh || exit 92`;

/**
 * deleteGraph, retried: a daemon worker that served the job may still be exiting, and
 * Nix counts the store paths a live process holds as roots.
 */
function deleteGraphSoon(tag: string): void {
  for (let i = 0; ; i++) {
    try {
      deleteGraph(tag, at);
      return;
    } catch (e) {
      if (i >= 20) throw e;
      run("sleep 0.1");
    }
  }
}

function removeResults(dir: string): void {
  for (const n of readdirSync(dir)) if (n.startsWith("result")) rmSync(join(dir, n));
}

function hookRecords(dir: string): string[] {
  return readText(join(dir, ".nix-ci-cache/state/built")).split("\n").filter(Boolean);
}

/** Graph paths (outputs, toolchain, busybox source) without a narinfo in the cache. */
function uncached(dir: string, g: Graph): string[] {
  // capture "built" keeps what was built with its run-time closure: not the busybox source, a build-time-only input.
  const paths = graphStorePaths(g.tag, at).filter((p) => !p.endsWith(".drv") && !p.includes("-busybox-src-"));
  expect(paths).toHaveLength(N + 1);
  const cache = join(dir, ".nix-ci-cache/cache");
  return paths.filter((p) => !existsSync(join(cache, `${p.slice("/nix/store/".length).split("-")[0]}.narinfo`)));
}

for (const siteName of ["host", ...suites()]) {
  describe(`env.sh with a nix-daemon (real Nix ${siteName === "host" ? "of this machine" : `in a Debian ${siteName} root`}, private daemon)`, () => {
    beforeEach(() => {
      at = siteName === "host" ? HOST : withNewStore(rootSite(siteName), scratchDir("ncc-nix-"));
    });

    it("untrusted user without root or sudo: fails naming the file, the exact lines and the restart; configures nothing; those lines then work", () => {
      requireNix(at);
      const user = ensureUser(undefined, at);
      const d = daemon("root");
      const { dir, g } = project("untrusted");
      chownTree(dirname(dir), user);
      const confBefore = readText(d.conf);
      const env = d.clientEnv(user);

      const r = runAs(
        user,
        `. .nix-ci-cache/env.sh; rc=$?; printf 'rc=%s\\n' "$rc"; printf 'NIX_CONFIG=%s|\\n' "$NIX_CONFIG"; printf 'DIR=%s\\n' "\${NIX_CI_CACHE_DIR:-unset}"`,
        { cwd: dir, env, site: at },
      );
      expect(r.stdout).toMatch(/^rc=[1-9]/m);
      expect(r.stdout).toContain(`NIX_CONFIG=${BASE_NIX_CONFIG}|`);
      expect(r.stdout).toContain("DIR=unset");
      expect(r.stderr).toContain(`does not trust user '${user.name}'`);
      expect(r.stderr).toContain(`add these lines to ${d.conf}:`);
      expect(r.stderr).toContain("restart the daemon: systemctl restart nix-daemon");
      const lines = r.stderr.split("\n").filter((l) => /^(extra-substituters|post-build-hook|fallback) = /.test(l));
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^extra-substituters = file:\/\/\S+\?trusted=1$/);
      expect(lines[1]).toBe(`post-build-hook = ${dir}/.nix-ci-cache/hook.sh`);
      expect(lines[2]).toBe("fallback = true");
      // Nothing half-done: the daemon's file untouched, no job state.
      expect(readText(d.conf)).toBe(confBefore);
      expect(existsSync(join(dir, ".nix-ci-cache/state/started"))).toBe(false);
      expect(existsSync(join(dir, ".nix-ci-cache/state/daemon-conf"))).toBe(false);

      // An administrator does exactly what the message says: the same user's job then
      // works, and the hook (root, in the daemon) records the builds.
      writeFileSync(d.conf, `${confBefore}\n${lines.join("\n")}\n`);
      d.restart();
      const j = runAs(user, JOB(g), { cwd: dir, env, site: at });
      expect(j.status, j.stderr).toBe(0);
      expect(j.stderr).toContain(`the cache settings are in its ${d.conf}`);
      expect(j.stderr).not.toMatch(/ignoring untrusted substituter/);
      expect(countBuilt(j.stderr)).toBe(N + 1);
      expect(hookRecords(dir)).toHaveLength(N + 1);
      expect(uncached(dir, g)).toEqual([]);
    });

    it("trusted user: settings via NIX_CONFIG without root; the hook runs as root, save.sh as the user reads its queue; warm run builds nothing", () => {
      requireNix(at);
      const user = ensureUser(undefined, at);
      const d = daemon(`root ${user.name}`);
      const { dir, g } = project("trusted");
      chownTree(dirname(dir), user);
      const confBefore = readText(d.conf);
      const env = d.clientEnv(user);

      const cold = runAs(user, JOB(g), { cwd: dir, env, site: at });
      expect(cold.status, cold.stderr).toBe(0);
      expect(cold.stderr).toMatch(/settings via NIX_CONFIG/);
      expect(cold.stderr).not.toMatch(/ignoring untrusted substituter/);
      expect(countBuilt(cold.stderr)).toBe(N + 1);
      // The hook ran under the daemon (root) and appended to the user's queue file.
      const records = hookRecords(dir);
      expect(records).toHaveLength(N + 1);
      for (const rec of records) expect(rec).toMatch(new RegExp(`^/nix/store/\\S+-${g.tag}\\.drv`));
      expect(statSync(join(dir, ".nix-ci-cache/state/built")).uid).not.toBe(0);
      // The store is shared: other processes' new paths may be saved too.
      expect(cold.stderr).toMatch(/saved \d+ new paths/);
      expect(uncached(dir, g)).toEqual([]);
      expect(readText(d.conf)).toBe(confBefore);

      removeResults(dir);
      deleteGraphSoon(g.tag);
      const warm = runAs(user, JOB(g), { cwd: dir, env, site: at });
      expect(warm.status, warm.stderr).toBe(0);
      expect(countBuilt(warm.stderr), warm.stderr).toBe(0);
      expect(warm.stderr).toMatch(/copying path .* from 'file:\/\//);
      expect(warm.status).toBe(0); // save.sh ran; what it saved depends on other users of the store
    });

    it("root the daemon does not trust: writes one marked block, restarts the daemon; the untrusted user's warm run substitutes", () => {
      requireNix(at);
      const user = ensureUser(undefined, at);
      // trusted-users empty: not even root is trusted, so root takes the daemon path.
      // A stale block (another checkout on a reused runner) must be replaced.
      const d = daemon(
        "",
        `max-jobs = 2\n${BLOCK_START} (added by .nix-ci-cache/env.sh)\npost-build-hook = /old/checkout/hook.sh\n# <<< nix-ci-cache\n`,
      );
      // A plain path: root and the user then compute the same lines (no per-user link).
      const { dir, g } = project("root", true);
      const rootEnv = d.clientEnv(undefined, { NIX_CI_CACHE_DAEMON_RESTART: d.restartCommand });

      const pid0 = d.pid();
      const first = run(". .nix-ci-cache/env.sh", { cwd: dir, env: rootEnv, site: at });
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toContain(`wrote the cache settings to ${d.conf} and restarted it`);
      const pid1 = d.pid();
      expect(pid1).not.toBe(pid0);
      const conf1 = readText(d.conf);
      expect(conf1.split(BLOCK_START)).toHaveLength(2);
      expect(conf1).not.toContain("/old/checkout");
      expect(conf1).toContain("max-jobs = 2\n");
      expect(conf1).toContain(`post-build-hook = ${dir}/.nix-ci-cache/hook.sh\n`);
      expect(conf1).toMatch(/^extra-substituters = file:\/\/\S+\?trusted=1$/m);
      expect(readText(join(dir, ".nix-ci-cache/state/daemon-conf")).trim()).toBe(d.conf);

      // Again (a new job): nothing to write, no restart.
      const second = run(". .nix-ci-cache/env.sh", { cwd: dir, env: rootEnv, site: at });
      expect(second.status, second.stderr).toBe(0);
      expect(readText(d.conf)).toBe(conf1);
      expect(d.pid()).toBe(pid1);

      // Cold job as root, whose own settings the daemon ignores: the daemon's hook records.
      const cold = run(JOB(g), { cwd: dir, env: rootEnv, site: at });
      expect(cold.status, cold.stderr).toBe(0);
      expect(cold.stderr).not.toMatch(/ignoring untrusted substituter/);
      expect(countBuilt(cold.stderr)).toBe(N + 1);
      expect(hookRecords(dir)).toHaveLength(N + 1);
      expect(uncached(dir, g)).toEqual([]);

      // The untrusted user, warm, in the same checkout: substitutes through the daemon.
      chownTree(dirname(dir), user);
      removeResults(dir);
      deleteGraphSoon(g.tag);
      const warm = runAs(user, JOB(g), { cwd: dir, env: d.clientEnv(user), site: at });
      expect(warm.status, warm.stderr).toBe(0);
      expect(warm.stderr).toContain(`the cache settings are in its ${d.conf}`);
      expect(countBuilt(warm.stderr), warm.stderr).toBe(0);
      expect(warm.stderr).toMatch(/copying path .* from 'file:\/\//);
      expect(readText(d.conf)).toBe(conf1);
    });
  });
}

// The daemon's init system, emulated: a fake systemctl (Linux), or a fake uname saying
// Darwin and a fake launchctl (macOS), that record their calls and restart the private
// daemon only when named the service this installation has, as the real ones would.
interface Install {
  os: "Linux" | "Darwin";
  /** Determinate Nix: nix.conf includes nix.custom.conf, which holds the user's settings. */
  determinate: boolean;
}

const INSTALLS: Install[] = [
  { os: "Linux", determinate: false },
  { os: "Linux", determinate: true },
  { os: "Darwin", determinate: false },
  { os: "Darwin", determinate: true },
];

/** The restart env.sh must ask for, and the file it must write. */
function expected(i: Install): { restart: string; file: string } {
  const label = i.determinate ? "systems.determinate.nix-daemon" : "org.nixos.nix-daemon";
  return {
    restart: i.os === "Darwin" ? `launchctl kickstart -k system/${label}` : "systemctl restart nix-daemon",
    file: i.determinate ? "nix.custom.conf" : "nix.conf",
  };
}

function installName(i: Install): string {
  return `${i.os === "Darwin" ? "emulated macOS (launchd)" : "Linux (emulated systemd)"}, ${i.determinate ? "Determinate Nix (nix.custom.conf)" : "nix.conf"}`;
}

/** A private daemon as installation `i` has it, its init system's fake commands, and a project the user owns. */
function installation(i: Install, user: User, label: string) {
  const d = daemon("root", i.determinate ? "!include nix.custom.conf" : undefined);
  if (i.determinate)
    writeFileSync(join(d.confDir, "nix.custom.conf"), "# this machine's own settings\nmax-jobs = 2\n", { mode: 0o644 });
  const { dir, g } = project(label);
  const bin = fakeBin(dirname(dir));
  const restart = expected(i).restart;
  const [command, ...args] = restart.split(" ");
  bin.add(
    command as string,
    `if [ "$*" = '${args.join(" ")}' ]; then exec ${d.restartCommand}; fi\necho "${command}: no such service: $*" >&2\nexit 5`,
    { who: true },
  );
  if (i.os === "Darwin") fakeUname(bin, "Darwin");
  chownTree(dirname(dir), user);
  const env = d.clientEnv(user, { PATH: `${bin.dir}:${process.env.PATH}` });
  const files = () => ({
    conf: readText(d.conf),
    custom: existsSync(join(d.confDir, "nix.custom.conf")) ? readText(join(d.confDir, "nix.custom.conf")) : "(none)",
  });
  return { d, dir, g, bin, env, files, target: join(d.confDir, expected(i).file) };
}

describe("env.sh configures the daemon through real sudo; systemd and launchd emulated (this machine's Nix 2.8.0, private daemon)", () => {
  beforeEach(() => {
    at = HOST;
  });

  for (const i of INSTALLS) {
    const { restart, file } = expected(i);
    it(`${installName(i)}: a user with passwordless sudo: the settings go to ${file} through sudo, "${restart}" restarts the daemon, whose hook and substituter then work`, () => {
      requireNix();
      const user = ensureUser(SUDOER);
      cleanup.push(grantSudo(user));
      const { d, dir, g, bin, env, files, target } = installation(i, user, "sudo");
      const before = files();
      const pid0 = d.pid();

      const cold = runAs(user, JOB(g), { cwd: dir, env });
      expect(cold.status, cold.stderr).toBe(0);
      expect(cold.stderr).toContain(
        `the Nix daemon does not trust user '${user.name}': wrote the cache settings to ${target} and restarted it (${restart})`,
      );
      // Once, as root, through the user's sudo.
      expect(bin.calls()).toEqual([`uid=0 sudo_user=${user.name}: ${restart}`]);
      expect(d.pid()).not.toBe(pid0);
      const written = readText(target);
      expect(written).toMatch(
        new RegExp(
          `\n# >>> nix-ci-cache \\(added by \\.nix-ci-cache/env\\.sh\\)\nextra-substituters = file://\\S+\\?trusted=1\npost-build-hook = ${escapeRegExp(dir)}/\\.nix-ci-cache/hook\\.sh\nfallback = true\n# <<< nix-ci-cache\n$`,
        ),
      );
      // What was there stays; the other file is untouched.
      const now = files();
      if (i.determinate) {
        expect(now.conf).toBe(before.conf);
        expect(written.startsWith(before.custom)).toBe(true);
      } else {
        expect(now.custom).toBe("(none)");
        expect(written.startsWith(before.conf)).toBe(true);
      }
      expect(statSync(target).uid).toBe(0);
      expect(statSync(target).mode & 0o777).toBe(0o644);
      // The daemon ran the hook (as root), which it drops for an untrusted client unless its own file names it.
      expect(countBuilt(cold.stderr)).toBe(N + 1);
      expect(hookRecords(dir)).toHaveLength(N + 1);
      expect(uncached(dir, g)).toEqual([]);

      // The next job: the settings are there, no sudo, no restart; the daemon substitutes from the cache.
      bin.clear();
      removeResults(dir);
      deleteGraphSoon(g.tag);
      const pid1 = d.pid();
      const warm = runAs(user, JOB(g), { cwd: dir, env });
      expect(warm.status, warm.stderr).toBe(0);
      expect(warm.stderr).toContain(`the cache settings are in its ${target}`);
      expect(countBuilt(warm.stderr), warm.stderr).toBe(0);
      expect(warm.stderr).toMatch(/copying path .* from 'file:\/\//);
      expect(bin.calls()).toEqual([]);
      expect(d.pid()).toBe(pid1);
    });

    it(`${installName(i)}: a user whose sudo asks for a password: fails naming the lines, ${file} and "${restart}"; runs nothing as root`, () => {
      requireNix();
      const user = ensureUser();
      // sudo is there and refuses: the branch under test is not "no sudo".
      const sudo = runAs(user, "sudo -n true", { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
      expect(sudo.status).not.toBe(0);
      expect(sudo.stderr).toContain("a password is required");
      const { dir, bin, env, files, target } = installation(i, user, "nosudo");
      const before = files();

      const r = runAs(user, '. .nix-ci-cache/env.sh; echo "rc=$?"', { cwd: dir, env });
      expect(r.stdout.trim()).toBe("rc=1");
      expect(r.stderr).toContain(
        `this user can neither write ${target} nor run sudo without a password. As root, add these lines to ${target}:\nextra-substituters = file://`,
      );
      expect(r.stderr).toMatch(
        new RegExp(
          `:\nextra-substituters = file://\\S+\\?trusted=1\npost-build-hook = ${escapeRegExp(dir)}/\\.nix-ci-cache/hook\\.sh\nfallback = true\nand restart the daemon: ${escapeRegExp(restart)}\n`,
        ),
      );
      expect(bin.calls()).toEqual([]);
      expect(files()).toEqual(before);
    });
  }
});
