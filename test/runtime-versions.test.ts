// What env.sh and save.sh decide from `nix --version`. Real Nix of three versions runs
// the scripts elsewhere (this machine's 2.8.0; 2.26.3 and 2.34.8 in Debian roots:
// runtime-where.test.ts, runtime-daemon.test.ts). The version strings of Nix 2.3, Lix
// and Determinate Nix are emulated here: a `nix` first on PATH prints them for
// --version and hands every other call to this machine's Nix 2.8.0. The emulated 2.3
// also refuses what 2.3 lacks where the scripts branch on it: it reads no NIX_CONFIG
// (nor do nix-build and nix-store beside it), knows no --extra-experimental-features,
// and has only 2.3's commands (`nix ping-store`, no `nix store …`, no `nix key`).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../src/keygen.js";
import type { Config, Mode } from "../src/model.js";
import { CI_USER, chownTree, ensureUser, runAs } from "./support/daemon.js";
import { type FakeBin, fakeBin, realCommand } from "./support/fakes.js";
import {
  BASE_NIX_CONFIG,
  countBuilt,
  deleteGraph,
  escapeRegExp,
  type Graph,
  graphBuildArgs,
  makeProjectDir,
  readText,
  requireNix,
  run,
  uniqueTag,
  writeGraph,
  writeRuntime,
} from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE, carryCache } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";
import { rootNixVersion, rootSite, suites, withNewStore } from "./support/sites.js";

interface Emulated {
  name: string;
  /** what `nix --version` prints */
  line: string;
  /** the version env.sh and save.sh go by */
  version: string;
  nix23: boolean;
}

const EMULATED: Emulated[] = [
  { name: "Nix 2.3", line: "nix (Nix) 2.3.16", version: "2.3.16", nix23: true },
  { name: "Lix", line: "nix (Lix, like Nix) 2.91.1", version: "2.91.1", nix23: false },
  { name: "Determinate Nix", line: "nix (Determinate Nix 3.6.2) 2.29.0", version: "2.29.0", nix23: false },
];

// Nix 2.3.16's commands (src/nix/*.cc at that tag).
const NIX23_COMMANDS =
  "add-to-store build cat-nar cat-store copy copy-sigs doctor dump-path edit eval hash-file hash-path log ls-nar ls-store optimise-store path-info ping-store repl run search show-config show-derivation sign-paths to-base16 to-base32 to-base64 to-sri upgrade-nix verify why-depends";

/**
 * Fake `nix` (and, for 2.3, nix-build and nix-store) in `bin`, answering `line` to
 * --version and handing the rest to `nix` (in a Debian root: the root's own).
 */
function emulate(bin: FakeBin, line: string, nix23: boolean, nix = realCommand("nix")): void {
  const answer = `if [ "$1" = --version ]; then echo '${line}'; exit 0; fi`;
  if (!nix23) {
    bin.add("nix", `${answer}\nexec ${nix} "$@"`);
    return;
  }
  // The arguments again, checked as 2.3 would, with "ping-store" as 2.8 spells it.
  bin.add(
    "nix",
    `${answer}
unset NIX_CONFIG
cmd=
skip=0
first=1
for a do
  if [ -n "$first" ]; then set --; first=; fi
  if [ "$skip" -gt 0 ]; then skip=$((skip - 1)); set -- "$@" "$a"; continue; fi
  case $a in
    --extra-experimental-features | --experimental-features) echo "error: unrecognised flag '$a'" >&2; exit 1 ;;
    --option) skip=2 ;;
    --store | --to | --from) skip=1 ;;
    -*) ;;
    *)
      if [ -z "$cmd" ]; then
        cmd=$a
        case " ${NIX23_COMMANDS} " in
          *" $a "*) ;;
          *) echo "error: '$a' is not a recognised command" >&2; exit 1 ;;
        esac
        if [ "$a" = ping-store ]; then set -- "$@" store ping; continue; fi
      fi
      ;;
  esac
  set -- "$@" "$a"
done
exec ${nix} --extra-experimental-features nix-command "$@"`,
  );
  for (const name of ["nix-build", "nix-store"]) {
    bin.add(name, `unset NIX_CONFIG\nexec ${realCommand(name)} "$@"`, { quiet: true });
  }
}

interface Checkout {
  dir: string;
  bin: FakeBin;
  /** the user's Nix configuration directory (XDG_CONFIG_HOME) */
  config: string;
  env: Record<string, string>;
}

/** A project with the runtime of `mode` (and the config keys in `more`) and the fake Nix of `e`. */
function checkout(e: Emulated, mode: Mode, label: string, more: Partial<Config> = {}): Checkout {
  const dir = makeProjectDir(label);
  writeRuntime(dir, runtimeContext(mode, CACHE, "zstd", more));
  const bin = fakeBin(dirname(dir));
  emulate(bin, e.line, e.nix23);
  const config = join(dirname(dir), "config");
  const env: Record<string, string> = {
    PATH: `${bin.dir}:${process.env.PATH}`,
    HOME: process.env.HOME ?? "/root",
    XDG_CONFIG_HOME: config,
  };
  if (e.nix23) {
    // A user's own nix.conf line, which env.sh keeps: no network in the tests.
    mkdirSync(join(config, "nix"), { recursive: true });
    writeFileSync(join(config, "nix", "nix.conf"), "substituters =\n");
  } else {
    env.NIX_CONFIG = BASE_NIX_CONFIG;
  }
  return { dir, bin, config, env };
}

/** env.sh and the build in one shell (stdout: NIX_CONFIG after them), save.sh in another. */
function job(c: Checkout, g: Graph) {
  const build = run(
    `. .nix-ci-cache/env.sh || exit 90\nnix-build graph.nix ${graphBuildArgs(g)} -o result >/dev/null || exit 91\nprintf '%s' "\${NIX_CONFIG-unset}"`,
    { cwd: c.dir, env: c.env },
  );
  const buildCalls = c.bin.calls();
  c.bin.clear();
  const save = run("sh .nix-ci-cache/save.sh", { cwd: c.dir, env: c.env });
  const saveCalls = c.bin.calls();
  c.bin.clear();
  return { build, buildCalls, save, saveCalls };
}

/** The settings env.sh gives in `mode`, for the checkout in `dir`. */
function settingsPattern(mode: Mode, dir: string): RegExp {
  return mode === "file"
    ? /^extra-substituters = file:\/\/\S+\?trusted=1\nfallback = true$/
    : new RegExp(`^store = ${escapeRegExp(dir)}/\\.nix-ci-cache/cache/root\\nsandbox-fallback = false\\nfallback = true$`);
}

function narinfoCompressions(dir: string): string[] {
  const cache = join(dir, CACHE);
  return [
    ...new Set(
      readdirSync(cache)
        .filter((n) => n.endsWith(".narinfo"))
        .map((n) => /^Compression: (.*)$/m.exec(readFileSync(join(cache, n), "utf8"))?.[1] ?? "none given"),
    ),
  ];
}

const MODES: Mode[] = ["file", "chroot"];

describe("env.sh and save.sh on other Nix versions (emulated version strings over this machine's Nix 2.8.0)", () => {
  for (const e of EMULATED) {
    for (const mode of MODES) {
      it(`emulated ${e.name} ("${e.line}"), ${mode} mode: the settings, where they go, the compression and the commands; cold job, cache carried, warm job builds 0`, () => {
        requireNix();
        const tag = uniqueTag();
        const cold = checkout(e, mode, "cold");
        const warmDir = join(dirname(cold.dir), "warm");
        try {
          const g = writeGraph(cold.dir, tag, 6);
          const first = job(cold, g);
          expect(first.build.status, first.build.stderr).toBe(0);
          expect(countBuilt(first.build.stderr), first.build.stderr).toBe(g.packages.length + 1);
          const uconf = join(cold.config, "nix", "nix.conf");
          const how = e.nix23 ? `settings in ${escapeRegExp(uconf)}` : "settings via NIX_CONFIG";
          expect(first.build.stderr).toMatch(new RegExp(`^nix-ci-cache: ${mode} mode, Nix ${e.version}, .*, ${how}$`, "m"));
          expect(readText(join(cold.dir, ".nix-ci-cache/state/nix-version"))).toBe(`${e.version}\n`);
          const settings = settingsPattern(mode, cold.dir);
          if (e.nix23) {
            // No NIX_CONFIG: a marked block in the user's nix.conf, after the user's own lines.
            expect(first.build.stdout).toBe("unset");
            const conf = readText(uconf);
            expect(conf).toMatch(/^substituters =\n# >>> nix-ci-cache \(added by \.nix-ci-cache\/env\.sh\)\n/);
            expect(conf).toMatch(/\n# <<< nix-ci-cache\n$/);
            expect(conf.split("\n").slice(2, -2).join("\n")).toMatch(settings);
          } else {
            expect(first.build.stdout.startsWith(`${BASE_NIX_CONFIG}\n`)).toBe(true);
            expect(first.build.stdout.slice(BASE_NIX_CONFIG.length + 1)).toMatch(settings);
            expect(existsSync(cold.config)).toBe(false);
          }
          // Every `nix` call but --version: the nix-command flag from 2.4 on, never on 2.3.
          const nixCalls = [...first.buildCalls, ...first.saveCalls].filter((c) => c !== "nix --version");
          expect(nixCalls.length).toBeGreaterThan(0);
          for (const c of nixCalls) {
            if (e.nix23) expect(c).not.toContain("experimental-features");
            else expect(c.startsWith("nix --extra-experimental-features nix-command ")).toBe(true);
          }
          if (mode === "file") {
            // The trust probe: 2.3's own command.
            const probe = e.nix23
              ? "nix --option substituters file:///nonexistent/nix-ci-cache-trust-probe ping-store"
              : "nix --extra-experimental-features nix-command --option substituters file:///nonexistent/nix-ci-cache-trust-probe store ping";
            expect(first.buildCalls).toContain(probe);
            const compression = e.nix23 ? "none" : "zstd";
            if (e.nix23) {
              expect(first.build.stderr).toContain(
                "nix-ci-cache: note: Nix 2.3.16 has no zstd; save.sh stores NARs uncompressed (the CI archive compresses them)",
              );
            } else {
              expect(first.build.stderr).not.toContain("has no zstd");
            }
            expect(readText(join(cold.dir, ".nix-ci-cache/state/compression"))).toBe(`${compression}\n`);
            const copy = new RegExp(` copy --to file://\\S+\\?compression=${compression} /nix/store/`);
            expect(first.saveCalls.some((c) => copy.test(c))).toBe(true);
            expect(narinfoCompressions(cold.dir)).toEqual([compression]);
          }
          // save.sh had what env.sh found: it did not ask.
          expect(first.saveCalls).not.toContain("nix --version");
          expect(first.save.status, first.save.stderr).toBe(0);
          expect(first.save.stderr).toMatch(mode === "file" ? /saved 8 new paths/ : /saved \d+ new paths/);

          carryCache(cold.dir, warmDir);
          const warm: Checkout = { ...cold, dir: warmDir };
          mkdirSync(warmDir, { recursive: true });
          writeRuntime(warmDir, runtimeContext(mode, CACHE, "zstd"));
          writeGraph(warmDir, tag, 6);
          for (const n of readdirSync(cold.dir)) if (n.startsWith("result")) rmSync(join(cold.dir, n));
          if (mode === "file") deleteGraph(tag);
          // The warm save finds no version of env.sh's: it asks Nix and reads the whole line.
          // The job also adds one path the cache lacks, so that the save copies with Nix's
          // own commands (a warm job with nothing new asks Nix nothing after the version).
          const second = run(
            `. .nix-ci-cache/env.sh || exit 90\nnix-build graph.nix ${graphBuildArgs(g)} -o result || exit 91\nnix-instantiate --eval --read-write-mode -E 'builtins.toFile "extra-${tag}" "x"' >/dev/null || exit 93\nrm .nix-ci-cache/state/nix-version`,
            { cwd: warmDir, env: warm.env },
          );
          expect(second.status, second.stderr).toBe(0);
          expect(countBuilt(second.stderr), second.stderr).toBe(0);
          if (e.nix23) {
            // The block of the first job replaced, not added to.
            const conf = readText(join(cold.config, "nix", "nix.conf"));
            expect(conf.split("# >>> nix-ci-cache")).toHaveLength(2);
            expect(conf.split("\n").slice(2, -2).join("\n")).toMatch(settingsPattern(mode, warmDir));
          }
          warm.bin.clear();
          const save = run("sh .nix-ci-cache/save.sh", { cwd: warmDir, env: warm.env });
          expect(save.status, save.stderr).toBe(0);
          expect(save.stderr).toMatch(/saved 1 new paths/);
          const saveCalls = warm.bin.calls();
          expect(saveCalls[0]).toBe("nix --version");
          for (const c of saveCalls.slice(1)) {
            if (e.nix23) expect(c).not.toContain("experimental-features");
            else expect(c.startsWith("nix --extra-experimental-features nix-command ")).toBe(true);
          }
          expect(saveCalls.length).toBeGreaterThan(1);
        } finally {
          for (const d of [cold.dir, warmDir])
            for (const n of existsSync(d) ? readdirSync(d) : []) if (n.startsWith("result")) rmSync(join(d, n));
          deleteGraph(tag);
        }
      });
    }
  }
});

describe("versions env.sh and save.sh cannot work with (emulated)", () => {
  it('emulated "nix (Nix) unknown": env.sh and save.sh fail, saying what nix --version printed', () => {
    requireNix();
    const c = checkout(EMULATED[1] as Emulated, "file", "unknown");
    emulate(c.bin, "nix (Nix) unknown", false);
    const r = run('. .nix-ci-cache/env.sh; echo "rc=$?"', { cwd: c.dir, env: c.env });
    expect(r.stdout.trim()).toBe("rc=1");
    expect(r.stderr).toContain(`nix-ci-cache: error: cannot read the Nix version from "nix --version" ('unknown')`);
    // save.sh of a job that env.sh began with a Nix whose version it read, now asking again.
    emulate(c.bin, "nix (Nix) 2.8.0", false);
    expect(run(". .nix-ci-cache/env.sh", { cwd: c.dir, env: c.env }).status).toBe(0);
    rmSync(join(c.dir, ".nix-ci-cache/state/nix-version"));
    emulate(c.bin, "nix (Nix) unknown", false);
    const s = run("sh .nix-ci-cache/save.sh", { cwd: c.dir, env: c.env });
    expect(s.status).toBe(1);
    expect(s.stderr).toContain(`nix-ci-cache: save failed: cannot read the Nix version from "nix --version" ('unknown')`);
  });

  it("emulated Nix 2.3 with a signed cache: env.sh refuses, since 2.3 cannot add a trusted key, and changes nothing", () => {
    requireNix();
    const pair = generateKeyPair("ci-1");
    const c = checkout(EMULATED[0] as Emulated, "file", "signed23", { publicKey: pair.public });
    const r = run(`. .nix-ci-cache/env.sh; echo "rc=$?"; printf "%s" "\${NIX_CONFIG-unset}"`, { cwd: c.dir, env: c.env });
    expect(r.stdout).toBe("rc=1\nunset");
    expect(r.stderr).toContain(
      "nix-ci-cache: error: the cache is signed (publicKey in .nix-ci-cache/config.yaml), and Nix 2.3.16 cannot add a trusted key (extra-trusted-public-keys came with Nix 2.4)",
    );
    expect(readText(join(c.config, "nix", "nix.conf"))).toBe("substituters =\n");
    expect(existsSync(join(c.dir, ".nix-ci-cache/state/started"))).toBe(false);
  });

  it("emulated Nix 2.3 with a shared cache of upstream: env.sh says 2.3 cannot use it, asks it nothing, and the job builds, saves and pushes nothing", () => {
    requireNix();
    const pair = generateKeyPair("remote-1");
    // A port nobody listens on: asked, it would answer with a warning of its own.
    const url = "http://127.0.0.1:9";
    const c = checkout(EMULATED[0] as Emulated, "file", "upstream23", {
      upstream: [{ url, publicKey: pair.public, pushCommand: "touch ../pushed; cat >/dev/null", secrets: ["PUSH_TOKEN"] }],
    });
    c.env.PUSH_TOKEN = "t";
    const g = writeGraph(c.dir, uniqueTag(), 2);
    const j = job(c, g);
    expect(j.build.status, j.build.stderr).toBe(0);
    expect(j.build.stderr).toContain(
      "nix-ci-cache: note: Nix 2.3.16 cannot add a trusted key (extra-trusted-public-keys came with Nix 2.4), so the shared caches of upstream are not used",
    );
    expect(j.build.stderr).not.toContain("did not answer");
    expect([...j.buildCalls, ...j.saveCalls].filter((call) => call.includes(url))).toEqual([]);
    expect(readText(join(c.config, "nix", "nix.conf"))).not.toContain(url);
    expect(j.save.status, j.save.stderr).toBe(0);
    expect(j.save.stderr).toMatch(/saved \d+ new paths/);
    expect(existsSync(join(dirname(c.dir), "pushed"))).toBe(false);
  });
});

// Nix 2.17 added require-drop-supplementary-groups: the root of a user namespace (rootless
// podman, `unshare -r`) cannot drop its supplementary groups, and Nix's sandbox stops
// with "setgroups failed" unless told not to try. env.sh sets it from 2.17 on.
const NEWEST = suites().at(-1) as string;

describe(`chroot mode as the root of a user namespace (unshare -r), the real Nix of Debian ${NEWEST} under emulated version strings`, () => {
  const cases = [
    { line: "", name: "real", works: true },
    { line: "nix (Nix) 2.17.0", name: "emulated 2.17.0", works: true },
    { line: "nix (Nix) 2.16.3", name: "emulated 2.16.3", works: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.works ? "env.sh sets require-drop-supplementary-groups = false and the job builds" : "env.sh does not set it, and stops with Nix's reason"}`, () => {
      const at = withNewStore(rootSite(NEWEST), scratchDir("ncc-nix-"));
      requireNix(at);
      const user = ensureUser(CI_USER, at);
      const dir = makeProjectDir("userns");
      writeRuntime(dir, runtimeContext("chroot"));
      writeGraph(dir, uniqueTag(), 1);
      const bin = fakeBin(dirname(dir));
      if (c.line) emulate(bin, c.line, false, "/usr/bin/nix");
      chownTree(dirname(dir), user);
      const job = `. .nix-ci-cache/env.sh || exit 90\nprintf '%s' "$NIX_CONFIG"\nnix-build graph.nix -A p0 -o result >/dev/null || exit 91`;
      const r = runAs(user, 'exec unshare -U -r /bin/sh -c "$JOB"', {
        cwd: dir,
        env: { PATH: `${bin.dir}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: user.home, NIX_CONFIG: BASE_NIX_CONFIG, JOB: job },
        site: at,
      });
      const version = c.line ? c.line.split(" ").at(-1) : rootNixVersion(at).split(" ").at(-1);
      if (c.works) {
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain(`nix-ci-cache: chroot mode, Nix ${version}, `);
        expect(r.stdout.split("\n")).toContain("require-drop-supplementary-groups = false");
        expect(countBuilt(r.stderr)).toBe(2);
      } else {
        expect(r.status, r.stderr).toBe(90);
        expect(r.stderr).toContain(
          'nix-ci-cache: error: mode "chroot" cannot build here: a trial build in a chroot store beside the cache failed with "error: setgroups failed.',
        );
        expect(r.stderr).toContain("this looks like a container without the privileges to create namespaces");
      }
    });
  }
});
