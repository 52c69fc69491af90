// Cold run → provider archive/restore → warm run, against real Nix, for both modes.
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  cleanEnv,
  countBuilt,
  deleteGraph,
  graphBuildArgs,
  isValid,
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
import { CACHE, carryCache } from "./support/save.js";

function freshCheckout(dir: string, mode: "file" | "chroot", tag: string) {
  writeRuntime(dir, runtimeContext(mode));
  return writeGraph(dir, tag);
}

function job(dir: string, buildCmd: string) {
  const env = cleanEnv();
  const r = run(`. .nix-ci-cache/env.sh || exit 90\n${buildCmd} >outs || exit 91\n.nix-ci-cache/save.sh || exit 92`, {
    cwd: dir,
    env,
  });
  return { ...r, outs: r.status === 0 ? readText(join(dir, "outs")).trim().split("\n") : [] };
}

function contents(storeRoot: string, outs: string[]): string[] {
  return outs.map((o) => readText(join(storeRoot, o, "share", "data")) + readText(join(storeRoot, o, "share", "deps")));
}

describe("runtime scripts end to end (real Nix)", () => {
  it("file mode: cold build fills the cache, warm run after restore builds nothing", () => {
    requireNix();
    const tag = uniqueTag();
    const cold = makeProjectDir("cold");
    const warm = join(dirname(cold), "warm checkout $x");
    try {
      const g = freshCheckout(cold, "file", tag);
      // Out links are the GC roots that keep the cold outputs alive until we delete them.
      const r1 = job(cold, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r1.status, r1.stderr).toBe(0);
      expect(countBuilt(r1.stderr)).toBe(13);
      expect(r1.stderr).toMatch(/saved 14 new paths/);
      const coldContents = contents("/", r1.outs);
      const toolchain = readdirSync("/nix/store").find((n) => n.endsWith(`-toolchain-${tag}`));
      expect(toolchain).toBeDefined();

      // Saving again adds nothing, and says so to GitHub, whose own save is then skipped.
      const output = join(dirname(cold), "github output");
      const again = run(".nix-ci-cache/save.sh", { cwd: cold, env: cleanEnv({ GITHUB_OUTPUT: output }) });
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/saved 0 new paths \(0 KiB\)/);
      expect(readText(output)).toBe("added=0\n");

      // Everything from the toolchain's closure is cached too (build-time deps).
      const narinfos = readdirSync(join(cold, CACHE)).filter((n) => n.endsWith(".narinfo"));
      expect(narinfos.length).toBe(12 + 2); // packages, toolchain, busybox source

      carryCache(cold, warm);
      freshCheckout(warm, "file", tag);
      for (const n of readdirSync(cold)) if (n.startsWith("result")) rmSync(join(cold, n));
      deleteGraph(tag);

      const r2 = job(warm, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r2.status, r2.stderr).toBe(0);
      expect(countBuilt(r2.stderr)).toBe(0);
      expect(r2.stderr).toMatch(/copying path .* from 'file:\/\//);
      expect(r2.outs).toEqual(r1.outs);
      expect(contents("/", r2.outs)).toEqual(coldContents);
      // Substituting the outputs never needed the build-time-only toolchain.
      expect(isValid(`/nix/store/${toolchain}`)).toBe(false);
      // What the warm run substituted is the cache's already: nothing to save.
      const r3 = run(".nix-ci-cache/save.sh", { cwd: warm });
      expect(r3.status, r3.stderr).toBe(0);
      expect(r3.stderr).toMatch(/saved 0 new paths \(0 KiB\)/);
      expect(
        readdirSync(join(warm, CACHE))
          .filter((n) => n.endsWith(".narinfo"))
          .sort(),
      ).toEqual(narinfos.sort());
    } finally {
      for (const d of [cold, warm]) {
        if (existsSync(d)) for (const n of readdirSync(d)) if (n.startsWith("result")) rmSync(join(d, n));
      }
      deleteGraph(tag);
      removeDir(dirname(cold));
    }
  });

  it("chroot mode: the cache dir is the store; warm run after restore builds nothing", () => {
    requireNix();
    const tag = uniqueTag();
    const cold = makeProjectDir("cold");
    const warm = join(dirname(cold), "warm checkout $x");
    try {
      const g = freshCheckout(cold, "chroot", tag);
      const r1 = job(cold, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r1.status, r1.stderr).toBe(0);
      expect(countBuilt(r1.stderr)).toBe(13);
      // The wrapper tells the truth about ./result.
      expect(r1.stderr).toMatch(/exists only inside the chroot store/);
      expect(r1.stderr).toMatch(/saved \d+ new paths .*cache .* of 4\.0 GiB budget .*, \d+ paths/);
      // Nothing went to the real store.
      expect(readdirSync("/nix/store").filter((n) => n.includes(tag))).toEqual([]);
      const storeRoot = join(cold, CACHE, "root");
      const coldContents = contents(storeRoot, r1.outs);

      carryCache(cold, warm);
      freshCheckout(warm, "chroot", tag);
      const warmStore = join(warm, CACHE, "root");
      // Prove the warm run does not need the build-time-only toolchain: delete it.
      const tc = readdirSync(join(warmStore, "nix", "store")).find((n) => n.endsWith(`-toolchain-${tag}`));
      expect(tc).toBeDefined();
      const del = run(`nix-store --store "$S" --delete '/nix/store/${tc}'`, { env: { ...cleanEnv(), S: warmStore } });
      expect(del.status, del.stderr).toBe(0);

      const r2 = job(warm, `nix-build graph.nix ${graphBuildArgs(g)} -o result`);
      expect(r2.status, r2.stderr).toBe(0);
      expect(countBuilt(r2.stderr)).toBe(0);
      expect(r2.outs).toEqual(r1.outs);
      expect(contents(warmStore, r2.outs)).toEqual(coldContents);
      expect(existsSync(join(warmStore, "nix", "store", tc as string))).toBe(false);

      // nix-shell cannot use a chroot store: the wrapper says so and runs it without.
      const sh = run(`. .nix-ci-cache/env.sh && nix-shell graph.nix -A p4 --run 'for d in $deps; do cat "$d"/share/deps; done'`, {
        cwd: warm,
        env: cleanEnv(),
      });
      expect(sh.status, sh.stderr).toBe(0);
      expect(sh.stderr).toMatch(/nix-shell cannot use the chroot store/);
      expect(sh.stdout).toContain(`-p0-${tag}`);
    } finally {
      deleteGraph(tag);
      removeDir(dirname(cold));
    }
  });

  it("a failing hook invocation exits 0 and save.sh without env.sh says why", () => {
    const dir = makeProjectDir("hook");
    try {
      writeRuntime(dir, runtimeContext("file"));
      const hook = join(dir, ".nix-ci-cache", "hook.sh");
      // No state directory at all, then a state "directory" that is a file.
      const warning = `nix-ci-cache: warning: could not append to ${dir}/.nix-ci-cache/state/built; save.sh will still find this build among the new store paths\n`;
      let r = run(`DRV_PATH=/nix/store/x-y.drv OUT_PATHS= "$HOOK"`, { env: { ...cleanEnv(), HOOK: hook } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(warning);
      writeFileSync(join(dir, ".nix-ci-cache", "state"), "");
      r = run(`DRV_PATH=/nix/store/x-y.drv "$HOOK"`, { env: { ...cleanEnv(), HOOK: hook } });
      expect(r.status).toBe(0);
      expect(r.stderr).toBe(warning);
      rmSync(join(dir, ".nix-ci-cache", "state"));
      const s = run(".nix-ci-cache/save.sh", { cwd: dir });
      expect(s.status).toBe(1);
      expect(s.stderr).toBe(
        `nix-ci-cache: save failed: ${dir}/.nix-ci-cache/state/started does not exist: .nix-ci-cache/env.sh was not sourced in this job (source it before any Nix command), so there is nothing known to save\n`,
      );
      expect(existsSync(join(dir, CACHE))).toBe(false);
    } finally {
      removeDir(dirname(dir));
    }
  });
});
