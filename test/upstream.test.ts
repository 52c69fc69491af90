// The shared remote cache behind the cache directory (docs/upstream.md), against real
// servers on loopback (test/support/servers.ts) and real Nix: this machine's 2.8.0 and
// Debian sid's in a store of its own, as a second runner that shares only the remote.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../src/keygen.js";
import type { UpstreamConfig } from "../src/model.js";
import { cacheStats, formatStats } from "../src/stats.js";
import { startDaemon } from "./support/daemon.js";
import { cleanEnv, countBuilt, deleteGraph, readText, run, writeRuntime } from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE, job, lastSave, withGraphProject } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";
import { closedPort, type HttpCache, startHangingServer, startHttpCache, startS3, startSshStore } from "./support/servers.js";
import { rootNixVersion, rootSite, suites, withNewStore } from "./support/sites.js";

const pair = generateKeyPair("ci-upstream-1");
const KEY_ENV = { NIX_CI_CACHE_SIGNING_KEY: pair.secret };
const withKey = (more: Record<string, string> = {}) => cleanEnv({ ...KEY_ENV, ...more });

/** The narinfos the cache was given (PUT) so far. */
function narinfoPuts(http: HttpCache): number {
  return http.requests().filter((r) => r.method === "PUT" && r.path.endsWith(".narinfo")).length;
}

function narGets(http: HttpCache): number {
  return http.requests().filter((r) => r.method === "GET" && r.path.startsWith("/nar/")).length;
}

/** The project's runtime again, with `upstream` (and the signing key) as given. */
function configure(dir: string, upstream: UpstreamConfig[], timeout = 5, exclude: string[] = []): void {
  writeRuntime(
    dir,
    runtimeContext("file", CACHE, "zstd", { publicKey: pair.public, upstream, upstreamTimeout: timeout, exclude }),
  );
}

/** A copy of the project without its cache directory and state: another runner's checkout. */
function checkout(dir: string): string {
  const other = join(scratchDir("ncc-runner-b-"), "pro ject");
  const r = run(`cp -R "$A" "$B" && rm -rf "$B/.nix-ci-cache/cache" "$B/.nix-ci-cache/state" "$B"/result*`, {
    env: cleanEnv({ A: dir, B: other }),
  });
  expect(r.status, r.stderr).toBe(0);
  return other;
}

const JOB = (build: string) => `. .nix-ci-cache/env.sh || exit 90\n${build} || exit 91\n.nix-ci-cache/save.sh || exit 92`;

describe("upstream: a shared binary cache behind the cache directory (real Nix, real servers on loopback)", () => {
  it("runner B, sharing only an nginx binary cache with runner A, builds none of what A built (A: this machine's Nix 2.8.0; B: Debian's newest Nix in a new store)", async () => {
    const http = await startHttpCache(scratchDir("ncc-http-"));
    try {
      await withGraphProject("upstream-a", {}, 4, ({ dir, build }) => {
        configure(dir, [{ url: http.url }]);
        const a = job(dir, build, withKey());
        expect(a.status, a.stderr).toBe(0);
        expect(countBuilt(a.stderr)).toBe(5);
        const saveA = lastSave(join(dir, CACHE));
        // Everything the directory gained went up, signed, in the one push.
        const pushed = narinfoPuts(http);
        expect(pushed).toBe(Number(saveA.added));
        expect(saveA).toMatchObject({ pushed: String(pushed), push_failed: "0", from_cache: "0", from_upstream: "0" });
        expect(Number(saveA.built)).toBeGreaterThanOrEqual(5);
        expect(a.stderr).toContain(`pushed ${pushed} of ${pushed} paths to ${http.url}`);
        for (const r of http.requests().filter((q) => q.method === "PUT" && q.path.endsWith(".narinfo"))) {
          expect(readFileSync(join(http.root, r.path), "utf8"), r.path).toMatch(/^Sig: ci-upstream-1:\S+$/m);
        }

        const suite = suites()[2] as string;
        const siteB = withNewStore(rootSite(suite), scratchDir("ncc-nix-"));
        const dirB = checkout(dir);
        const b = run(JOB(build), { cwd: dirB, env: withKey(), site: siteB });
        expect(b.status, b.stderr).toBe(0);
        expect(countBuilt(b.stderr), `${rootNixVersion(siteB)}: ${b.stderr}`).toBe(0);
        const saveB = lastSave(join(dirB, CACHE));
        // The 4 packages came from upstream (the toolchain only builds them: not
        // needed), and the one source its evaluation added was "built" here.
        expect(saveB).toMatchObject({ from_cache: "0", from_upstream: "4", from_elsewhere: "0", built: "1", pushed: "0" });
        // B gained in its directory what the remote already had: it asked, and sent nothing.
        expect(narinfoPuts(http)).toBe(pushed);
        const report = formatStats(join(dirB, CACHE), cacheStats(join(dirB, CACHE)), Date.now() / 1000).join("\n");
        expect(report).toContain(
          `new paths: 0 from the cache directory, ${saveB.from_upstream} from upstream, 0 from other substituters, 1 built; pushed 0`,
        );

        // The cache directory comes first: B's next job in a new store reads nothing from the remote.
        const gets = narGets(http);
        const c = run(JOB(build), { cwd: dirB, env: withKey(), site: withNewStore(rootSite(suite), scratchDir("ncc-nix-")) });
        expect(c.status, c.stderr).toBe(0);
        expect(countBuilt(c.stderr)).toBe(0);
        expect(narGets(http)).toBe(gets);
        // The source too: B saved it.
        expect(lastSave(join(dirB, CACHE))).toMatchObject({ from_upstream: "0", from_cache: "5", built: "0" });
      });
    } finally {
      await http.stop();
    }
  });

  it("pushes only what the remote lacks: N new paths, M of them there already, N - M uploads", async () => {
    const http = await startHttpCache(scratchDir("ncc-http-"));
    try {
      await withGraphProject("upstream-nm", {}, 6, ({ dir, build }) => {
        configure(dir, [{ url: http.url }]);
        // Another runner pushed p0..p2 and what they need before this job.
        const key = join(scratchDir("ncc-key-"), "key");
        writeFileSync(key, pair.secret);
        const seed = run(
          `set -e; p=$(nix-build graph.nix -A p2 --no-out-link); nix copy --to "$U?compression=zstd&secret-key=$K" "$p"; nix-store -qR "$p" | wc -l`,
          { cwd: dir, env: cleanEnv({ U: http.url, K: key }) },
        );
        expect(seed.status, seed.stderr).toBe(0);
        const m = narinfoPuts(http);
        expect(m).toBe(Number(seed.stdout.trim()));
        const r = job(dir, build, withKey());
        expect(r.status, r.stderr).toBe(0);
        const save = lastSave(join(dir, CACHE));
        const n = Number(save.added);
        expect(n).toBeGreaterThan(m);
        expect(narinfoPuts(http) - m).toBe(n - m);
        expect(save.pushed).toBe(String(n - m));
        expect(r.stderr).toContain(`pushed ${n - m} of ${n} paths to ${http.url} (it had the other ${m})`);
      });
    } finally {
      await http.stop();
    }
  });

  it("an untrusted job (no NIX_CI_CACHE_SIGNING_KEY, no push secret) pushes nothing and succeeds", async () => {
    const http = await startHttpCache(scratchDir("ncc-http-"));
    const other = scratchDir("ncc-pushed-");
    try {
      await withGraphProject("upstream-fork", {}, 3, ({ dir, tag, build }) => {
        configure(dir, [
          { url: http.url },
          {
            url: `${http.url}/?unused=1`,
            push: true,
            pushCommand: `xargs nix --extra-experimental-features nix-command copy --to "file://${other}/cache?compression=none"`,
            secrets: ["PUSH_TOKEN"],
          },
        ]);
        // A pull request from a fork: no secrets at all. It reads, builds, and writes nothing.
        let r = job(dir, build, cleanEnv());
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain("not saving: the cache is signed");
        expect(narinfoPuts(http)).toBe(0);

        // The signing key, but not the push command's secret: the nix copy push goes, the command's does not.
        deleteGraph(tag);
        r = job(dir, build, withKey());
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr).toContain(`not pushing to ${http.url}/?unused=1: this job has no PUSH_TOKEN`);
        expect(narinfoPuts(http)).toBeGreaterThan(0);
        expect(run(`ls "$O"`, { env: cleanEnv({ O: other }) }).stdout.trim()).toBe("");

        // With it, the command gets the paths on stdin.
        deleteGraph(tag);
        run(`rm -rf "$D/.nix-ci-cache/cache"`, { env: cleanEnv({ D: dir }) });
        r = job(dir, build, withKey({ PUSH_TOKEN: "t" }));
        expect(r.status, r.stderr).toBe(0);
        const copied = run(`ls "$O/cache" | grep -c narinfo`, { env: cleanEnv({ O: other }) }).stdout.trim();
        expect(Number(copied)).toBe(Number(lastSave(join(dir, CACHE)).added));
      });
    } finally {
      await http.stop();
    }
  });

  it("a remote that is down, and one that accepts and never answers, cost one wait of upstreamTimeout at the job's start, and the job succeeds", async () => {
    const hang = await startHangingServer();
    const closed = await closedPort();
    const timeout = 2;
    try {
      await withGraphProject("upstream-down", {}, 3, ({ dir, build }) => {
        configure(dir, [{ url: hang.url }, { url: `http://127.0.0.1:${closed}` }], timeout);
        const t0 = Date.now();
        const env = run(". .nix-ci-cache/env.sh", { cwd: dir, env: withKey() });
        const envSeconds = (Date.now() - t0) / 1000;
        expect(env.status, env.stderr).toBe(0);
        expect(env.stderr).toContain(`the shared cache ${hang.url} did not answer within ${timeout} s`);
        expect(env.stderr).toContain(`the shared cache http://127.0.0.1:${closed} did not answer within ${timeout} s`);
        // Both were asked at once, each in one attempt.
        expect(envSeconds).toBeLessThan(timeout + 2);

        // Nix's own retries would cost 5 attempts of the timeout for each Nix call that
        // asks a substituter: two builds and the save ask several times.
        const t1 = Date.now();
        const r = job(dir, `${build} && ${build.replace("--no-out-link", "-A p0 --no-out-link")}`, withKey());
        const jobSeconds = (Date.now() - t1) / 1000;
        expect(r.status, r.stderr).toBe(0);
        expect(countBuilt(r.stderr)).toBe(4);
        expect(jobSeconds).toBeLessThan(timeout + 8);
        expect(r.stderr).toContain(`not pushed to ${hang.url}`);
        const save = lastSave(join(dir, CACHE));
        expect(save).toMatchObject({ push_failed: "2", pushed: "0" });
        // Kept for the next job's push.
        const unpushed = readFileSync(join(dir, CACHE, "nix-ci-cache", "unpushed.0"), "utf8")
          .trim()
          .split("\n");
        expect(unpushed).toHaveLength(Number(save.added));
      });
    } finally {
      await hang.stop();
    }
  });

  it("a push that fails at the save (the remote went down during the job) is made by the next job", async () => {
    const where = scratchDir("ncc-http-");
    let http = await startHttpCache(where);
    try {
      await withGraphProject("upstream-later", {}, 3, async ({ dir, build }) => {
        configure(dir, [{ url: http.url }]);
        const r = run(`. .nix-ci-cache/env.sh && ${build}`, { cwd: dir, env: withKey() });
        expect(r.status, r.stderr).toBe(0);
        await http.stop();
        const save = run(".nix-ci-cache/save.sh", { cwd: dir, env: withKey() });
        expect(save.status, save.stderr).toBe(0);
        expect(save.stderr).toMatch(/not pushed to \S+ \(\d+ paths\): it does not answer now/);
        const n = Number(lastSave(join(dir, CACHE)).added);
        expect(n).toBeGreaterThan(0);

        // Back (on another port: the config names it), and a job that adds nothing pushes what was left.
        http = await startHttpCache(where);
        configure(dir, [{ url: http.url }]);
        const next = job(dir, build, withKey());
        expect(next.status, next.stderr).toBe(0);
        expect(narinfoPuts(http)).toBe(n);
        expect(lastSave(join(dir, CACHE))).toMatchObject({ added: "0", pushed: String(n), push_failed: "0" });
      });
    } finally {
      await http.stop();
    }
  });

  it("doctor says which shared caches answer, that this Nix 2.8.0 cannot open s3://, and which secrets a push would miss", async () => {
    const http = await startHttpCache(scratchDir("ncc-http-"));
    try {
      await withGraphProject("upstream-doctor", {}, 1, ({ dir }) => {
        configure(dir, [{ url: http.url }, { url: "s3://bucket?endpoint=http://127.0.0.1:9&region=us-east-1" }]);
        const r = run("sh .nix-ci-cache/doctor.sh", { cwd: dir, env: cleanEnv({ NIX_CI_CACHE_SIGNING_KEY: pair.secret }) });
        expect(r.stdout).toContain(`✓ the shared cache ${http.url} answers`);
        expect(r.stdout).toContain("! this Nix (2.8.0) cannot open s3:// stores");
        expect(r.stdout).toContain(
          "! no AWS_ACCESS_KEY_ID in this environment: a job like this one would not push to s3://bucket",
        );
        expect(r.stdout).not.toContain("no NIX_CI_CACHE_SIGNING_KEY");
      });
    } finally {
      await http.stop();
    }
  });

  it("ssh-ng://: runner B builds none of what runner A pushed through OpenSSH on loopback to another store (this machine's Nix 2.8.0; the key from NIX_CI_CACHE_SSH_KEY)", async () => {
    const ssh = await startSshStore(scratchDir("ncc-sshd-"), { trustedPublicKeys: [pair.public] });
    try {
      await withGraphProject("upstream-ssh", {}, 4, ({ dir, tag, build }) => {
        configure(dir, [{ url: ssh.url }]);
        // The port through NIX_SSHOPTS (Nix 2.8 takes none in the URL), as a user would set it.
        const env = withKey({ NIX_SSHOPTS: ssh.sshOpts, NIX_CI_CACHE_SSH_KEY: ssh.privateKey, HOME: scratchDir("ncc-home-") });
        const a = job(dir, build, env);
        expect(a.status, a.stderr).toBe(0);
        expect(countBuilt(a.stderr)).toBe(5);
        const saveA = lastSave(join(dir, CACHE));
        expect(saveA).toMatchObject({ pushed: saveA.added, push_failed: "0" });
        const remote = run(`ls "$S/nix/store" | grep -c -- "-${tag}$"`, { env: cleanEnv({ S: ssh.storeRoot }) });
        expect(Number(remote.stdout.trim())).toBe(Number(saveA.added));

        deleteGraph(tag);
        const dirB = checkout(dir);
        const b = job(dirB, build, env);
        expect(b.status, b.stderr).toBe(0);
        expect(countBuilt(b.stderr)).toBe(0);
        expect(b.stderr).toContain(`from '${ssh.url.split("?")[0]}`);
        expect(lastSave(join(dirB, CACHE))).toMatchObject({ from_upstream: "4", built: "1", pushed: "0" });

        // Without the key (a fork's pull request): the store does not answer it, so the job
        // leaves it out at once and builds.
        deleteGraph(tag);
        const c = job(checkout(dir), build, cleanEnv({ NIX_SSHOPTS: ssh.sshOpts, HOME: scratchDir("ncc-home-") }));
        expect(c.status, c.stderr).toBe(0);
        expect(c.stderr).toContain(`the shared cache ${ssh.url} did not answer`);
        expect(countBuilt(c.stderr)).toBe(5);
      });
    } finally {
      await ssh.stop();
    }
  });

  it("s3:// (moto on loopback): runner B builds none of what runner A pushed, both on Debian's newest Nix in stores of their own", async () => {
    const s3 = await startS3(scratchDir("ncc-moto-"));
    try {
      // The graph's toolchain and its source have the same contents, so one NAR: Nix
      // uploads it for both at once, and moto refuses the second unsigned PUT (HTTP 403;
      // Debian's Nix 2.34.8 has no AWS SDK and signs no request). The source stays out.
      await withGraphProject("upstream-s3", {}, 4, ({ dir, build }) => {
        configure(dir, [{ url: s3.url }], 5, ["busybox-src-*"]);
        const suite = suites()[2] as string;
        // Nix remembers binary caches in ~/.cache: a HOME of the test's own, not the root's.
        const env = withKey({ ...s3.env, HOME: scratchDir("ncc-home-") });
        const a = run(JOB(build), { cwd: dir, env, site: withNewStore(rootSite(suite), scratchDir("ncc-nix-")) });
        expect(a.status, a.stderr).toBe(0);
        expect(countBuilt(a.stderr)).toBe(5);
        const saveA = lastSave(join(dir, CACHE));
        expect(saveA, a.stderr).toMatchObject({ pushed: saveA.added, push_failed: "0" });

        const dirB = checkout(dir);
        const b = run(JOB(build), { cwd: dirB, env, site: withNewStore(rootSite(suite), scratchDir("ncc-nix-")) });
        expect(b.status, b.stderr).toBe(0);
        expect(countBuilt(b.stderr)).toBe(0);
        expect(lastSave(join(dirB, CACHE))).toMatchObject({ from_upstream: "4", built: "1", pushed: "0" });
      });
      expect((await s3.keys()).filter((k) => k.endsWith(".narinfo")).length).toBeGreaterThan(0);
    } finally {
      await s3.stop();
    }
  });

  it("under a Nix daemon that does not trust the job's user (root here), env.sh writes the remote and its key into the daemon's nix.conf, and a new runner substitutes from it through the daemon", async () => {
    const http = await startHttpCache(scratchDir("ncc-http-"));
    const d = startDaemon({ trustedUsers: "" });
    try {
      await withGraphProject("upstream-daemon", {}, 3, ({ dir, tag, build }) => {
        configure(dir, [{ url: http.url }]);
        const env = d.clientEnv(undefined, { NIX_CI_CACHE_DAEMON_RESTART: d.restartCommand, ...KEY_ENV });
        const a = run(JOB(build), { cwd: dir, env });
        expect(a.status, a.stderr).toBe(0);
        expect(a.stderr).toContain(`wrote the cache settings to ${d.conf}`);
        const conf = readText(d.conf);
        expect(conf).toContain(`extra-substituters = ${http.url}\n`);
        expect(conf).toContain("connect-timeout = 5\n");
        expect(conf).toContain(`extra-trusted-public-keys = ${pair.public}\n`);
        const save = lastSave(join(dir, CACHE));
        expect(narinfoPuts(http)).toBe(Number(save.added));

        deleteGraph(tag);
        const b = run(JOB(build), { cwd: checkout(dir), env });
        expect(b.status, b.stderr).toBe(0);
        expect(countBuilt(b.stderr)).toBe(0);
        expect(b.stderr).toContain(`from '${http.url}'`);
      });
    } finally {
      d.stop();
      await http.stop();
    }
  });
});
