// The platform check of env.sh. macOS is emulated: a `uname` first on PATH says Darwin.
import { dirname } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fakeBin, fakeUname } from "./support/fakes.js";
import { BASE_NIX_CONFIG, cleanEnv, makeProjectDir, removeDir, requireNix, run, writeRuntime } from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) removeDir(dirname(d));
});

function sourceEnv(mode: "file" | "chroot", uname: string) {
  const dir = makeProjectDir(mode);
  dirs.push(dir);
  writeRuntime(dir, runtimeContext(mode));
  const bin = fakeBin(dirname(dir));
  fakeUname(bin, uname);
  return run('. .nix-ci-cache/env.sh; rc=$?; printf "rc=%s\\n%s" "$rc" "$NIX_CONFIG"', {
    cwd: dir,
    env: cleanEnv({ PATH: `${bin.dir}:${process.env.PATH}` }),
  });
}

describe("env.sh platform check", () => {
  it("chroot mode on (emulated) Darwin fails with Nix's own error and what to change", () => {
    requireNix();
    const r = sourceEnv("chroot", "Darwin");
    expect(r.stdout).toMatch(/^rc=1\n/);
    expect(r.stderr).toContain("building using a diverted store is not supported on this platform");
    expect(r.stderr).toContain("mode: file");
    expect(r.stderr).toContain(".nix-ci-cache/config.yaml");
    expect(r.stderr).toContain("npx nix-ci-cache generate");
    // Nothing was changed in the caller's environment.
    expect(r.stdout).toBe(`rc=1\n${BASE_NIX_CONFIG}`);
  });

  it("file mode on (emulated) Darwin works", () => {
    requireNix();
    const r = sourceEnv("file", "Darwin");
    expect(r.stdout, r.stderr).toMatch(/^rc=0\n/);
    expect(r.stdout).toMatch(/\nextra-substituters = file:\/\/\S+\?trusted=1\nfallback = true$/);
  });

  it("chroot mode on Linux works", () => {
    requireNix();
    const r = sourceEnv("chroot", "Linux");
    expect(r.stdout, r.stderr).toMatch(/^rc=0\n/);
    expect(r.stdout).toMatch(
      /\nstore = .*\/pro ject \$chroot\/\.nix-ci-cache\/cache\/root\nsandbox-fallback = false\nfallback = true$/,
    );
  });

  it("fails clearly when nix is not on PATH", () => {
    const dir = makeProjectDir("nonix");
    dirs.push(dir);
    writeRuntime(dir, runtimeContext("file"));
    const r = run('PATH=/nonexistent; . .nix-ci-cache/env.sh; echo "rc=$?"', { cwd: dir, shell: ["/bin/dash"] });
    expect(r.stdout.trim()).toBe("rc=1");
    expect(r.stderr).toMatch(/nix is not on PATH/);
  });

  it("fails clearly outside the project root", () => {
    const dir = makeProjectDir("root");
    dirs.push(dir);
    writeRuntime(dir, runtimeContext("file"));
    const r = run('cd / && . "$P/.nix-ci-cache/env.sh"; echo "rc=$?"', { cwd: dir, env: cleanEnv({ P: dir }) });
    expect(r.stdout.trim()).toBe("rc=1");
    expect(r.stderr).toMatch(/NIX_CI_CACHE_ROOT/);
  });
});
