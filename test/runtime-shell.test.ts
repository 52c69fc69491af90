// The rendered shell files are portable POSIX sh: shellcheck, and parsed and sourced by
// dash, bash, busybox sh and zsh (macOS's login shell, where people source env.sh by hand).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MARKER, type Mode } from "../src/model.js";
import {
  cleanEnv,
  countBuilt,
  deleteGraph,
  graphBuildArgs,
  makeProjectDir,
  removeDir,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { renderRuntime, runtimeContext } from "./support/render-runtime.js";

const SHELLS: Record<string, string[]> = {
  dash: ["/bin/dash"],
  bash: ["/bin/bash"],
  "busybox sh": ["/bin/busybox", "sh"],
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) removeDir(dirname(d));
});

/** A new project directory, removed after this file's tests, with the runtime of `mode` rendered into it. */
function projectWithRuntime(label: string, mode: Mode = "file"): string {
  const dir = makeProjectDir(label);
  dirs.push(dir);
  writeRuntime(dir, runtimeContext(mode));
  return dir;
}

const UPSTREAM_KEY = `ci-1:${"A".repeat(43)}=`;
const UPSTREAMS = [
  { url: "http://127.0.0.1:9" },
  { url: "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1" },
  { url: "ssh-ng://nix@127.0.0.1?remote-store=local%3Froot%3D/x" },
  {
    url: "https://c.example.org",
    publicKey: `c-1:${"B".repeat(43)}=`,
    pushCommand: "cachix push c",
    secrets: ["CACHIX_AUTH_TOKEN"],
  },
  { url: "https://r.example.org", publicKey: `r-1:${"C".repeat(43)}=`, push: false },
];

const scenarios = [
  runtimeContext("file"),
  runtimeContext("chroot"),
  runtimeContext("file", '/var/cache/it\'s a "cache" $HOME', "xz"),
  runtimeContext("chroot", "ci cache/nix"),
  // Signed, with the hook and an exclude list: the template's other branches.
  runtimeContext("file", "signed $cache", "zstd", {
    publicKey: `ci-1:${"A".repeat(43)}=`,
    capture: "built",
    exclude: ["*-source", "foo-?"],
  }),
  // Shared caches behind the directory: every kind, a push command, a read-only one.
  runtimeContext("file", undefined, "zstd", { publicKey: UPSTREAM_KEY, upstream: UPSTREAMS }),
];

describe("rendered shell files", () => {
  for (const ctx of scenarios) {
    const files = [...renderRuntime(ctx)].filter(([p]) => p.endsWith(".sh") || p.includes("/bin/"));
    for (const [path, file] of files) {
      it(`${ctx.mode} ${ctx.cacheDir}: ${path} passes shellcheck -s sh and sh -n`, () => {
        const dir = makeProjectDir("lint");
        dirs.push(dir);
        const target = join(dir, path);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, file.content);
        chmodSync(target, file.mode);
        const sc = run('shellcheck -s sh "$F"', { env: cleanEnv({ F: target }) });
        expect(sc.stdout + sc.stderr).toBe("");
        expect(sc.status).toBe(0);
        for (const [name, shell] of Object.entries(SHELLS)) {
          const r = run(`${shell.map((s) => `'${s}'`).join(" ")} -n "$F"`, { env: cleanEnv({ F: target }) });
          expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        }
        if (path !== ".nix-ci-cache/env.sh") {
          expect(file.content.split("\n")[0]).toBe("#!/bin/sh");
          expect(file.content.split("\n")[1]).toBe(MARKER);
        } else {
          expect(file.content.split("\n")[0]).toBe(MARKER);
        }
      });
    }
  }

  for (const mode of ["file", "chroot"] as const) {
    for (const [name, shell] of Object.entries({ ...SHELLS, zsh: ["/usr/bin/zsh"] })) {
      it(`${mode}: env.sh sourced by ${name} (under set -eu) sets NIX_CONFIG and keeps the old one`, () => {
        requireNix();
        const dir = projectWithRuntime(`src-${mode}`, mode);
        const script =
          'set -eu; . ./.nix-ci-cache/env.sh; printf "%s\\n--\\n%s\\n--\\n%s\\n--\\n" "$NIX_CONFIG" "$NIX_CI_CACHE_DIR" "$PATH"; ' +
          // Sourcing twice in one job must not repeat the settings.
          '. ./.nix-ci-cache/env.sh; printf "%s" "$NIX_CONFIG" | grep -c "^fallback = true"; set | grep -c "^_ncc_" || true';
        const r = run(script, { cwd: dir, shell, env: cleanEnv({ NIX_CONFIG: "keep-going = true" }) });
        expect(r.status, r.stderr).toBe(0);
        const [conf, cacheDir, path, tail] = r.stdout.split("\n--\n");
        const abs = `${dir}/.nix-ci-cache/cache`;
        expect(cacheDir).toBe(abs);
        if (mode === "file") {
          expect(conf).toMatch(/^keep-going = true\nextra-substituters = file:\/\/\/\S+\?trusted=1\nfallback = true$/);
        } else {
          expect(conf).toBe(`keep-going = true\nstore = ${abs}/root\nsandbox-fallback = false\nfallback = true`);
          expect(path?.startsWith(`${dir}/.nix-ci-cache/bin:`)).toBe(true);
        }
        expect(tail?.trim().split("\n")).toEqual(["1", "0"]);
        expect(r.stderr).toMatch(new RegExp(`nix-ci-cache: ${mode} mode, Nix`));
      });
    }
  }

  // The shared caches are asked beside the job's start, one after the other in an
  // interactive shell; none answers here (ports with nothing on them).
  for (const [name, source] of [
    ["dash under set -eu", "/bin/dash -c 'set -eu; . ./.nix-ci-cache/env.sh; echo sourced; set | grep -c \"^_ncc_\" || true'"],
    ["zsh under set -eu", "/usr/bin/zsh -c 'set -eu; . ./.nix-ci-cache/env.sh; echo sourced; set | grep -c \"^_ncc_\" || true'"],
    ["interactive bash", "script -qec \"bash --norc -i -c '. ./.nix-ci-cache/env.sh && echo sourced'\" /dev/null"],
  ] as const) {
    it(`file: env.sh with upstream caches sourced by ${name} leaves out those that do not answer, and leaves nothing behind`, () => {
      requireNix();
      const dir = makeProjectDir("upstream-shell");
      dirs.push(dir);
      writeRuntime(
        dir,
        runtimeContext("file", undefined, "zstd", { publicKey: UPSTREAM_KEY, upstream: UPSTREAMS, upstreamTimeout: 2 }),
      );
      const r = run(source, { cwd: dir, env: cleanEnv() });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/sourced/);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/\[1\]|Done/);
      expect(`${r.stdout}${r.stderr}`.match(/did not answer within 2 s/g)).toHaveLength(UPSTREAMS.length);
      if (!name.startsWith("interactive")) expect(r.stdout.trim().split("\n").at(-1)).toBe("0");
      expect(readFileSync(join(dir, ".nix-ci-cache", "state", "upstreams"), "utf8")).toBe("");
    });
  }

  // The listing runs beside the trust probe; with job control on (an interactive
  // shell) it runs in turn, since the shell would print job notices.
  for (const [name, source] of [
    ["dash", "/bin/dash -c '. ./.nix-ci-cache/env.sh && echo sourced'"],
    // script(1) gives bash a terminal, so that it is interactive with job control.
    ["interactive bash", "script -qec \"bash --norc -i -c '. ./.nix-ci-cache/env.sh && echo sourced'\" /dev/null"],
  ] as const) {
    it(`file: env.sh sourced by ${name} records the names in the store, and prints no job notice`, () => {
      requireNix();
      const dir = projectWithRuntime("listing");
      const r = run(source, { cwd: dir, env: cleanEnv() });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/sourced/);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/\[1\]|Done/);
      // The job's own mark goes into the store while the store is listed: either side of it.
      // So may the lock Nix holds while another test adds its mark (the save skips locks too).
      const withoutMarks = (text: string) =>
        text
          .split("\n")
          .filter((l) => !/-nix-ci-cache-(job|done)-[0-9-]+$/.test(l) && !/\.lock$/.test(l))
          .join("\n");
      const names = withoutMarks(run("ls /nix/store | LC_ALL=C sort", { env: cleanEnv() }).stdout);
      expect(names.split("\n").length).toBeGreaterThan(1);
      expect(withoutMarks(readFileSync(join(dir, ".nix-ci-cache", "state", "names-at-start"), "utf8"))).toBe(names);
      // Not the store's list of valid paths, which costs seconds in a large store.
      expect(existsSync(join(dir, ".nix-ci-cache", "state", "valid-at-start"))).toBe(false);
    });
  }

  it("dash -e: env.sh sourced twice where the cache needs a symlink in /tmp, whose directory then exists", () => {
    requireNix();
    // A checkout path with a space needs a plain link; a HOME with one sends it to /tmp.
    const dir = projectWithRuntime("dash-e");
    const home = join(dirname(dir), "a home");
    mkdirSync(home);
    const r = run(
      'set -e; . ./.nix-ci-cache/env.sh; echo "first $NIX_CI_CACHE_DIR"; unset NIX_CI_CACHE_DIR; . ./.nix-ci-cache/env.sh; echo second',
      { cwd: dir, shell: ["/bin/dash"], env: cleanEnv({ HOME: home }) },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`first ${dir}/.nix-ci-cache/cache\nsecond\n`);
    const url = readFileSync(join(dir, ".nix-ci-cache", "state", "cache-url"), "utf8");
    expect(url).toMatch(new RegExp(`^file:///tmp/nix-ci-cache-${process.getuid?.()}/\\d+\n$`));
  });

  it("zsh, with BSD awk (original-awk) as awk: env.sh sourced and save.sh run by zsh round-trip a cache", () => {
    requireNix();
    const tag = uniqueTag();
    const dir = projectWithRuntime("zsh");
    const g = writeGraph(dir, tag, 3);
    const bin = join(dirname(dir), "bsd-awk");
    mkdirSync(bin);
    symlinkSync("/usr/bin/original-awk", join(bin, "awk"));
    const env = cleanEnv({ PATH: `${bin}:${process.env.PATH}` });
    /** A job in zsh: env.sh sourced, the build with `out` (its result links), save.sh run by zsh. */
    const zshJob = (out: string) =>
      run(`. ./.nix-ci-cache/env.sh && nix-build graph.nix ${graphBuildArgs(g)} ${out} && zsh .nix-ci-cache/save.sh`, {
        cwd: dir,
        shell: ["/usr/bin/zsh"],
        env,
      });
    try {
      let r = zshJob("-o result");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/saved 5 new paths/);
      for (const n of readdirSync(dir)) if (n.startsWith("result")) rmSync(join(dir, n));
      deleteGraph(tag);
      r = zshJob("--no-out-link");
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
      expect(r.stderr).toMatch(/saved 0 new paths/);
    } finally {
      for (const n of readdirSync(dir)) if (n.startsWith("result")) rmSync(join(dir, n));
      deleteGraph(tag);
    }
  });

  it("env.sh hands later CircleCI steps its settings through $BASH_ENV, quoted for sh whatever they hold", () => {
    requireNix();
    const dir = projectWithRuntime("circle");
    const bashEnv = join(dirname(dir), "bash env");
    writeFileSync(bashEnv, "");
    const odd = `substituters =\nextra-x = it's "quoted" $HOME \\ \`x\``;
    const r = run(". .nix-ci-cache/env.sh", {
      cwd: dir,
      env: cleanEnv({ CIRCLECI: "true", BASH_ENV: bashEnv, NIX_CONFIG: odd }),
    });
    expect(r.status, r.stderr).toBe(0);
    // A new step: a new shell that reads $BASH_ENV.
    const step = run('. "$BASH_ENV" && printf "%s" "$NIX_CONFIG"', { env: { PATH: process.env.PATH ?? "", BASH_ENV: bashEnv } });
    expect(step.status, step.stderr).toBe(0);
    expect(step.stdout.startsWith(`${odd}\nextra-substituters = file://`)).toBe(true);
  });

  it("env.sh writes NIX_CONFIG to $GITHUB_ENV with the multiline syntax", () => {
    requireNix();
    const dir = projectWithRuntime("gh", "chroot");
    const ghEnv = join(dirname(dir), "github_env");
    const ghPath = join(dirname(dir), "github_path");
    writeFileSync(ghEnv, "");
    writeFileSync(ghPath, "");
    const r = run(". .nix-ci-cache/env.sh", {
      cwd: dir,
      env: cleanEnv({ GITHUB_ENV: ghEnv, GITHUB_PATH: ghPath, GITHUB_WORKSPACE: dir }),
    });
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(ghEnv, "utf8");
    const m = text.match(/^NIX_CONFIG<<(\S+)\n([\s\S]*?)\n\1\n/);
    expect(m?.[2]).toContain(`store = ${dir}/.nix-ci-cache/cache/root`);
    expect(text).toContain(`NIX_CI_CACHE_DIR<<`);
    expect(readFileSync(ghPath, "utf8")).toBe(`${dir}/.nix-ci-cache/bin\n`);
  });
});
