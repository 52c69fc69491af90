// Real-Nix helpers for the runtime tests: a hermetic derivation graph (no network, no
// nixpkgs) and ways to run shell commands against it.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeRuntime } from "./render-runtime.js";
import { scratchDir } from "./scratch.js";
import { atSite, HOST, type Site } from "./sites.js";
import { toolchainBindings } from "./toolchain.js";

export { toolchainBindings, writeRuntime };

/** No network: every Nix call would otherwise retry cache.nixos.org. */
export const BASE_NIX_CONFIG = "substituters =\nexperimental-features = nix-command";

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** An environment without the caller's CI variables, so tests see what a job sees. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "USER", "LANG", "TMPDIR"]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.NIX_CONFIG = BASE_NIX_CONFIG;
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  shell?: string[];
  /** Where it runs: this machine (the default) or a Debian root with another Nix. */
  site?: Site;
}

export function run(cmd: string, opts: RunOptions = {}): RunResult {
  const site = opts.site ?? HOST;
  const [program, args] = atSite(site, [...(opts.shell ?? ["/bin/sh"]), "-c", cmd], opts.cwd);
  const r = spawnSync(program, args, {
    // bwrap starts in the root's /, then changes to cwd itself.
    cwd: site.root ? undefined : opts.cwd,
    env: opts.env ?? cleanEnv(),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * run(), without blocking: for commands that run beside others or for a minute or
 * more, through which Vitest's worker must stay responsive. `onStderr` sees what the
 * command has written to stderr so far, each time it writes more. This machine only.
 */
export function runAsync(
  cmd: string,
  opts: { cwd?: string; env?: Record<string, string>; onStderr?: (sofar: string) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", cmd], { cwd: opts.cwd, env: opts.env ?? cleanEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/** Fails (throws) rather than skips when Nix is missing: these tests exist to prove Nix behaviour. */
export function requireNix(site: Site = HOST): string {
  const [program, args] = atSite(site, ["nix", "--version"]);
  const r = spawnSync(program, args, { encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(`nix is required for this test and is not usable (${site.name}): ${r.error ?? r.stderr}`);
  return r.stdout.trim();
}

/** Derivations Nix built, from nix-build's stderr ("building '/nix/store/…drv'..."). */
export function countBuilt(stderr: string): number {
  return stderr.split("\n").filter((l) => /^building '\/nix\/store\/[^']+\.drv'/.test(l)).length;
}

export function uniqueTag(): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** A temp project directory whose path contains a space and a `$`; removed after the test file. */
export function makeProjectDir(label: string): string {
  const base = scratchDir("ncc-test-");
  const dir = join(base, `pro ject $${label}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Graph {
  tag: string;
  /** attribute names of the packages, all built by `nix-build graph.nix` */
  packages: string[];
}

/**
 * Writes graph.nix and busybox-src/ into dir. The toolchain derivation is busybox
 * copied into its output as bin/sh (busybox picks the applet from argv[0], and Nix
 * sets argv[0] to the builder's base name); the packages need it only to build. At run
 * time the packages refer to each other: p<i> depends on p<i-1> and p<i-3>.
 */
export function writeGraph(dir: string, tag: string, n = 12): Graph {
  mkdirSync(join(dir, "busybox-src", "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(dir, "busybox-src", "bin", "sh"));
  chmodSync(join(dir, "busybox-src", "bin", "sh"), 0o755);
  const packages = Array.from({ length: n }, (_, i) => `p${i}`);
  const pkgLines = packages.map((name, i) => {
    const deps = [i - 1, i - 3].filter((j) => j >= 0).map((j) => `p${j}`);
    return `  ${name} = pkg "${name}" [ ${deps.join(" ")} ];`;
  });
  writeFileSync(
    join(dir, "graph.nix"),
    `let
${toolchainBindings(tag)}
  pkg = name: deps: derivation {
    name = "\${name}-${tag}";
    inherit system;
    builder = "\${toolchain}/bin/sh";
    deps = map toString deps;
    args = [ "-c" ''
      mkdir -p $out/share
      echo "\${name} ${tag}" > $out/share/data
      i=0; while [ $i -lt 200 ]; do echo "line $i of \${name}"; i=$((i+1)); done >> $out/share/data
      echo "$deps" > $out/share/deps
    '' ];
  };
${pkgLines.join("\n")}
in { inherit ${packages.join(" ")}; toolchain = toolchain; }
`,
  );
  return { tag, packages };
}

/** toolchain, lib (200 kB of random bytes) and a leaf that refers to lib, 300 kB, changed by `variant`. */
export function writeLeafGraph(dir: string, tag: string, variant: string): void {
  writeGraph(dir, tag, 1);
  writeFileSync(
    join(dir, "leaf.nix"),
    `let
${toolchainBindings(tag)}
  lib = derivation {
    name = "lib-${tag}";
    inherit system;
    builder = "\${toolchain}/bin/sh";
    args = [ "-c" "mkdir -p $out && head -c 200000 /dev/urandom > $out/blob" ];
  };
  leaf = derivation {
    name = "leaf-${variant}-${tag}";
    inherit system;
    builder = "\${toolchain}/bin/sh";
    args = [ "-c" "mkdir -p $out && echo \${lib} > $out/lib && head -c 300000 /dev/urandom > $out/blob" ];
  };
in { inherit leaf; }
`,
  );
}

/** nix-build arguments that build every package (not the toolchain on its own). */
export function graphBuildArgs(g: Graph): string {
  return g.packages.map((p) => `-A ${p}`).join(" ");
}

export function isValid(path: string, env = cleanEnv(), site: Site = HOST): boolean {
  return run(`nix-store --check-validity '${path}'`, { env, site }).status === 0;
}

/** Every path of the graph in the site's /nix/store (outputs, toolchain, drvs, source). */
export function graphStorePaths(tag: string, site: Site = HOST): string[] {
  const r = run(`ls /nix/store | grep -F -- '-${tag}' || true`, { site });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((n) => `/nix/store/${n}`);
}

/** Deletes the graph from the site's /nix/store. GC roots the test created must be removed first. */
export function deleteGraph(tag: string, site: Site = HOST): void {
  const paths = graphStorePaths(tag, site);
  if (paths.length === 0) return;
  const r = run(`nix-store --delete ${paths.map((p) => `'${p}'`).join(" ")}`, { site });
  if (r.status !== 0) throw new Error(`nix-store --delete failed (${site.name}): ${r.stderr}`);
  const left = graphStorePaths(tag, site);
  if (left.length) throw new Error(`still in the store (${site.name}): ${left.join(" ")}`);
}

/**
 * SIGKILL to the process group of `child` (spawned detached) once `ready()` holds, or
 * as soon as it has ended: a job killed midway, with no trap run. Resolves when it is gone.
 */
export async function killWhen(child: ChildProcess, ready: () => boolean): Promise<void> {
  await new Promise<void>((res) => {
    const poll = setInterval(() => {
      if (ready() || child.exitCode !== null) {
        clearInterval(poll);
        try {
          process.kill(-(child.pid as number), "SIGKILL");
        } catch {}
        res();
      }
    }, 2);
  });
  await new Promise((res) => child.on("close", res));
}

/** `s` as a regular expression that matches it literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

export function removeDir(path: string): void {
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
}
