// The runtime where CI really runs: each Nix the tests reach (this machine's Debian
// 2.8.0 with its nixbld group; Debian roots without one: bookworm 2.8.0, trixie 2.26,
// sid 2.34) under a PATH holding exactly the commands of the nixos/nix image, and
// again under busybox alone. One round trip each: a cold job builds and sources
// env.sh, save.sh runs in a separate shell, the cache directory is archived and
// restored into a new checkout as a provider does, and the warm job builds nothing.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../src/keygen.js";
import type { Mode } from "../src/model.js";
import {
  BASE_NIX_CONFIG,
  countBuilt,
  deleteGraph,
  type Graph,
  graphBuildArgs,
  killWhen,
  makeProjectDir,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeLeafGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE, cachedNames, carryCache, expectClosureComplete, lastSave } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";
import { atSite, HOST, rootSite, type Site, suites, withNewStore } from "./support/sites.js";
import { documentedCommands, type Toolset, type ToolsetName, toolset, toolsetCommands } from "./support/toolsets.js";

const SUITES = suites();
const NEWEST = SUITES.at(-1) as string;
const TOOLSETS: ToolsetName[] = ["nixos/nix image", "busybox", "documented commands"];
const MODES: Mode[] = ["file", "chroot"];

/** A job's environment: nothing of this machine's but HOME, and only the toolset's commands. */
function jobEnv(tools: Toolset): Record<string, string> {
  return { PATH: tools.bin, HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG };
}

function checkout(dir: string, mode: Mode, tag: string): Graph {
  mkdirSync(dir, { recursive: true });
  writeRuntime(dir, runtimeContext(mode));
  return writeGraph(dir, tag, 6);
}

/** One step of a job: `script` in a new shell of the toolset, in `dir` at `site`, with the job's environment. */
function step(script: string, site: Site, tools: Toolset, dir: string, more: Record<string, string> = {}) {
  return run(script, { cwd: dir, env: { ...jobEnv(tools), ...more }, shell: tools.shell, site });
}

function job(site: Site, tools: Toolset, dir: string, g: Graph, more: Record<string, string> = {}) {
  const build = step(
    `. .nix-ci-cache/env.sh || exit 90\nnix-build graph.nix ${graphBuildArgs(g)} -o result || exit 91`,
    site,
    tools,
    dir,
    more,
  );
  // A later step of the job: a new shell.
  const save = step("sh .nix-ci-cache/save.sh", site, tools, dir, more);
  return { build, save };
}

/** This machine's store, or a root with a new store, as on a machine where Nix never ran. */
function site(name: string): Site {
  return name === "host" ? HOST : withNewStore(rootSite(name), scratchDir("ncc-nix-"));
}

describe("docs/where-it-runs.md: the commands the runtime uses", () => {
  it("are each in the nixos/nix image and in busybox alone, and exist here", () => {
    const listed = documentedCommands();
    expect(listed.length).toBeGreaterThan(20);
    for (const set of ["nixos/nix image", "busybox"] as const) {
      const have = new Set(toolsetCommands(set));
      expect(
        listed.filter((c) => !have.has(c)),
        set,
      ).toEqual([]);
    }
    for (const c of ["awk", "sed", "comm", "join", "cksum", "zstd"]) expect(listed).not.toContain(c);
  });
});

const MISSING_GROUP_LINE =
  "nix-ci-cache: the group 'nixbld' that Nix's build-users-group names does not exist, and Nix would stop every build; this job is root with a store of its own, so it builds as root (build-users-group =)";

describe("a fresh machine: Debian's nix-bin without the nixbld group (real Nix in Debian roots)", () => {
  for (const suite of SUITES) {
    it(`${suite}: nix-build alone stops with Nix's error; after env.sh it builds, and env.sh said why in one line`, () => {
      const at = site(suite);
      const dir = makeProjectDir("group");
      const g = checkout(dir, "file", uniqueTag());
      const env = { PATH: "/usr/bin:/bin", HOME: "/root", NIX_CONFIG: BASE_NIX_CONFIG };
      const plain = run(`nix-build graph.nix -A ${g.packages[0]} --no-out-link`, { cwd: dir, env, site: at });
      expect(plain.status).not.toBe(0);
      expect(plain.stderr).toContain("error: the group 'nixbld' specified in 'build-users-group' does not exist");
      const r = run(`. .nix-ci-cache/env.sh && nix-build graph.nix -A ${g.packages[0]} --no-out-link`, {
        cwd: dir,
        env,
        site: at,
      });
      expect(r.status, r.stderr).toBe(0);
      const ours = r.stderr.split("\n").filter((l) => l.includes("build-users-group"));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(
        new RegExp(
          `^${MISSING_GROUP_LINE.replace(/[()]/g, "\\$&")}. To build as unprivileged users, create them: apt-get install nix-setup-systemd`,
        ),
      );
    });
  }
});

describe("chroot mode where namespaces are missing (real Nix in Debian roots, bwrap's own /proc as in containers)", () => {
  for (const suite of SUITES) {
    it(`${suite}: env.sh refuses chroot mode before the first build and says why; file mode works there`, () => {
      const at = withNewStore(rootSite(suite, "new"), scratchDir("ncc-nix-"));
      const tools = toolset("nixos/nix image");
      const tag = uniqueTag();
      const dir = makeProjectDir("restricted");
      const g = checkout(dir, "chroot", tag);
      const r = step(`. .nix-ci-cache/env.sh; echo "rc=$?"; printf '%s' "\${NIX_CONFIG:-}"`, at, tools, dir);
      expect(r.stdout.split("\n")[0], r.stderr).toBe("rc=1");
      // The caller's environment is as it was.
      expect(r.stdout.split("\n").slice(1).join("\n")).toBe(BASE_NIX_CONFIG);
      const line = r.stderr.split("\n").find((l) => l.startsWith("nix-ci-cache: error:")) ?? "";
      expect(line).toMatch(
        /^nix-ci-cache: error: mode "chroot" cannot build here: a trial build in a chroot store beside the cache failed with "error: [^"]+"\. Chroot stores build only inside Nix's sandbox/,
      );
      expect(line).toContain("container without the privileges to create namespaces");
      expect(line).toContain('set "mode: file" in .nix-ci-cache/config.yaml');
      // Nothing was left beside the cache.
      expect(safeList(join(dir, CACHE))).toEqual([]);

      // As the nixos/nix image's nix.conf has it: builds in the normal store go without the sandbox.
      writeRuntime(dir, runtimeContext("file"));
      const first = job(at, tools, dir, g, { NIX_CONFIG: `${BASE_NIX_CONFIG}\nsandbox = false` });
      expect(first.build.status, first.build.stderr).toBe(0);
      expect(first.save.status, first.save.stderr).toBe(0);
      expect(first.save.stderr).toMatch(/saved 8 new paths/);
    });
  }
});

describe("round trips where CI runs (real Nix in Debian roots, exact tool sets)", () => {
  for (const siteName of ["host", ...SUITES]) {
    for (const toolsName of TOOLSETS) {
      for (const mode of MODES) {
        it(`${siteName}, ${toolsName}, ${mode} mode: cold job, save in its own shell, cache carried, warm job builds 0`, () => {
          const at = site(siteName);
          const version = requireNix(at);
          const tools = toolset(toolsName);
          const tag = uniqueTag();
          const cold = makeProjectDir("cold");
          const warm = join(dirname(cold), "warm");
          try {
            const g = checkout(cold, mode, tag);
            const first = job(at, tools, cold, g);
            expect(first.build.status, first.build.stderr).toBe(0);
            expect(countBuilt(first.build.stderr), first.build.stderr).toBe(g.packages.length + 1);
            expect(first.build.stderr).toContain(`nix-ci-cache: ${mode} mode, Nix ${version.split(" ").at(-1)}`);
            // The roots are Debian's nix-bin alone: no nixbld group, and env.sh says what it does about it.
            if (at.root) expect(first.build.stderr).toContain(MISSING_GROUP_LINE);
            else expect(first.build.stderr).not.toContain("build-users-group");
            expect(first.save.status, first.save.stderr).toBe(0);
            expect(first.save.stderr).toMatch(mode === "file" ? /saved 8 new paths/ : /saved \d+ new paths/);

            carryCache(cold, warm);
            checkout(warm, mode, tag);
            for (const n of readdirSync(cold)) if (n.startsWith("result")) rmSync(join(cold, n));
            if (mode === "file") deleteGraph(tag, at);

            const second = job(at, tools, warm, g);
            expect(second.build.status, second.build.stderr).toBe(0);
            expect(countBuilt(second.build.stderr), second.build.stderr).toBe(0);
            expect(second.save.status, second.save.stderr).toBe(0);
            expect(second.save.stderr).toMatch(/saved 0 new paths/);
          } finally {
            for (const d of [cold, warm]) for (const n of safeList(d)) if (n.startsWith("result")) rmSync(join(d, n));
            deleteGraph(tag, at);
          }
        });
      }
    }
  }
});

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The site of a root whose /etc/group and /etc/passwd have Nix's build users (a
 * machine where nix-setup-systemd ran), in files of the test's own: the cached root
 * stays as Debian's nix-bin leaves it.
 */
function withBuildUsers(at: Site, dir: string): Site {
  const root = at.root as string;
  const group = join(dir, "group");
  const passwd = join(dir, "passwd");
  writeFileSync(group, `${readFileSync(join(root, "etc", "group"), "utf8")}nixbld:x:30000:nixbld1,nixbld2\n`);
  writeFileSync(
    passwd,
    `${readFileSync(join(root, "etc", "passwd"), "utf8")}${[1, 2].map((i) => `nixbld${i}:x:${30000 + i}:30000::/var/empty:/usr/sbin/nologin\n`).join("")}`,
  );
  return { ...at, files: [...(at.files ?? []), [group, "/etc/group"], [passwd, "/etc/passwd"]] };
}

describe("chroot mode with Nix's build users, the checkout below /tmp (real Nix in Debian roots)", () => {
  for (const suite of SUITES) {
    it(`${suite}: a trial build finds what this Nix needs; cold job builds, warm job builds 0`, () => {
      const at = withBuildUsers(site(suite), scratchDir("ncc-users-"));
      const version = requireNix(at);
      const minor = Number(version.split(" ").at(-1)?.split(".")[1]);
      const tools = toolset("nixos/nix image");
      const tag = uniqueTag();
      // Under /tmp (world-writable), as a runner's checkout often is.
      const cold = makeProjectDir("users");
      const warm = join(dirname(cold), "warm");
      // The root's /root, not under /tmp as a scratch directory would be: the private
      // build directory goes below it (and stays, as on a runner).
      const home = "/root";
      try {
        const g = checkout(cold, "chroot", tag);
        const first = job(at, tools, cold, g, { HOME: home });
        expect(first.build.status, first.build.stderr).toBe(0);
        expect(countBuilt(first.build.stderr)).toBe(g.packages.length + 1);
        expect(first.build.stderr).not.toContain("build-users-group");
        const settings = readFileSync(join(cold, ".nix-ci-cache", "state", "chroot-settings"), "utf8");
        // Nix 2.30 and later refuse to build as a build user below a world-writable directory.
        if (minor >= 30) expect(settings).toContain(`build-dir = ${home}/.cache/nix-ci-cache/build`);
        else expect(settings).not.toContain("build-dir");
        expect(first.save.status, first.save.stderr).toBe(0);

        carryCache(cold, warm);
        checkout(warm, "chroot", tag);
        const second = job(at, tools, warm, g, { HOME: home });
        expect(second.build.status, second.build.stderr).toBe(0);
        expect(countBuilt(second.build.stderr)).toBe(0);
      } finally {
        for (const d of [cold, warm]) for (const n of safeList(d)) if (n.startsWith("result")) rmSync(join(d, n));
      }
    });
  }
});

describe("signing and prune on every Nix (real Nix in Debian roots, the nixos/nix image's commands)", () => {
  for (const suite of SUITES) {
    it(`${suite}: a signed cache: saved signed, carried, and a warm job that trusts only the key builds 0`, () => {
      const at = site(suite);
      const tools = toolset("nixos/nix image");
      const pair = generateKeyPair(`ci-${suite}-1`);
      const tag = uniqueTag();
      const cold = makeProjectDir("signed");
      const warm = join(dirname(cold), "warm");
      const signed = (dir: string) => {
        mkdirSync(dir, { recursive: true });
        writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { publicKey: pair.public }));
        return writeGraph(dir, tag, 4);
      };
      const g = signed(cold);
      const key = { NIX_CI_CACHE_SIGNING_KEY: pair.secret };
      const first = job(at, tools, cold, g, key);
      expect(first.build.status, first.build.stderr).toBe(0);
      expect(first.save.status, first.save.stderr).toBe(0);
      expect(first.save.stderr).toMatch(/saved 6 new paths/);
      for (const n of readdirSync(join(cold, CACHE)).filter((f) => f.endsWith(".narinfo"))) {
        expect(readFileSync(join(cold, CACHE, n), "utf8")).toMatch(new RegExp(`^Sig: ci-${suite}-1:\\S+$`, "m"));
      }
      carryCache(cold, warm);
      signed(warm);
      // A new runner: a store of its own.
      const second = job(site(suite), tools, warm, g, key);
      expect(second.build.status, second.build.stderr).toBe(0);
      expect(countBuilt(second.build.stderr), second.build.stderr).toBe(0);
      expect(second.build.stderr).toMatch(/copying path .* from 'file:\/\//);
      expect(second.save.stderr).toMatch(/saved 0 new paths/);

      // Without the key the job passes and leaves the cache as it was, its log of saves too.
      const saves = () => readFileSync(join(warm, CACHE, "nix-ci-cache", "saves"), "utf8");
      const before = { names: cachedNames(join(warm, CACHE)), saves: saves() };
      const nokey = step(". .nix-ci-cache/env.sh && sh .nix-ci-cache/save.sh", at, tools, warm);
      expect(nokey.status, nokey.stderr).toBe(0);
      expect(nokey.stderr).toContain("not saving: the cache is signed");
      expect({ names: cachedNames(join(warm, CACHE)), saves: saves() }).toEqual(before);
    });

    it(`${suite}: prune evicts the least recently used entries to the budget, closure-complete; a warm job of the latest builds 0`, async () => {
      const at = site(suite);
      const tools = toolset("busybox");
      const tag = uniqueTag();
      const dir = makeProjectDir("prune");
      const cache = join(dir, CACHE);
      writeRuntime(dir, runtimeContext("file"));
      writeLeafGraph(dir, tag, "v1");
      const leaf = (variant: string) => {
        writeLeafGraph(dir, tag, variant);
        return step(". .nix-ci-cache/env.sh && nix-build leaf.nix -o result && sh .nix-ci-cache/save.sh", at, tools, dir);
      };
      let r = leaf("v1");
      expect(r.status, r.stderr).toBe(0);
      const size1 = Number(lastSave(cache).size);
      // Last-used times are in seconds: the next save must be later.
      await new Promise((res) => setTimeout(res, 1100));
      writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { maxSize: String(size1 + 100_000) }));
      r = leaf("v2");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/pruned 1 paths/);
      expect(Number(lastSave(cache).size)).toBeLessThanOrEqual(size1 + 100_000);
      expect(cachedNames(cache)).toEqual([`busybox-src-${tag}`, `leaf-v2-${tag}`, `lib-${tag}`, `toolchain-${tag}`]);
      expectClosureComplete(cache);

      // A new machine: the latest result comes from the cache alone.
      const fresh = withNewStore(rootSite(suite), scratchDir("ncc-nix-"));
      rmSync(join(dir, "result"));
      const w = step(". .nix-ci-cache/env.sh && nix-build leaf.nix --no-out-link", fresh, tools, dir);
      expect(w.status, w.stderr).toBe(0);
      expect(countBuilt(w.stderr), w.stderr).toBe(0);
    });
  }
});

describe("a save killed midway (GitLab's after_script limit, a cancelled job), real Nix in a Debian root", () => {
  it(`${NEWEST}: the cache as it was left, carried to a new runner, serves what it holds; the build does the rest and the next save completes it`, async () => {
    const at = site(NEWEST);
    const tools = toolset("nixos/nix image");
    const tag = uniqueTag();
    const cold = makeProjectDir("killed");
    const warm = join(dirname(cold), "warm");
    const g = checkout(cold, "file", tag);
    const b = step(`. .nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} -o result`, at, tools, cold);
    expect(b.status, b.stderr).toBe(0);
    // SIGKILL (no trap runs) once some NARs are written.
    const [program, args] = atSite(at, [...tools.shell, "-c", "exec sh .nix-ci-cache/save.sh"], cold);
    const child = spawn(program, args, { env: jobEnv(tools), detached: true });
    await killWhen(child, () => safeList(join(cold, CACHE)).filter((n) => n.endsWith(".narinfo")).length >= 2);
    const held = cachedNames(join(cold, CACHE)).length;
    expect(held).toBeGreaterThanOrEqual(2);
    expect(held).toBeLessThan(8);

    carryCache(cold, warm);
    checkout(warm, "file", tag);
    const second = job(site(NEWEST), tools, warm, g);
    expect(second.build.status, second.build.stderr).toBe(0);
    // Something came from the cache; what did not is built, and nothing fails.
    expect(countBuilt(second.build.stderr)).toBeLessThan(g.packages.length + 1);
    expect(second.build.stderr).toMatch(/copying path .* from 'file:\/\//);
    expect(second.save.status, second.save.stderr).toBe(0);
    expect(second.save.stderr).toMatch(/removed a stale lock|saved \d+ new paths/);
    expect(cachedNames(join(warm, CACHE))).toHaveLength(8);
    expectClosureComplete(join(warm, CACHE));
  });
});
