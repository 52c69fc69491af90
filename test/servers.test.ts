// The loopback servers of test/support/servers.ts against real Nix: each one is what
// Nix takes it for (an HTTP binary cache, an ssh-ng:// store, an S3 bucket, a
// substituter that hangs or refuses), shown by a push and a substitution, or by the
// time Nix takes to give up on it. A missing server program fails the test.
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cleanEnv, countBuilt, deleteGraph, isValid, run, uniqueTag, writeGraph } from "./support/nix.js";
import { scratchDir } from "./support/scratch.js";
import { closedPort, type Server, startHangingServer, startHttpCache, startS3, startSshStore } from "./support/servers.js";
import { rootNixVersion, rootSite, suites, withNewStore } from "./support/sites.js";

const started: Server[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});
function keep<T extends Server>(s: T): T {
  started.push(s);
  return s;
}

/** A signing key pair made by Nix: [secret key file, public key]. */
function signingKey(dir: string, name: string): [string, string] {
  const r = run(`nix-store --generate-binary-cache-key ${name} sk pk && cat pk`, { cwd: dir });
  expect(r.status, r.stderr).toBe(0);
  return [join(dir, "sk"), r.stdout.trim()];
}

/** Builds p1 (which refers to p0) of a new hermetic graph on this machine: [dir, tag, p1's path]. */
function buildSmall(label: string): [string, string, string] {
  const dir = scratchDir(`ncc-srv-${label}-`);
  const tag = uniqueTag();
  writeGraph(dir, tag, 2);
  const r = run("nix-build graph.nix -A p1 --no-out-link", { cwd: dir });
  expect(r.status, r.stderr).toBe(0);
  return [dir, tag, r.stdout.trim()];
}

/** A server that fails costs seconds, not minutes. */
const BOUNDED = "--option connect-timeout 5 --option stalled-download-timeout 5 --option download-attempts 2";

const seconds = (t0: number) => (Date.now() - t0) / 1000;

describe("servers on loopback (real Nix)", () => {
  it("nginx: Nix 2.8 pushes a signed closure with PUTs and, with it deleted, substitutes it from there alone", async () => {
    const [dir, tag, p1] = buildSmall("http");
    const [sk, pk] = signingKey(dir, "srv-http-1");
    const cache = keep(await startHttpCache(join(dir, "nginx"), { priority: 30 }));
    expect(await (await fetch(`${cache.url}/nix-cache-info`)).text()).toBe("StoreDir: /nix/store\nPriority: 30\n");

    // Bounded: an upload nginx refuses costs Nix 2.8 a minute per attempt otherwise.
    let r = run(`nix copy --to "$U?compression=zstd&secret-key=$K" "$P" ${BOUNDED}`, {
      env: cleanEnv({ U: cache.url, K: sk, P: p1 }),
    });
    expect(r.status, r.stderr).toBe(0);
    const puts = cache.requests().filter((q) => q.method === "PUT");
    expect(puts.filter((q) => q.path.endsWith(".narinfo")).map((q) => q.status)).toEqual([201, 201]);
    expect(puts.filter((q) => /^\/nar\/[a-z0-9]+\.nar\.zst$/.test(q.path))).toHaveLength(2);
    const narinfo = await (
      await fetch(`${cache.url}/${p1.slice("/nix/store/".length, "/nix/store/".length + 32)}.narinfo`)
    ).text();
    expect(narinfo).toMatch(/^Sig: srv-http-1:\S+$/m);
    expect(narinfo).toMatch(/^Compression: zstd$/m);

    deleteGraph(tag);
    const before = cache.requests().length;
    r = run(`nix-store -r "$P" --option substituters "$U" --option trusted-public-keys "$PK"`, {
      env: cleanEnv({ U: cache.url, P: p1, PK: pk }),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(countBuilt(r.stderr)).toBe(0);
    expect(isValid(p1)).toBe(true);
    const gets = cache.requests().slice(before);
    expect(gets.filter((q) => q.method === "GET" && q.path.startsWith("/nar/") && q.status === 200)).toHaveLength(2);
    expect(gets.filter((q) => q.method === "PUT")).toEqual([]);
  });

  it("a substituter that accepts and never answers costs Nix 2.8 stalled-download-timeout per attempt; with download-attempts = 1 the build falls back in under 4 s; a closed port costs little; ssh's ConnectTimeout bounds it", async () => {
    const hang = keep(await startHangingServer());
    const closed = await closedPort();
    const timeouts = "--option connect-timeout 2 --option stalled-download-timeout 2 --option fallback true";
    const timed = (substituter: string, extra: string) => {
      const [dir, tag] = [scratchDir("ncc-srv-hang-"), uniqueTag()];
      writeGraph(dir, tag, 1);
      const t0 = Date.now();
      const r = run(`nix-build graph.nix -A p0 --no-out-link --option substituters "$U" ${timeouts} ${extra}`, {
        cwd: dir,
        env: cleanEnv({ U: substituter }),
      });
      const s = seconds(t0);
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(2);
      deleteGraph(tag);
      return s;
    };
    const once = timed(hang.url, "--option download-attempts 1");
    const closedOnce = timed(`http://127.0.0.1:${closed}`, "--option download-attempts 1");
    const closedDefault = timed(`http://127.0.0.1:${closed}`, "");
    const hangDefault = timed(hang.url, "");
    console.log(
      `hanging substituter: ${once} s with download-attempts = 1, ${hangDefault} s with the default attempts; ` +
        `closed port: ${closedOnce} s and ${closedDefault} s`,
    );
    expect(await hang.connections()).toBeGreaterThanOrEqual(2);
    expect(once).toBeLessThan(4);
    expect(once).toBeGreaterThanOrEqual(2);
    expect(hangDefault).toBeGreaterThan(2 * once);
    expect(closedOnce).toBeLessThan(2);

    // ssh's ConnectTimeout covers the banner exchange too: a server that accepts and
    // never speaks costs that long, through ssh-ng:// as well.
    const dir = scratchDir("ncc-srv-hang-ssh-");
    let t0 = Date.now();
    let r = run(`ssh -o ConnectTimeout=2 -o BatchMode=yes -p ${hang.port} root@127.0.0.1 true`, { env: cleanEnv({ HOME: dir }) });
    const sshAlone = seconds(t0);
    expect(r.status).toBe(255);
    expect(r.stderr).toContain("Connection timed out during banner exchange");
    t0 = Date.now();
    r = run(`nix store ping --store ssh-ng://root@127.0.0.1`, {
      env: cleanEnv({ HOME: dir, NIX_SSHOPTS: `-p ${hang.port} -o ConnectTimeout=2` }),
    });
    const throughNix = seconds(t0);
    console.log(`ssh -o ConnectTimeout=2 on the hanging server: ${sshAlone} s alone, ${throughNix} s through nix store ping`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Connection timed out during banner exchange");
    expect(sshAlone).toBeLessThan(4);
    expect(throughNix).toBeLessThan(4);
  });

  it("ssh-ng: Nix 2.8 pushes a signed closure to sshd's other store and substitutes it back from there alone, and so does the newest Debian Nix", async () => {
    const [dir, tag, p1] = buildSmall("ssh");
    const [sk, pk] = signingKey(dir, "srv-ssh-1");
    let r = run(`nix store sign --key-file "$K" -r "$P"`, { env: cleanEnv({ K: sk, P: p1 }) });
    expect(r.status, r.stderr).toBe(0);
    const ssh = keep(await startSshStore(join(dir, "sshd"), { trustedPublicKeys: [pk] }));
    const env = cleanEnv({ U: `${ssh.url}&ssh-key=${ssh.keyFile}`, NIX_SSHOPTS: ssh.sshOpts, P: p1, PK: pk });

    r = run(`nix copy --to "$U" "$P"`, { env });
    expect(r.status, r.stderr).toBe(0);
    const remote = run(`ls "${ssh.storeRoot}/nix/store"`).stdout;
    expect(remote).toContain(p1.slice("/nix/store/".length));
    expect(remote.split("\n").filter((n) => n.endsWith(`-${tag}`))).toHaveLength(2);

    deleteGraph(tag);
    r = run(`nix-store -r "$P" --option substituters "$U" --option trusted-public-keys "$PK"`, { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`copying path '${p1}' from 'ssh-ng://root@127.0.0.1'`);
    expect(isValid(p1)).toBe(true);
    r = run(`nix path-info --sigs "$P"`, { env });
    expect(r.stdout).toContain("srv-ssh-1:");

    // The newest Debian Nix, on a store of its own, with this machine's ssh client (sid
    // has its libraries; the root has no ssh of its own): the same URL and NIX_SSHOPTS,
    // and the port in the URL too, which Nix 2.8 takes for part of the host name.
    const site = withNewStore(rootSite(suites()[2] as string), scratchDir("ncc-srv-ssh-nix-"));
    const bin = join(dir, "bin");
    mkdirSync(bin);
    copyFileSync("/usr/bin/ssh", join(bin, "ssh"));
    chmodSync(join(bin, "ssh"), 0o755);
    const sidEnv = { ...env, PATH: `${bin}:${env.PATH}`, HOME: dir, NIX_CONFIG: `${env.NIX_CONFIG}\nbuild-users-group =` };
    r = run(`nix-store -r "$P" --option substituters "$U" --option trusted-public-keys "$PK"`, { env: sidEnv, site });
    expect(r.status, `${rootNixVersion(site)}: ${r.stderr}`).toBe(0);
    expect(isValid(p1, sidEnv, site)).toBe(true);
    const inUrl = `${ssh.url.replace("@127.0.0.1?", `@127.0.0.1:${ssh.port}?`)}&ssh-key=${ssh.keyFile}`;
    r = run(`nix store ping --store "$U"`, { env: { ...sidEnv, U: inUrl, NIX_SSHOPTS: "" }, site });
    expect(r.status, r.stderr).toBe(0);
    r = run(`nix store ping --store "$U"`, { env: { ...env, U: inUrl, NIX_SSHOPTS: "" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`Could not resolve hostname 127.0.0.1:${ssh.port}`);
  });

  it("S3 (moto): sid's Nix pushes a signed closure to the bucket and, with it deleted, substitutes it back; Nix 2.8 cannot open s3://", async () => {
    const newest = suites()[2] as string;
    const dir = scratchDir("ncc-srv-s3-");
    const site = withNewStore(rootSite(newest), scratchDir("ncc-srv-s3-nix-"));
    const s3 = keep(await startS3(join(dir, "moto")));
    const tag = uniqueTag();
    writeGraph(dir, tag, 2);
    const env = cleanEnv({
      ...s3.env,
      NIX_CONFIG: "substituters =\nexperimental-features = nix-command\nbuild-users-group =",
      // Nix's cache of binary cache facts goes here, not into the shared root's /root.
      HOME: dir,
      U: s3.url,
    });
    let r = run(
      `nix-store --generate-binary-cache-key srv-s3-1 sk pk && p=$(nix-build graph.nix -A p1 --no-out-link) &&
       nix store sign --key-file sk -r "$p" && nix copy --to "$U" "$p" && echo "$p"`,
      { cwd: dir, env, site },
    );
    expect(r.status, r.stderr).toBe(0);
    const p1 = r.stdout.trim().split("\n").pop() as string;
    const keys = await s3.keys();
    expect(keys.filter((k) => k.endsWith(".narinfo"))).toHaveLength(2);
    expect(keys.filter((k) => k.startsWith("nar/"))).toHaveLength(2);
    expect(keys).toContain("nix-cache-info");

    deleteGraph(tag, site);
    r = run(`nix-store -r "$P" --option substituters "$U" --option trusted-public-keys "$(cat pk)"`, {
      cwd: dir,
      env: { ...env, P: p1 },
      site,
    });
    expect(r.status, `${rootNixVersion(site)}: ${r.stderr}`).toBe(0);
    expect(r.stderr).toContain(`copying path '${p1}' from 's3://`);
    expect(isValid(p1, env, site)).toBe(true);

    r = run(`nix store ping --store "$U"`, { env });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`don't know how to open Nix store '${s3.url}'`);
  });
});
