// A signed cache against real Nix: save.sh signs with the secret key from the job's
// environment, jobs accept only what the configured public key signed, and what they
// refuse is built instead and replaced by the next save.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPair } from "../src/keygen.js";
import { cleanEnv, countBuilt, deleteGraph, run, writeRuntime } from "./support/nix.js";
import { runtimeContext } from "./support/render-runtime.js";
import { CACHE, cachedNames, expectClosureComplete, job, lastSave, withGraphProject } from "./support/save.js";
import { scratchDir } from "./support/scratch.js";

/** The narinfo texts of a cache, by store path name. */
function narinfos(cache: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of readdirSync(cache).filter((f) => f.endsWith(".narinfo"))) {
    const text = readFileSync(join(cache, n), "utf8");
    out.set(/^StorePath: \/nix\/store\/[a-z0-9]+-(.*)$/m.exec(text)?.[1] ?? n, text);
  }
  return out;
}

const withKey = (secret: string) => cleanEnv({ NIX_CI_CACHE_SIGNING_KEY: secret });

describe("signed cache (real Nix)", () => {
  it("saves signed entries, a warm job takes them through trusted-public-keys alone, and a forged signature is refused, built and replaced", async () => {
    const pair = generateKeyPair("ci-test-1");
    await withGraphProject("signed", { publicKey: pair.public }, 4, ({ dir, tag, build }) => {
      let r = job(dir, `${build} && printf '%s\\n' "$NIX_CONFIG" >nix-config`, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(5);
      const config = readFileSync(join(dir, "nix-config"), "utf8");
      expect(config).toContain(`extra-trusted-public-keys = ${pair.public}`);
      expect(config).not.toContain("trusted=1");
      const cache = join(dir, CACHE);
      const saved = narinfos(cache);
      expect(saved.size).toBe(6);
      for (const [name, text] of saved) expect(text, name).toMatch(/^Sig: ci-test-1:\S+$/m);

      // A warm job: everything comes from the cache, checked against the public key.
      deleteGraph(tag);
      r = job(dir, build, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);

      // Someone who can write the cache signs p1 with a key of the same name.
      const attacker = generateKeyPair("ci-test-1");
      const other = scratchDir("ncc-attacker-");
      writeFileSync(join(other, "key"), attacker.secret);
      const p1 = run(`nix-build graph.nix -A p1 --no-out-link`, { cwd: dir, env: cleanEnv() }).stdout.trim();
      const forged = run(`nix copy --to "file://$O/cache?compression=zstd&secret-key=$O/key" "$P"`, {
        env: cleanEnv({ O: other, P: p1 }),
      });
      expect(forged.status, forged.stderr).toBe(0);
      // Nix copies the path's signatures along (ours, from the substitution): keep only the attacker's.
      const hash = p1.slice("/nix/store/".length, "/nix/store/".length + 32);
      const ours = saved.get(`p1-${tag}`) as string;
      const ourSig = /^Sig: .*$/m.exec(ours)?.[0] as string;
      const theirSig = readFileSync(join(other, "cache", `${hash}.narinfo`), "utf8")
        .split("\n")
        .find((l) => l.startsWith("Sig: ") && l !== ourSig) as string;
      expect(theirSig).toMatch(/^Sig: ci-test-1:/);
      writeFileSync(join(cache, `${hash}.narinfo`), ours.replace(ourSig, theirSig));

      // Refused and built instead; the save replaces it with one of its own.
      deleteGraph(tag);
      r = job(dir, build, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(1);
      expect(r.stderr).toMatch(/removed 1 cache entries whose signature Nix does not trust/);
      expect(lastSave(cache)).toMatchObject({ repaired: "1", paths: "6" });
      expect(narinfos(cache).get(`p1-${tag}`)).toBe(saved.get(`p1-${tag}`));
      expectClosureComplete(cache);

      deleteGraph(tag);
      r = job(dir, build, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
    });
  });

  it("without the secret key a job saves nothing and passes; with a key of another pair, save fails and names both", async () => {
    const pair = generateKeyPair("ci-test-1");
    await withGraphProject("nokey", { publicKey: pair.public }, 2, ({ dir, tag, build }) => {
      const summary = join(dir, "step-summary.md");
      let r = job(dir, build, cleanEnv({ GITHUB_STEP_SUMMARY: summary }));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/not saving: the cache is signed .* no NIX_CI_CACHE_SIGNING_KEY/);
      expect(cachedNames(join(dir, CACHE))).toEqual([]);
      expect(readFileSync(summary, "utf8")).toMatch(/not saved/);
      // What Azure Pipelines passes when the secret variable is not defined.
      r = job(dir, build, withKey("$(NIX_CI_CACHE_SIGNING_KEY)"));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/not saving/);
      expect(cachedNames(join(dir, CACHE))).toEqual([]);

      deleteGraph(tag);
      r = job(dir, build, withKey(generateKeyPair("ci-test-1").secret));
      expect(r.status).toBe(92);
      expect(r.stderr).toMatch(
        /belongs to the public key 'ci-test-1:\S+', but publicKey in \.nix-ci-cache\/config\.yaml is 'ci-test-1:/,
      );
      expect(cachedNames(join(dir, CACHE))).toEqual([]);

      deleteGraph(tag);
      r = job(dir, build, withKey(generateKeyPair("elsewhere-1").secret));
      expect(r.status).toBe(92);
      expect(r.stderr).toMatch(/holds a key named 'elsewhere-1', but publicKey .* is named 'ci-test-1'/);
      expect(cachedNames(join(dir, CACHE))).toEqual([]);

      // The key as a file, for providers that hand secrets over that way; a file that is
      // not there is a build that got no secrets.
      deleteGraph(tag);
      r = job(dir, build, cleanEnv({ NIX_CI_CACHE_SIGNING_KEY_FILE: join(dir, "key-file") }));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/not saving/);
      expect(cachedNames(join(dir, CACHE))).toEqual([]);
      writeFileSync(join(dir, "key-file"), `${pair.secret}\n`);
      deleteGraph(tag);
      r = job(dir, build, cleanEnv({ NIX_CI_CACHE_SIGNING_KEY_FILE: join(dir, "key-file") }));
      expect(r.status, r.stderr).toBe(0);
      expect(cachedNames(join(dir, CACHE)).length).toBe(4);
    });
  });

  it("an unsigned cache is signed by the first save with a key, and then serves a warm job", async () => {
    const pair = generateKeyPair("ci-test-2");
    await withGraphProject("migrate", {}, 3, ({ dir, tag, build }) => {
      let r = job(dir, build);
      expect(r.status, r.stderr).toBe(0);
      const cache = join(dir, CACHE);
      const before = narinfos(cache);
      expect(before.size).toBe(5);
      for (const text of before.values()) expect(text).not.toMatch(/^Sig:/m);

      writeRuntime(dir, runtimeContext("file", CACHE, "zstd", { publicKey: pair.public }));
      deleteGraph(tag);
      r = job(dir, build, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      // Unsigned entries are refused, so this job builds everything; the save replaces them all.
      expect(countBuilt(r.stderr)).toBe(4);
      expect(lastSave(cache)).toMatchObject({ repaired: "5", paths: "5" });
      for (const text of narinfos(cache).values()) expect(text).toMatch(/^Sig: ci-test-2:/m);
      expectClosureComplete(cache);

      deleteGraph(tag);
      r = job(dir, build, withKey(pair.secret));
      expect(r.status, r.stderr).toBe(0);
      expect(countBuilt(r.stderr)).toBe(0);
    });
  });
});
