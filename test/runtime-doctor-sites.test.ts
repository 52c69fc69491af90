// doctor.sh where this machine's Nix is not enough: Debian roots with Nix 2.8, 2.26 and
// 2.34 (no nixbld group; bwrap's own /proc, where chroot stores cannot build) and a
// private nix-daemon with a trusted and an untrusted user.
import { chmodSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CI_USER, chownTree, type Daemon, ensureUser, runAs, startDaemon } from "./support/daemon.js";
import { type DoctorRun, expectAllPass, expectBlocked, line } from "./support/doctor.js";
import { BASE_NIX_CONFIG, makeProjectDir, requireNix, run, uniqueTag, writeGraph, writeRuntime } from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";
import { HOST, rootSite, type Site, suites, withNewStore } from "./support/sites.js";
import { toolset } from "./support/toolsets.js";

const DOCTOR = "sh .nix-ci-cache/doctor.sh";

function lines(r: { status: number; stdout: string; stderr: string }): DoctorRun {
  return { ...r, lines: r.stdout.split("\n").filter(Boolean) };
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

for (const suite of suites()) {
  describe(`doctor.sh in a Debian ${suite} root (real Nix, the nixos/nix image's commands)`, () => {
    it("fresh machine without the nixbld group: ✗ with Nix's error before env.sh; after env.sh and a job, every check ✓", () => {
      const at = withNewStore(rootSite(suite), scratchDir("ncc-nix-"));
      const version = requireNix(at).split(" ").at(-1) as string;
      const tools = toolset("nixos/nix image");
      const env = { PATH: tools.bin, HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG };
      const dir = makeProjectDir("fresh");
      writeRuntime(dir, runtimeContext("file"));
      writeGraph(dir, uniqueTag(), 2);
      const before = lines(run(DOCTOR, { cwd: dir, env, shell: tools.shell, site: at }));
      expect(line(before, "✗", "build users: the group 'nixbld'")).toContain(
        "every build stops with \"the group 'nixbld' specified in 'build-users-group' does not exist\"",
      );
      line(before, "✓", `Nix ${version}`);
      expectBlocked(before);

      const after = lines(
        run(`. .nix-ci-cache/env.sh && nix-build graph.nix -A p1 --no-out-link && sh .nix-ci-cache/save.sh && ${DOCTOR}`, {
          cwd: dir,
          env,
          shell: tools.shell,
          site: at,
        }),
      );
      line(after, "✓", "build users: none");
      expectAllPass(after);
    });

    it("chroot mode under bwrap's own /proc (as in containers): ✗ chroot mode cannot build here; file mode there says it needs none", () => {
      const at = withNewStore(rootSite(suite, "new"), scratchDir("ncc-nix-"));
      const tools = toolset("nixos/nix image");
      const env = { PATH: tools.bin, HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG };
      const dir = makeProjectDir("proc");
      writeRuntime(dir, runtimeContext("chroot"));
      const chroot = lines(run(DOCTOR, { cwd: dir, env, shell: tools.shell, site: at }));
      expect(line(chroot, "✗", 'chroot mode: cannot build here: a trial build in a chroot store failed with "error: ')).toContain(
        "container without the privileges to create namespaces",
      );
      expectBlocked(chroot);

      writeRuntime(dir, runtimeContext("file"));
      const file = lines(run(`. .nix-ci-cache/env.sh && ${DOCTOR}`, { cwd: dir, env, shell: tools.shell, site: at }));
      line(file, "✓", 'file mode: needs no chroot store (one would not work here: "error: ');
    });
  });
}

for (const siteName of ["host", ...suites()]) {
  describe(`doctor.sh with a private nix-daemon (real Nix ${siteName === "host" ? "of this machine" : `in a Debian ${siteName} root`})`, () => {
    const at = (): Site => (siteName === "host" ? HOST : withNewStore(rootSite(siteName), scratchDir("ncc-nix-")));
    const setup = (trustedUsers: string, site: Site) => {
      requireNix(site);
      const user = ensureUser(undefined, site);
      const d: Daemon = startDaemon({ trustedUsers, site });
      cleanup.push(() => d.stop());
      const dir = makeProjectDir("daemon");
      writeRuntime(dir, runtimeContext("file"));
      mkdirSync(join(dir, CACHE), { recursive: true });
      chownTree(dirname(dir), user);
      return { user, d, dir };
    };

    it("untrusted user: ✗ trusted: no, naming the daemon's nix.conf and the restart", () => {
      const site = at();
      const { user, d, dir } = setup("root", site);
      const r = lines(runAs(user, DOCTOR, { cwd: dir, env: d.clientEnv(user), site }));
      line(r, "✓", "Nix store: multi-user, through the daemon");
      expect(line(r, "✗", `trusted: no, the Nix daemon does not trust user ${user.name}`)).toContain(
        `add ${user.name} to trusted-users in ${d.conf}`,
      );
      expectBlocked(r);
    });

    it("trusted user: ✓ trusted; the cache directory made unreadable: ✗ Permission denied, with the chown", () => {
      const site = at();
      const { user, d, dir } = setup(`root ${CI_USER}`, site);
      const env = d.clientEnv(user);
      const ok = lines(runAs(user, `. .nix-ci-cache/env.sh && ${DOCTOR}`, { cwd: dir, env, site }));
      line(ok, "✓", `trusted: yes, user ${user.name} is a trusted user of the daemon`);
      line(ok, "✓", "cache directory");
      chmodSync(join(dir, CACHE), 0o000);
      const r = lines(runAs(user, `. .nix-ci-cache/env.sh; ${DOCTOR}`, { cwd: dir, env, site }));
      expect(line(r, "✗", "cache directory")).toContain(`user ${user.name} cannot read and write it`);
      expect(line(r, "✗", "cache directory")).toContain(`chown -R ${user.name}`);
      expectBlocked(r);
    });
  });
}
