// npm run bench: the generated runtime against the alternatives on a hermetic graph
// (no network, no nixpkgs), with real Nix. Prints Markdown for BENCHMARKS.md.
//
// BENCH_PACKAGES (default 80) packages of BENCH_PACKAGE_KIB (default 1024) KiB each,
// half random and half text, in a chain, built with a toolchain (static busybox as a
// store path). BENCH_RUNS (default 10) runs for the size-over-time measurement.
//
// First, the CLI's start-up: `node bin/nix-ci-cache.js` over a fresh build of dist/, for
// `--help`, `check` and `init --yes`, BENCH_STARTUP_RUNS (default 20) times each after a
// warm-up, in rounds so that the machine's drift reaches all of them alike; Node alone
// (`node -e 0`) beside them. BENCH_ONLY_STARTUP=1 stops after it (no Nix needed).
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "../src/keygen.js";
import type { Config } from "../src/model.js";
import { forgetJobMarks } from "../test/support/marks.js";
import { runtimeContext, writeRuntime } from "../test/support/render-runtime.js";
import { toolchainBindings } from "../test/support/toolchain.js";
import { duBytes, NIX_CONFIG, savedSize, sh } from "./common.js";

const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 80);
const KIB = Number(process.env.BENCH_PACKAGE_KIB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const COLD_REPEATS = Number(process.env.BENCH_COLD_REPEATS ?? 5);
const SAVE_ROUNDS = Number(process.env.BENCH_SAVE_ROUNDS ?? 5);
const XZ_ROUNDS = Math.min(3, SAVE_ROUNDS);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 20);
const REPO = join(import.meta.dirname, "..");
const CACHE = ".nix-ci-cache/cache";

const built = (stderr: string) => stderr.split("\n").filter((l) => /^building '\/nix\/store\/[^']+\.drv'/.test(l)).length;

function config(mode: "file" | "chroot", more: Partial<Config> = {}): Config {
  return runtimeContext(mode, CACHE, "zstd", { maxSize: "1T", ...more });
}

/** The graph: toolchain, then p0 … p<n-1> in a chain; `top` (the leaf) changes with `variant`. */
export function writeGraph(dir: string, tag: string, variant = "v0"): void {
  mkdirSync(join(dir, "busybox-src", "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(dir, "busybox-src", "bin", "sh"));
  chmodSync(join(dir, "busybox-src", "bin", "sh"), 0o755);
  const half = (KIB * 1024) / 2;
  writeFileSync(
    join(dir, "graph.nix"),
    `let
${toolchainBindings(tag)}
  pkg = name: variant: dep: derivation {
    name = "\${name}-${tag}";
    inherit system variant;
    builder = "\${toolchain}/bin/sh";
    dep = if dep == null then "" else toString dep;
    args = [ "-c" ''
      mkdir -p $out
      echo "$dep" > $out/dep
      head -c ${half} /dev/urandom > $out/random
      yes "\${name} ${tag} some text that compresses well" | head -c ${half} > $out/text
    '' ];
  };
  chain = builtins.foldl' (prev: i: pkg "p\${toString i}" "" prev) null (builtins.genList (i: i) ${PACKAGES - 1});
in { top = pkg "top" "${variant}" chain; }
`,
  );
}

/** The store as a runner's where no job runs: without the graph, and without the marks of earlier jobs (see runtime). */
function deleteGraph(tag: string): void {
  forgetJobMarks();
  const paths = readdirSync("/nix/store")
    .filter((n) => n.includes(`-${tag}`))
    .map((n) => `/nix/store/${n}`);
  if (paths.length) sh(`nix-store --delete ${paths.map((p) => `'${p}'`).join(" ")} >/dev/null 2>&1`, "/");
}

function dropLinks(dir: string): void {
  for (const n of readdirSync(dir)) if (n.startsWith("result")) rmSync(join(dir, n));
}

function narinfoPaths(cache: string): string[] {
  return readdirSync(cache)
    .filter((n) => n.endsWith(".narinfo"))
    .map((n) => /^StorePath: (.*)$/m.exec(readFileSync(join(cache, n), "utf8"))?.[1] as string);
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const s = (x: number) => `${x.toFixed(2)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const median = (xs: number[]) => {
  const o = [...xs].sort((a, b) => a - b);
  const m = Math.floor(o.length / 2);
  return o.length % 2 ? (o[m] as number) : ((o[m - 1] as number) + (o[m] as number)) / 2;
};
const times = (xs: number[]) => `**${median(xs).toFixed(2)}×**`;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;
const perPair = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] as number));

/** Seconds of one whole process, as a user waits for it. */
function wall(command: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(command[0] as string, command.slice(1), { cwd, encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${command.join(" ")}\n${r.stderr}`);
  return seconds;
}

/** The CLI's start-up, command by command: rows for the table. */
function startup(work: string): string[] {
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: REPO, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stderr}`);
  const bin = join(REPO, "bin", "nix-ci-cache.js");
  const project = (name: string) => {
    const dir = join(work, "startup", name);
    mkdirSync(join(dir, ".git"), { recursive: true });
    writeFileSync(join(dir, "flake.lock"), "{}\n");
    return dir;
  };
  const checked = project("checked");
  wall(["node", bin, "init", "--yes"], checked);
  const commands: Array<[string, (round: number) => number]> = [
    ["`node -e 0` (Node alone, for reference)", () => wall(["node", "-e", "0"], checked)],
    ["`--help`", () => wall(["node", bin, "--help"], checked)],
    ["`check` (files up to date)", () => wall(["node", bin, "check"], checked)],
    ["`init --yes` (a new repository)", (round) => wall(["node", bin, "init", "--yes"], project(`init-${round}`))],
  ];
  const samples = commands.map(() => [] as number[]);
  for (let round = -1; round < STARTUP_RUNS; round++) {
    commands.forEach(([, run], i) => {
      const seconds = run(round + 1);
      if (round >= 0) samples[i]?.push(seconds);
    });
  }
  if (process.env.BENCH_DEBUG) console.error({ startup: samples });
  return commands.map(([what], i) => {
    const xs = samples[i] ?? [];
    const target = i === 0 ? "" : "< 0.3 s";
    return `| start-up: ${what} | ${s(median(xs))} (${s(Math.min(...xs))}–${s(Math.max(...xs))}, median of ${xs.length}) | ${target} |`;
  });
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), "ncc-bench-"));
  const tag = `b${Date.now().toString(36)}`;
  const lines: string[] = [];
  const out = (l = "") => {
    lines.push(l);
    console.log(l);
  };
  try {
    out("| measurement | result | target |");
    out("|---|---|---|");
    for (const row of startup(work)) out(row);
    out();
    if (process.env.BENCH_ONLY_STARTUP) return;
    const nix = sh("nix --version", "/").stdout.trim();
    out(`Graph: toolchain + ${PACKAGES} packages of ${KIB} KiB (half random, half text), ${nix}, ${RUNS} runs.`);
    out();
    const build = "nix-build graph.nix -A top -o result";

    // 1. Cold build without capture, and with ours (env.sh + hook), twice each, alternating.
    const plain = join(work, "plain");
    mkdirSync(plain);
    writeGraph(plain, tag);
    const ours = join(work, "ours");
    mkdirSync(ours);
    writeGraph(ours, tag);
    writeRuntime(ours, config("file"));
    const coldPlain: number[] = [];
    const coldOurs: number[] = [];
    const coldHook: number[] = [];
    const coldNoHook: number[] = [];
    const envTimes: number[] = [];
    let save = { seconds: 0, stderr: "" };
    let diff = { seconds: 0, stdout: "" };
    let drvs = { seconds: 0, stdout: "" };
    for (let i = 0; i < COLD_REPEATS; i++) {
      deleteGraph(tag);
      const p = sh(build, plain);
      if (built(p.stderr) !== PACKAGES + 1) throw new Error(`cold build built ${built(p.stderr)}`);
      coldPlain.push(p.seconds);
      dropLinks(plain);
      deleteGraph(tag);
      // Our hook alone, without env.sh.
      mkdirSync(join(plain, ".nix-ci-cache", "state"), { recursive: true });
      copyFileSync(join(ours, ".nix-ci-cache", "hook.sh"), join(plain, ".nix-ci-cache", "hook.sh"));
      chmodSync(join(plain, ".nix-ci-cache", "hook.sh"), 0o755);
      const hk = sh(build, plain, { NIX_CONFIG: `${NIX_CONFIG}\npost-build-hook = ${plain}/.nix-ci-cache/hook.sh` });
      coldHook.push(hk.seconds);
      dropLinks(plain);
      deleteGraph(tag);
      rmSync(join(ours, CACHE), { recursive: true, force: true });
      envTimes.push(sh(". .nix-ci-cache/env.sh", ours).seconds);
      rmSync(join(ours, ".nix-ci-cache", "state"), { recursive: true, force: true });
      rmSync(join(ours, CACHE), { recursive: true, force: true });
      // env.sh's settings without the hook: what capture costs beyond the substituter.
      const nh = sh(
        `. .nix-ci-cache/env.sh && NIX_CONFIG=$(printf '%s\\n' "$NIX_CONFIG" | grep -v '^post-build-hook') ${build}`,
        ours,
      );
      coldNoHook.push(nh.seconds);
      dropLinks(ours);
      deleteGraph(tag);
      rmSync(join(ours, ".nix-ci-cache", "state"), { recursive: true, force: true });
      const o = sh(`. .nix-ci-cache/env.sh && ${build}`, ours);
      coldOurs.push(o.seconds);
      // The two ways to find the build closure, on the store as the job left it.
      diff = sh(
        `ls /nix/store | LC_ALL=C sort >"$W/after" && LC_ALL=C comm -13 .nix-ci-cache/state/names-at-start "$W/after" | grep -v -e '\\.drv$' -e '-nix-ci-cache-job-' -e '-nix-ci-cache-done-' | wc -l`,
        ours,
        { W: work },
      );
      drvs = sh(
        `nix-store -qR --include-outputs "$(nix-store -q --deriver "$(readlink result)")" | grep -v '\\.drv$' | wc -l`,
        ours,
      );
      save = sh(".nix-ci-cache/save.sh", ours);
      dropLinks(ours);
    }
    if (process.env.BENCH_DEBUG) console.error({ coldPlain, coldHook, coldNoHook, coldOurs, envTimes });
    const cold0 = median(coldPlain);
    const cold1 = median(coldOurs);
    const coldRatios = perPair(coldOurs, coldPlain);
    if (process.env.BENCH_ONLY_COLD) return;
    const saved = narinfoPaths(join(ours, CACHE));
    const narBytes = duBytes(join(ours, CACHE));

    // 2. The same paths, the other ways.
    const list = join(work, "paths");
    writeFileSync(list, `${saved.join("\n")}\n`);
    // Rounds of the four, back to back, and the ratios taken within each round: this
    // machine is shared, and its speed drifts by more than the differences measured.
    const rounds: Record<"ours" | "signed" | "zstd" | "tar" | "xz", number[]> = {
      ours: [],
      signed: [],
      zstd: [],
      tar: [],
      xz: [],
    };
    // The same save into a signed cache: the job's state, another runtime and cache.
    const signed = join(work, "signed");
    const pair = generateKeyPair("bench-1");
    writeRuntime(signed, config("file", { publicKey: pair.public }));
    cpSync(join(ours, ".nix-ci-cache", "state"), join(signed, ".nix-ci-cache", "state"), { recursive: true });
    mkdirSync(join(signed, CACHE), { recursive: true });
    writeFileSync(join(signed, ".nix-ci-cache", "state", "cache-url"), `file://${join(signed, CACHE)}\n`);
    for (let i = 0; i < SAVE_ROUNDS; i++) {
      for (const n of readdirSync(join(ours, CACHE))) rmSync(join(ours, CACHE, n), { recursive: true, force: true });
      save = sh(".nix-ci-cache/save.sh", ours);
      rounds.ours.push(save.seconds);
      for (const n of readdirSync(join(signed, CACHE))) rmSync(join(signed, CACHE, n), { recursive: true, force: true });
      rounds.signed.push(sh(".nix-ci-cache/save.sh", signed, { NIX_CI_CACHE_SIGNING_KEY: pair.secret }).seconds);
      rmSync(join(work, "zstd"), { recursive: true, force: true });
      rounds.zstd.push(sh(`xargs nix copy --to "file://$W/zstd?compression=zstd" <"$L"`, work, { W: work, L: list }).seconds);
      rounds.tar.push(
        sh(`xargs tar -cf - <"$L" 2>/dev/null | zstd -q -T0 >"$W/paths.tar.zst"`, work, { W: work, L: list }).seconds,
      );
      if (i < XZ_ROUNDS) {
        rmSync(join(work, "xz"), { recursive: true, force: true });
        rounds.xz.push(sh(`xargs nix copy --to "file://$W/xz" <"$L"`, work, { W: work, L: list }).seconds);
      }
    }
    if (process.env.BENCH_DEBUG) console.error(rounds);
    const xzRatios = perPair(rounds.xz, rounds.ours);
    const tarRatios = perPair(rounds.ours, rounds.tar);
    const zstdTarRatios = perPair(rounds.zstd, rounds.tar);
    const restOfOurs = rounds.ours.map((x, i) => x - (rounds.zstd[i] as number));
    const signedRatios = perPair(rounds.signed, rounds.ours);
    const signedCount = narinfoPaths(join(signed, CACHE)).length;
    const tarBytes = duBytes(join(work, "paths.tar.zst"));
    const hookDir = join(work, "hook");
    mkdirSync(hookDir);
    writeGraph(hookDir, tag);
    writeFileSync(
      join(hookDir, "hook.sh"),
      `#!/bin/sh\nexec nix copy --extra-experimental-features nix-command --to "file://${hookDir}/cache?compression=zstd" \${OUT_PATHS:-$(nix-store -q --outputs "$DRV_PATH")}\n`,
    );
    chmodSync(join(hookDir, "hook.sh"), 0o755);
    dropLinks(ours);
    deleteGraph(tag);
    const hooked = sh(build, hookDir, { NIX_CONFIG: `${NIX_CONFIG}\npost-build-hook = ${hookDir}/hook.sh` });
    const hookSave = hooked.seconds - cold0;
    dropLinks(hookDir);

    out("| measurement | result | target |");
    out("|---|---|---|");
    out(
      `| save: ours (save.sh, zstd, one batch, with prune; median of ${SAVE_ROUNDS} rounds) | ${s(median(rounds.ours))} for ${saved.length} paths, ${mib(narBytes)} on disk | |`,
    );
    out(
      `| save: naive \`nix copy --to file://\` (xz) | ${s(median(rounds.xz))}: ours is ${times(xzRatios)} faster (median of ${XZ_ROUNDS} rounds; ${range(xzRatios)}) | ≥ 30× |`,
    );
    out(
      `| of which: one plain \`nix copy --to file://…?compression=zstd\` of the same paths | ${s(median(rounds.zstd))}: ${times(zstdTarRatios)} of \`tar \\| zstd\` (${range(zstdTarRatios)}); the rest of ours (capture queries, checks, prune, lock) ${s(median(restOfOurs))} | |`,
    );
    out(
      `| save into a signed cache (publicKey; signs every entry) | ${s(median(rounds.signed))} for ${signedCount} paths: ${times(signedRatios)} of the unsigned save (${range(signedRatios)}) | |`,
    );
    out(
      `| save: post-build-hook running \`nix copy\` per build | ${s(hookSave)} added to the build (${s(hooked.seconds)} vs ${s(cold0)}): ours is ${ratio(hookSave, median(rounds.ours))} faster | |`,
    );
    out(
      `| save: \`tar \\| zstd -T0\` of the same paths | ${s(median(rounds.tar))}, ${mib(tarBytes)}: ours takes ${times(tarRatios)} as long (median of ${SAVE_ROUNDS} rounds; ${range(tarRatios)}) | ≤ 2× |`,
    );
    out(
      `| cold build with capture (env.sh + build) vs without | ${s(median(coldOurs))} vs ${s(median(coldPlain))}: ${times(coldRatios)} (median of ${COLD_REPEATS} alternating pairs; ${range(coldRatios)}) | ≤ 1.10× |`,
    );
    out(
      `| of which: our post-build-hook alone; sourcing env.sh alone | ${s(median(coldHook))} build (${times(perPair(coldHook, coldPlain))}); ${s(median(envTimes))} | |`,
    );
    out(
      `| build closure: store diff vs \`nix-store -qR --include-outputs\` | ${s(diff.seconds)} (${diff.stdout.trim()} paths) vs ${s(drvs.seconds)} (${drvs.stdout.trim()} paths) | |`,
    );

    // 3. Warm runs from the carried-over cache: file mode, then chroot mode.
    const warm = join(work, "warm");
    cpSync(ours, warm, { recursive: true });
    rmSync(join(warm, ".nix-ci-cache", "state"), { recursive: true, force: true });
    dropLinks(warm);
    deleteGraph(tag);
    const wf = sh(`. .nix-ci-cache/env.sh && ${build}`, warm);
    out(
      `| warm run, file mode: derivations built, time vs cold | ${built(wf.stderr)} built, ${s(wf.seconds)} vs ${s(cold1)}: ${ratio(wf.seconds, cold1)} | 0 built |`,
    );
    dropLinks(warm);
    deleteGraph(tag);
    const chroot = join(work, "chroot");
    mkdirSync(chroot);
    writeGraph(chroot, tag);
    writeRuntime(chroot, config("chroot"));
    const cc = sh(`. .nix-ci-cache/env.sh && ${build} && .nix-ci-cache/save.sh`, chroot);
    const chrootWarm = join(work, "chroot-warm");
    sh(`tar -C "$A" -cf - . | (mkdir -p "$B" && tar -C "$B" -xf -)`, work, { A: chroot, B: chrootWarm });
    rmSync(join(chrootWarm, ".nix-ci-cache", "state"), { recursive: true, force: true });
    dropLinks(chrootWarm);
    const wc = sh(`. .nix-ci-cache/env.sh && ${build}`, chrootWarm);
    out(
      `| warm run, chroot mode: derivations built, time vs cold | ${built(wc.stderr)} built, ${s(wc.seconds)} vs ${s(cc.seconds)} (cold incl. save): ${ratio(wc.seconds, cc.seconds)} | 0 built |`,
    );
    deleteGraph(tag);

    // 4. Runs in which the leaf changes: the cache with a budget vs without prune.
    // The live closure: what one job needs, as save.sh counts it (NAR files and narinfos).
    const live = savedSize(join(ours, CACHE));
    // Room for a few changed leaves beyond the live closure, so that the prune acts within the runs.
    const budget = Math.ceil((live * 1.03) / 1024);
    const sizes: Record<string, number[]> = { pruned: [], unpruned: [] };
    const builtPerRun: number[] = [];
    for (const [name, maxSize] of [
      ["pruned", `${budget}K`],
      ["unpruned", "1T"],
    ] as const) {
      const dir = join(work, `runs-${name}`);
      mkdirSync(dir);
      writeGraph(dir, tag);
      writeRuntime(dir, config("file", { maxSize }));
      for (let run = 1; run <= RUNS; run++) {
        writeGraph(dir, tag, `v${run}`);
        dropLinks(dir);
        deleteGraph(tag);
        const r = sh(`. .nix-ci-cache/env.sh && ${build} && .nix-ci-cache/save.sh`, dir);
        if (name === "pruned") builtPerRun.push(built(r.stderr));
        if (process.env.BENCH_DEBUG) console.error(name, run, built(r.stderr), r.stderr.trim().split("\n").at(-1));
        sizes[name]?.push(savedSize(join(dir, CACHE)));
      }
      dropLinks(dir);
      deleteGraph(tag);
    }
    const pruned = sizes.pruned ?? [];
    const unpruned = sizes.unpruned ?? [];
    out(
      `| cache size after ${RUNS} runs, one leaf changed per run: with budget ${mib(budget * 1024)} vs no prune | ${mib(pruned.at(-1) ?? 0)} (${ratio(pruned.at(-1) ?? 0, live)} of the live closure, ${mib(live)}) vs ${mib(unpruned.at(-1) ?? 0)} | within budget, ≤ 1.3× live |`,
    );
    out();
    out(`Sizes per run, with budget: ${pruned.map(mib).join(", ")}`);
    out(`Sizes per run, no prune: ${unpruned.map(mib).join(", ")}`);
    out(`Derivations built per run, with budget: ${builtPerRun.join(", ")} (only the changed leaf)`);
    out(`Our save, last line: ${save.stderr.trim().split("\n").at(-1)}`);
  } finally {
    for (const d of readdirSync(work)) {
      try {
        dropLinks(join(work, d));
      } catch {}
    }
    deleteGraph(tag);
    rmSync(work, { recursive: true, force: true });
  }
}

if (!process.env.BENCH_NO_MAIN) main();
