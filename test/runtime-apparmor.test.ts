// Chroot mode where Ubuntu's AppArmor restricts unprivileged user namespaces
// (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later): env.sh
// lifts it with `sudo -n sysctl` when its trial build fails and the restriction is on.
// This kernel has no AppArmor, so the restriction is emulated: the job runs in a mount
// namespace where a directory lies over /proc/sys/kernel holding that one file. The
// cover is also what stops the trial build, for real: a mount over part of /proc
// forbids the fresh /proc that Nix's sandbox mounts in its new namespaces ("mounting
// /proc: Operation not permitted"). A fake sysctl first on PATH records its call and
// lifts the emulated restriction by unmounting the cover. sudo and Nix are real.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CI_USER, chownTree, ensureUser, grantSudo, type User } from "./support/daemon.js";
import { fakeBin, realCommand } from "./support/fakes.js";
import {
  BASE_NIX_CONFIG,
  countBuilt,
  makeProjectDir,
  type RunResult,
  requireNix,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";

/** Not the shared CI user: it gets passwordless sudo while other tests run as that one. */
const SUDOER = "ncc-aa-sudoer";
const SYSCTL = "sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0";
const LIFTED =
  "nix-ci-cache: allowed unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns=0) for the chroot store";
const STOPPED =
  'nix-ci-cache: error: mode "chroot" cannot build here: a trial build in a chroot store beside the cache failed with "error: mounting /proc: Operation not permitted". Chroot stores build only inside Nix\'s sandbox';

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

/** A chroot-mode project the user owns, the fake sysctl, and the cover saying `restricted`. */
function setup(user: User, restricted: "0" | "1") {
  const dir = makeProjectDir("apparmor");
  writeRuntime(dir, runtimeContext("chroot"));
  writeGraph(dir, uniqueTag(), 1);
  const bin = fakeBin(dirname(dir));
  bin.add(
    "sysctl",
    `if [ "$*" = '${SYSCTL.slice("sysctl ".length)}' ]; then exec ${realCommand("umount")} /proc/sys/kernel; fi\necho "sysctl: cannot set $*" >&2\nexit 255`,
    { who: true },
  );
  const cover = join(dirname(dir), "proc-sys-kernel");
  mkdirSync(cover, { mode: 0o755 });
  writeFileSync(join(cover, "apparmor_restrict_unprivileged_userns"), `${restricted}\n`, { mode: 0o644 });
  chownTree(dirname(dir), user);
  return { dir, bin, cover };
}

/** The job, as the user, in a mount namespace of its own with the cover over /proc/sys/kernel. */
function coveredJob(user: User, s: ReturnType<typeof setup>): RunResult {
  const job = ". .nix-ci-cache/env.sh || exit 90\nnix-build graph.nix -A p0 -o result >/dev/null || exit 91";
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$1" /proc/sys/kernel && cd "$2" && exec runuser -u "$3" -- /bin/sh -c "$4"',
      "sh",
      s.cover,
      s.dir,
      user.name,
      job,
    ],
    {
      env: { PATH: `${s.bin.dir}:${process.env.PATH}`, HOME: user.home, USER: user.name, NIX_CONFIG: BASE_NIX_CONFIG },
      encoding: "utf8",
    },
  );
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The job as a user with passwordless sudo (or, without, the shared CI user) under a cover saying `restricted`. */
function jobAs(sudo: boolean, restricted: "0" | "1") {
  requireNix();
  const user = ensureUser(sudo ? SUDOER : CI_USER);
  if (sudo) cleanup.push(grantSudo(user));
  const s = setup(user, restricted);
  const r = coveredJob(user, s);
  return { user, r, calls: s.bin.calls() };
}

describe("chroot mode under an emulated AppArmor restriction of user namespaces (real sudo, fake sysctl, this machine's Nix 2.8.0)", () => {
  it("restriction on, passwordless sudo: env.sh lifts it with sudo -n sysctl, says so, and the job builds in the chroot store", () => {
    const { user, r, calls } = jobAs(true, "1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split("\n")).toContain(LIFTED);
    expect(calls).toEqual([`uid=0 sudo_user=${user.name}: ${SYSCTL}`]);
    expect(countBuilt(r.stderr)).toBe(2);
  });

  it("restriction on, sudo asks for a password: env.sh stops before the first build with Nix's reason and mode: file", () => {
    const { r, calls } = jobAs(false, "1");
    expect(r.status, r.stderr).toBe(90);
    expect(r.stderr).toContain(STOPPED);
    expect(r.stderr).toContain('set "mode: file" in .nix-ci-cache/config.yaml');
    expect(r.stderr).not.toContain("allowed unprivileged user namespaces");
    expect(calls).toEqual([]);
  });

  it("restriction off (the file says 0), passwordless sudo: env.sh leaves sysctl alone and stops with Nix's reason", () => {
    const { r, calls } = jobAs(true, "0");
    expect(r.status, r.stderr).toBe(90);
    expect(r.stderr).toContain(STOPPED);
    expect(calls).toEqual([]);
  });
});
