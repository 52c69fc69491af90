// doctor.sh on this machine's real Nix 2.8.0: a healthy setup passes every check under
// each shell and tool set; each broken setup fails the one check that answers it, with
// the error Nix would print and the fix, and exit 1.
import { readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Mode } from "../src/model.js";
import { runCli } from "./support/cli.js";
import { expectAllPass, expectBlocked, line, runDoctor } from "./support/doctor.js";
import { fakeBin, fakeUname } from "./support/fakes.js";
import {
  BASE_NIX_CONFIG,
  cleanEnv,
  deleteGraph,
  makeProjectDir,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";
import { documentedCommands, type ToolsetName, toolset } from "./support/toolsets.js";

const tags: string[] = [];
afterAll(() => {
  for (const t of tags) deleteGraph(t);
});

/** A project that ran one job: built, saved. */
function healthy(mode: Mode, label = "healthy"): string {
  requireNix();
  const dir = makeProjectDir(label);
  writeRuntime(dir, runtimeContext(mode));
  const tag = uniqueTag();
  tags.push(tag);
  writeGraph(dir, tag, 2);
  const r = run(". .nix-ci-cache/env.sh && nix-build graph.nix -A p1 --no-out-link && sh .nix-ci-cache/save.sh", {
    cwd: dir,
    env: cleanEnv(),
  });
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

const SOURCED = ". .nix-ci-cache/env.sh || exit 90";
const SHELLS: Record<string, string[]> = { dash: ["/bin/dash"], bash: ["/bin/bash"], "busybox sh": ["/bin/busybox", "sh"] };
const TOOLSETS: ToolsetName[] = ["nixos/nix image", "busybox", "documented commands"];

describe("doctor.sh on a healthy setup (real Nix of this machine)", () => {
  for (const mode of ["file", "chroot"] as const) {
    const dir = () => healthy(mode);
    for (const [name, shell] of Object.entries(SHELLS)) {
      it(`${mode} mode, ${name}: every check ✓ after env.sh, exit 0`, () => {
        const d = runDoctor(dir(), { before: SOURCED, shell, env: cleanEnv() });
        expectAllPass(d);
        line(d, "✓", "last save: 0 min ago, added");
      });
    }
    for (const tools of TOOLSETS) {
      it(`${mode} mode, ${tools}'s commands only: every check ✓`, () => {
        const t = toolset(tools);
        const d = runDoctor(dir(), {
          before: SOURCED,
          shell: t.shell,
          env: { PATH: t.bin, HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG },
        });
        expectAllPass(d);
      });
    }
  }

  it("lists exactly the commands of docs/where-it-runs.md", () => {
    const text = readFileSync(join(healthy("file", "list"), ".nix-ci-cache/doctor.sh"), "utf8");
    const list = /for _c in ([a-z ]+); do/.exec(text)?.[1]?.split(" ");
    expect(list).toEqual(documentedCommands());
  });

  it("colours its marks on a terminal, not with NO_COLOR, not into a pipe", () => {
    const dir = healthy("file", "colour");
    const tty = (extra: string) =>
      run(`${SOURCED}\n${extra} script -qec 'sh .nix-ci-cache/doctor.sh' /dev/null`, { cwd: dir, env: cleanEnv() }).stdout;
    expect(tty("")).toContain("\x1b[32m✓\x1b[0m commands");
    expect(tty("NO_COLOR=1")).not.toContain("\x1b[");
    expect(runDoctor(dir, { before: SOURCED }).stdout).not.toContain("\x1b[");
  });
});

describe("doctor.sh on a broken setup: the ✗ line names the error and the fix, exit 1 (real Nix of this machine)", () => {
  it("env.sh not sourced: the settings are not in effect", () => {
    const d = runDoctor(healthy("file", "unsourced"));
    expect(line(d, "✗", "settings not in effect: the cache")).toContain("source .nix-ci-cache/env.sh in this shell");
    expectBlocked(d);
  });

  it("chroot mode, env.sh not sourced: Nix's store is not the chroot store", () => {
    const d = runDoctor(healthy("chroot", "unsourced"));
    line(d, "✗", "settings not in effect: Nix's store is 'auto', not the chroot store");
    expectBlocked(d);
  });

  it("chroot mode, PATH without the wrappers: nix-shell would fail as in the seed", () => {
    const d = runDoctor(healthy("chroot", "wrappers"), { before: `${SOURCED}\nPATH=\${PATH#*/.nix-ci-cache/bin:}` });
    expect(line(d, "✗", "settings: nix-shell is")).toContain("executing shell '/nix/store/…bash…': No such file or directory");
    expectBlocked(d);
  });

  const substituter = (label: string, url: (cache: string) => string) => {
    const dir = healthy("file", label);
    const env = cleanEnv({ NIX_CONFIG: `${BASE_NIX_CONFIG}\nextra-substituters = ${url(join(dir, CACHE))}` });
    return runDoctor(dir, { before: SOURCED, env });
  };

  it("a file:// URL with %20 for a space", () => {
    const d = substituter("percent", () => "file:///tmp/a%20b?trusted=1");
    expect(line(d, "✗", "settings: substituter 'file:///tmp/a%20b?trusted=1'")).toContain("Nix keeps %-escapes");
    expectBlocked(d);
  });

  it("a file:// URL with a space, which Nix splits in two", () => {
    const d = substituter("space", () => "file:///tmp/a b");
    expect(line(d, "✗", "settings: substituter 'b' is not a store URL")).toContain("don't know how to open Nix store");
    expectBlocked(d);
  });

  it("a file:// URL with a relative path", () => {
    const d = substituter("relative", () => "file://.nix-ci-cache/cache");
    line(d, "✗", "settings: substituter 'file://.nix-ci-cache/cache' has a relative path");
    expectBlocked(d);
  });

  it("store = file://…: a binary cache cannot build", () => {
    const dir = healthy("file", "store");
    const store = `file://${scratchDir("ncc-binary-")}`;
    const d = runDoctor(dir, { before: `${SOURCED}\nNIX_CONFIG="$NIX_CONFIG\nstore = ${store}"` });
    expect(line(d, "✗", `settings: store = ${store}`)).toContain("unable to build with a primary store that isn't a local store");
    expectBlocked(d);
  });

  it("an unsigned cache without ?trusted=1: Nix refuses every entry", () => {
    const dir = healthy("file", "unsigned");
    // env.sh's own lines, its link to the cache included, without "?trusted=1".
    const d = runDoctor(dir, { before: `${SOURCED}\nNIX_CONFIG="\${NIX_CONFIG%%\\?trusted=1*}\${NIX_CONFIG#*\\?trusted=1}"` });
    expect(line(d, "✗", "settings: the cache is unsigned")).toContain("lacks a signature by a trusted key");
    expectBlocked(d);
  });

  it("NIX_STORE_DIR set, as in the seed", () => {
    const d = runDoctor(healthy("file", "storedir"), { before: `${SOURCED}\nexport NIX_STORE_DIR=/tmp/ncc-store` });
    expect(line(d, "✗", "NIX_STORE_DIR=/tmp/ncc-store")).toContain("path '/nix/store/' is not in the Nix store");
    expectBlocked(d);
  });

  it("a missing command on a restricted PATH (the documented commands without paste)", () => {
    const t = toolset("documented commands");
    unlinkSync(join(t.bin, "paste"));
    const d = runDoctor(healthy("file", "tools"), {
      before: SOURCED,
      shell: t.shell,
      env: { PATH: t.bin, HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG },
    });
    line(d, "✗", "commands: missing: paste");
    expectBlocked(d);
  });

  it("no free disk: the cache directory on a full 1 MiB tmpfs (a real tmpfs, in a mount namespace of its own)", () => {
    const dir = healthy("file", "disk");
    const d = runDoctor(dir, {
      before: `${SOURCED}\nexec unshare --mount --propagation private sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" && head -c 2000000 /dev/zero >"$1/fill" 2>/dev/null; sh .nix-ci-cache/doctor.sh' sh "$(pwd -P)/${CACHE}"`,
    });
    expect(line(d, "✗", "free disk: ")).toContain('saves fail with "No space left on device"');
    expectBlocked(d);
  });

  it("chroot mode on macOS (emulated: uname says Darwin): a diverted store is refused", () => {
    const dir = healthy("chroot", "darwin");
    const bin = fakeBin(scratchDir("ncc-fake-"));
    fakeUname(bin, "Darwin");
    const d = runDoctor(dir, { env: cleanEnv({ PATH: `${bin.dir}:${process.env.PATH}` }) });
    line(d, "✗", 'chroot mode: not on Darwin: Nix refuses ("building using a diverted store is not supported on this platform")');
    expectBlocked(d);
  });
});

describe("warnings alone do not block", () => {
  it("a new checkout after env.sh: no save recorded yet is a !, exit 0", () => {
    requireNix();
    const dir = makeProjectDir("nosave");
    writeRuntime(dir, runtimeContext("file"));
    // max-jobs above 1: no warning about one substitution at a time on Nix before 2.16.
    const d = runDoctor(dir, { before: SOURCED, env: cleanEnv({ NIX_CONFIG: `${BASE_NIX_CONFIG}\nmax-jobs = 2` }) });
    line(d, "!", "last save: none recorded");
    expect(d.lines.at(-1)).toBe("nix-ci-cache doctor: 0 blocker(s), 1 warning(s)");
    expect(d.status).toBe(0);
  });
});

describe("substitution in parallel", () => {
  it("Nix before 2.16 with max-jobs 1 (its default) gets a ! about one substitution at a time; max-jobs 4 a ✓; Nix 2.16 and later no line", () => {
    requireNix();
    const dir = makeProjectDir("substitution");
    writeRuntime(dir, runtimeContext("file"));
    const version = run("nix --version").stdout.trim().split(" ").at(-1) as string;
    const [major, minor] = version.split(".").map(Number) as [number, number];
    const slow = runDoctor(dir, { before: SOURCED });
    const four = runDoctor(dir, { before: SOURCED, env: cleanEnv({ NIX_CONFIG: `${BASE_NIX_CONFIG}\nmax-jobs = 4` }) });
    if (major === 2 && minor < 16) {
      expect(line(slow, "!", `substitution: Nix ${version} runs one substitution at a time while max-jobs is 1`)).toContain(
        "set max-jobs = auto",
      );
      line(four, "✓", `substitution: up to 4 at once (max-jobs; Nix ${version} has no max-substitution-jobs)`);
    } else {
      for (const d of [slow, four]) expect(d.stdout).not.toMatch(/^. substitution:/m);
    }
    expect(slow.status).toBe(four.status);
  });
});

describe("npx nix-ci-cache doctor", () => {
  it("runs the same checks in memory and passes the exit status through, with and without a config", async () => {
    const dir = healthy("file", "cli");
    writeFileSync(join(dir, ".nix-ci-cache/config.yaml"), "providers: [github]\nkeyFiles: []\nbuild: nix-build\nmaxSize: 4G\n");
    const sh = runDoctor(dir);
    const cli = await runCli(dir, ["doctor"], cleanEnv());
    expect(cli.code).toBe(1);
    expect(cli.stdout).toBe(sh.stdout.trimEnd());
    rmSync(join(dir, ".nix-ci-cache"), { recursive: true });
    const bare = await runCli(dir, ["doctor"], cleanEnv());
    expect(bare.stdout).toContain("✗ settings not in effect");
    expect(bare.stdout).toContain("! cache directory");
    expect(bare.code).toBe(1);
  });
});
