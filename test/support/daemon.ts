// A private nix-daemon for multi-user tests, run as root: its own NIX_CONF_DIR and
// socket (NIX_DAEMON_SOCKET_PATH), the shared /nix/store. Clients reach it with
// NIX_REMOTE=daemon and the same two variables; a non-root user in nix-users plays the
// CI user. Measured on Nix 2.8.0 (Debian nix-bin): building as root through the daemon
// needs `sandbox = false` (Debian's sandbox does not work) and either
// `build-users-group = nixbld` with that group's members (Debian creates nixbld1..10)
// or `build-users-group =` (builds then run as root); a client whose primary group is
// the build-users-group is refused.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BASE_NIX_CONFIG, type RunResult, removeDir, run } from "./nix.js";
import { atSite, HOST, type Site } from "./sites.js";

export const CI_USER = "ncc-ci";

function sh(cmd: string, site: Site = HOST): RunResult {
  return run(cmd, { env: { PATH: site.root ? "/usr/sbin:/usr/bin:/sbin:/bin" : (process.env.PATH ?? "/usr/bin:/bin") }, site });
}

/**
 * sh(cmd) until it succeeds, up to 20 times: another test run on this machine may be
 * creating the same user or group (useradd then finds it exists, or /etc/passwd
 * locked). Only for commands that check before they change.
 */
function shAgain(cmd: string, site: Site = HOST): RunResult {
  return sh(`for i in $(seq 20); do (${cmd}) && exit 0; sleep 0.2; done; exit 1`, site);
}

function must(r: RunResult, what: string): RunResult {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  return r;
}

/** Throws unless root: creating users and starting a daemon need it (CI runs these as root too). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error("the daemon tests must run as root (they start a nix-daemon and create a user)");
}

export interface User {
  name: string;
  home: string;
}

/**
 * A non-root user in group nix-users, created once (`useradd -m -G nix-users`); in a
 * Debian root too, with this machine's uid, so that files chowned here are theirs there.
 */
export function ensureUser(name = CI_USER, site: Site = HOST): User {
  requireRoot();
  must(shAgain("getent group nix-users >/dev/null || groupadd nix-users"), "groupadd nix-users");
  must(shAgain(`id -u '${name}' >/dev/null 2>&1 || useradd -m -G nix-users '${name}'`), `useradd ${name}`);
  must(shAgain(`id -nG '${name}' | tr ' ' '\\n' | grep -qx nix-users || usermod -a -G nix-users '${name}'`), "usermod");
  const home = must(sh(`getent passwd '${name}' | cut -d: -f6`), "getent passwd").stdout.trim();
  if (site.root) {
    const uid = must(sh(`id -u '${name}'`), "id").stdout.trim();
    must(shAgain("getent group nix-users >/dev/null || groupadd nix-users", site), "groupadd nix-users (root)");
    // The home is this machine's: /home is not bound into the root, so it lives in /tmp there.
    must(
      shAgain(`id -u '${name}' >/dev/null 2>&1 || useradd -u ${uid} -d /tmp/${name}-home -G nix-users '${name}'`, site),
      `useradd ${name} (root)`,
    );
    must(sh(`mkdir -p /tmp/${name}-home && chown ${uid} /tmp/${name}-home`), "home");
    return { name, home: `/tmp/${name}-home` };
  }
  return { name, home };
}

/**
 * Passwordless sudo for the user, through a drop-in in /etc/sudoers.d that visudo checked
 * first (a broken one would stop sudo for everyone); returns what removes it.
 */
export function grantSudo(user: User): () => void {
  requireRoot();
  const file = `/etc/sudoers.d/nix-ci-cache-test-${user.name}`;
  // sudo's includedir skips names with a dot: the file takes effect when renamed.
  const draft = `${file}.draft`;
  writeFileSync(
    draft,
    [
      "# Made and removed by the nix-ci-cache tests (test/support/daemon.ts).",
      // sudo would replace PATH with secure_path, and the fake systemctl, launchctl and
      // sysctl first on the job's PATH would give way to this machine's real ones.
      `Defaults:${user.name} !secure_path`,
      `${user.name} ALL=(root) NOPASSWD: ALL`,
      "",
    ].join("\n"),
    { mode: 0o440 },
  );
  const checked = sh(`visudo -c -q -f '${draft}'`);
  if (checked.status !== 0) {
    rmSync(draft, { force: true });
    throw new Error(`visudo refused the drop-in: ${checked.stdout}${checked.stderr}`);
  }
  renameSync(draft, file);
  return () => rmSync(file, { force: true });
}

/** Gives the user a directory tree (the project a job runs in). */
export function chownTree(path: string, user: User): void {
  must(run(`chown -R "$U" "$P"`, { env: { PATH: process.env.PATH ?? "", U: user.name, P: path } }), "chown");
}

// start | stop | restart. The daemon gets none of the caller's Nix variables: env.sh
// runs `restart` with its caller's NIX_CONFIG set, which the daemon would apply.
const CTL = `#!/bin/sh
set -u
d=$(cd "$(dirname "$0")" && pwd)
stop() {
  [ -f "$d/pid" ] || return 0
  pid=$(cat "$d/pid")
  kill "$pid" 2>/dev/null
  i=0
  while [ "$i" -lt 100 ]; do
    # Gone, or a zombie ("<pid> (<name>) Z ...").
    state=$(cut -d ')' -f 2 "/proc/$pid/stat" 2>/dev/null) || break
    case $state in ' Z'*) break ;; esac
    sleep 0.05
    i=$((i + 1))
  done
  rm -f "$d/pid" "$d/sock/socket"
}
start() {
  (
    unset NIX_CONFIG NIX_USER_CONF_FILES
    # The local store, said outright: on a store that does not exist yet, "auto" finds
    # no writable state directory but this daemon's own socket, and every worker then
    # connects to the daemon again (measured on 2.8: thousands of processes).
    NIX_REMOTE=local NIX_CONF_DIR=$d/conf NIX_DAEMON_SOCKET_PATH=$d/sock/socket
    export NIX_REMOTE NIX_CONF_DIR NIX_DAEMON_SOCKET_PATH
    setsid nix-daemon </dev/null >>"$d/log" 2>&1 &
    echo $! >"$d/pid"
  )
  i=0
  until [ -S "$d/sock/socket" ]; do
    [ "$i" -lt 200 ] || { echo "nix-daemon did not start: $(cat "$d/log")" >&2; exit 1; }
    sleep 0.05
    i=$((i + 1))
  done
}
case \${1:-} in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
`;

export interface Daemon {
  dir: string;
  confDir: string;
  /** the daemon's nix.conf */
  conf: string;
  socket: string;
  /** A shell command (for NIX_CI_CACHE_DAEMON_RESTART) that restarts this daemon; root only. */
  restartCommand: string;
  pid(): number;
  restart(): void;
  /** Environment of a client of this daemon: cleanEnv-like, NIX_REMOTE=daemon. */
  clientEnv(user?: User, extra?: Record<string, string>): Record<string, string>;
  /** Stops the daemon and removes its directory. */
  stop(): void;
}

export interface DaemonOptions {
  /** `trusted-users` value; "" trusts nobody, not even root. */
  trustedUsers: string;
  extraConf?: string;
  /** Where the daemon runs: this machine, or a Debian root (whose clients must run there too). */
  site?: Site;
}

function buildUsersGroup(site: Site): string {
  // nixbld with members: builds run as nixbld1...; otherwise as root.
  const r = sh("getent group nixbld | cut -d: -f4", site);
  return r.status === 0 && r.stdout.trim() !== "" ? "nixbld" : "";
}

export function startDaemon(opts: DaemonOptions): Daemon {
  requireRoot();
  const site = opts.site ?? HOST;
  const dir = mkdtempSync(join(tmpdir(), "ncc-daemon-"));
  // Clients (another user) must reach the socket below it and read nix.conf.
  chmodSync(dir, 0o755);
  const confDir = join(dir, "conf");
  const conf = join(confDir, "nix.conf");
  const socket = join(dir, "sock", "socket");
  must(sh(`mkdir -m 755 '${confDir}'`), "mkdir conf");
  writeFileSync(
    conf,
    [
      "# private test daemon",
      "substituters =",
      "sandbox = false",
      `build-users-group = ${buildUsersGroup(site)}`,
      `trusted-users = ${opts.trustedUsers}`,
      opts.extraConf ?? "",
    ].join("\n"),
    { mode: 0o644 },
  );
  const ctl = join(dir, "ctl.sh");
  writeFileSync(ctl, CTL, { mode: 0o755 });
  must(sh(`sh '${ctl}' start`, site), "starting nix-daemon");
  const daemon: Daemon = {
    dir,
    confDir,
    conf,
    socket,
    restartCommand: `sh '${ctl}' restart`,
    pid: () => Number(readFileSync(join(dir, "pid"), "utf8").trim()),
    restart: () => void must(sh(`sh '${ctl}' restart`, site), "restarting nix-daemon"),
    clientEnv(user?: User, extra: Record<string, string> = {}) {
      const env: Record<string, string> = {};
      for (const k of ["PATH", "LANG", "TMPDIR"]) {
        const v = process.env[k];
        if (v !== undefined) env[k] = v;
      }
      if (site.root) env.PATH = "/usr/sbin:/usr/bin:/sbin:/bin";
      env.HOME = user ? user.home : (process.env.HOME ?? "/root");
      env.USER = user ? user.name : "root";
      env.NIX_CONFIG = BASE_NIX_CONFIG;
      env.NIX_REMOTE = "daemon";
      env.NIX_DAEMON_SOCKET_PATH = socket;
      env.NIX_CONF_DIR = confDir;
      return { ...env, ...extra };
    },
    stop() {
      sh(`sh '${ctl}' stop`, site);
      removeDir(dir);
    },
  };
  return daemon;
}

/** Runs a shell command as the user (runuser keeps the environment given here, sets HOME). */
export function runAs(user: User, cmd: string, opts: { cwd?: string; env: Record<string, string>; site?: Site }): RunResult {
  const site = opts.site ?? HOST;
  const [program, args] = atSite(site, ["runuser", "-u", user.name, "--", "/bin/sh", "-c", cmd], opts.cwd);
  const r = spawnSync(program, args, {
    cwd: site.root ? undefined : opts.cwd,
    env: opts.env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
