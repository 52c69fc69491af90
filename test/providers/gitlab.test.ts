import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "../../src/cli.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { type GitlabCacheStanza, type GitlabJob, gitlabCacheKeys, gitlabSlug } from "../support/gitlab-cache.js";
import { BASE_NIX_CONFIG, countBuilt, requireNix } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, type Project, projectWithGraph } from "../support/provider-run.js";
import { gitlabSchemaErrors, runGitlabCiLocal, shellcheckErrors } from "../support/validators.js";

const INCLUDE = ".gitlab/nix-ci-cache.yml";
const withGitlab = exampleDirs(INCLUDE);

interface HiddenJob {
  cache: GitlabCacheStanza & { paths: string[]; when: string };
  variables: Record<string, string>;
  before_script: string[];
  after_script: string[];
}

const hiddenJobs = (dir: string): Record<string, HiddenJob> => parse(readFileSync(join(dir, INCLUDE), "utf8"));

/** Go's duration format, as the runner reads RUNNER_AFTER_SCRIPT_TIMEOUT, in minutes. */
function minutes(duration: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || duration === "") throw new Error(`not a Go duration: ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 60;
}

describe("GitLab CI files", () => {
  it.each(withGitlab)("examples/%s: the hidden jobs always save, give after_script time, and pass shellcheck", async (name) => {
    for (const job of Object.values(hiddenJobs(join(examples, name)))) {
      expect(job.cache.when).toBe("always");
      // after_script only saves for cancelled jobs, but then it must be able to finish
      // a large save: more than the runner's default of 5 minutes.
      expect(minutes(job.variables.RUNNER_AFTER_SCRIPT_TIMEOUT ?? "")).toBeGreaterThan(5);
      // GitLab runs before_script and script in one shell, after_script in another.
      for (const lines of [job.before_script, job.after_script]) {
        expect(await shellcheckErrors(lines.join("\n"), "bash", ["SC1091"])).toEqual([]);
      }
    }
  });

  it("the schema check can fail: a broken cache stanza is reported", () => {
    const text = readFileSync(join(examples, "demo", INCLUDE), "utf8").replace("when: always", "when: sometimes");
    expect(gitlabSchemaErrors(text)).toContainEqual(
      expect.stringMatching(/^\/\.nix-ci-cache\/cache\/when: must be equal to one of the allowed values/),
    );
  });
});

describe("GitLab cache keys: GitLab's documented key rules, emulated and applied to the generated files", () => {
  // A default branch whose name has capitals, "/" and "_": its slug is what it saves under.
  const defaultBranches = ["main", "Release/Main_2"];
  const jobsOf = (defaultBranch: string): Array<GitlabJob & { name: string }> => [
    { name: "the default branch", ref: defaultBranch, protected: true, defaultBranch },
    { name: "a new protected branch", ref: "stable-2", protected: true, defaultBranch },
    { name: "a protected tag", ref: "v2.0", protected: true, defaultBranch },
    { name: "a new unprotected branch", ref: "topic/x", protected: false, defaultBranch },
    // Its slug is the default branch's: only the suffix keeps them apart.
    {
      name: "an unprotected branch named like the default one",
      ref: `${defaultBranch.toUpperCase()}-`,
      protected: false,
      defaultBranch,
    },
  ];
  const stanza = (name: string) => (hiddenJobs(join(examples, name))[".nix-ci-cache"] as HiddenJob).cache;

  it.each(defaultBranches)(
    "unsigned (default %s): a new protected branch starts from the default branch's cache, a new unprotected one starts cold",
    (defaultBranch) => {
      const cache = stanza("gitlab/linux");
      expect(cache.unprotect).toBeUndefined();
      const jobs = jobsOf(defaultBranch);
      const saved = gitlabCacheKeys(cache, jobs[0] as GitlabJob).writes;
      expect(saved).toBe(`nix-ci-cache-linux-${gitlabSlug(defaultBranch)}-protected`);
      expect(gitlabCacheKeys(cache, jobs[1] as GitlabJob).reads).toContain(saved);
      expect(gitlabCacheKeys(cache, jobs[3] as GitlabJob).reads).not.toContain(saved);
    },
  );

  it.each(defaultBranches)(
    "unsigned (default %s): no protected job restores a key that an unprotected job writes",
    (defaultBranch) => {
      const cache = stanza("gitlab/linux");
      const jobs = jobsOf(defaultBranch);
      const written = new Set(jobs.filter((j) => !j.protected).map((j) => gitlabCacheKeys(cache, j).writes));
      for (const job of jobs.filter((j) => j.protected)) {
        expect(
          gitlabCacheKeys(cache, job).reads.filter((k) => written.has(k)),
          job.name,
        ).toEqual([]);
      }
    },
  );

  it.each(defaultBranches)(
    "signed (default %s): a new unprotected branch's first job restores the default branch's cache",
    (defaultBranch) => {
      const cache = stanza("gitlab/signed");
      expect(cache.unprotect).toBe(true);
      const jobs = jobsOf(defaultBranch);
      const saved = gitlabCacheKeys(cache, jobs[0] as GitlabJob).writes;
      const topic = gitlabCacheKeys(cache, jobs[3] as GitlabJob).reads;
      // Its own key does not exist yet: the first hit is the fallback.
      expect(topic[0]).not.toBe(saved);
      expect(topic[1]).toBe(saved);
      // The price: an unprotected job can write what the default branch restores. Only
      // entries signed by the key, which it does not have, are accepted from it
      // (runtime-signing.test.ts).
      expect(gitlabCacheKeys(cache, jobs[4] as GitlabJob).writes).toBe(saved);
    },
  );

  it("the emulation can fail: an unslugged fallback key misses the default branch's cache", () => {
    const cache = stanza("gitlab/signed");
    const unslugged = { ...cache, fallback_keys: cache.fallback_keys?.map((k) => k.replace("_SLUG", "")) };
    const job: GitlabJob = { ref: "topic", protected: false, defaultBranch: "Main" };
    const saved = gitlabCacheKeys(unslugged, { ...job, ref: "Main", protected: true }).writes;
    expect(gitlabCacheKeys(unslugged, job).reads).not.toContain(saved);
    expect(() => gitlabCacheKeys(unslugged, { ...job, defaultBranch: "release/main" })).toThrow(/has a "\/"/);
  });
});

/** The lines save.sh printed when it saved (gitlab-ci-local repeats a failed job's log at the end). */
const saves = (output: string) => [...new Set(output.split("\n").filter((l) => /nix-ci-cache: saved \d+ new paths/.test(l)))];

/** How many paths save.sh said it saved. */
const savedCount = (output: string) => Number(/nix-ci-cache: saved (\d+) new paths/.exec(output)?.[1]);

const narinfoCount = (cacheDir: string) => readdirSync(cacheDir).filter((f) => f.endsWith(".narinfo")).length;

/**
 * One job of the checkout's .gitlab-ci.yml run by gitlab-ci-local; `args` choose where
 * it runs. Its log without gitlab-ci-local's prefixes: "job > line" while it runs, a
 * failed job's lines again at the end as "  > line".
 */
async function runGitlabJob(dir: string, name: string, args: string[], variables: Record<string, string> = {}) {
  const vars = { NIX_CONFIG: BASE_NIX_CONFIG, ...variables };
  const result = await runGitlabCiLocal(
    dir,
    ["--force-shell-executor", ...args, ...Object.entries(vars).flatMap(([k, v]) => ["--variable", `${k}=${v}`]), name],
    120_000,
  );
  const output = `${result.stdout}${result.stderr}`.replace(/^(?:\S+ | +)> /gm, "");
  return { code: result.code, output, built: countBuilt(output) };
}

describe("GitLab CI jobs run by gitlab-ci-local on real Nix, the cache carried by gitlab-ci-local's own cache", () => {
  const KEY = "nix-ci-cache-linux-main";

  /**
   * A checkout that is a git repository on main, as --shell-isolation needs (it copies
   * the files git knows into .gitlab-ci-local/builds/<job>), with the jobs given.
   * Their after_script is empty: gitlab-ci-local copies the checkout over the build
   * directory again before after_script, which GitLab does not (validators.test.ts
   * shows it), and so would throw away the cache that the EXIT trap has just written.
   * What after_script does is run in place, in the next describe.
   */
  function repository(project: Project, name: string, jobs: Record<string, { script: string[] }>): string {
    const dir = checkout(project, name);
    const file = join(dir, ".gitlab-ci.yml");
    const pipeline = parse(readFileSync(file, "utf8"));
    for (const [job, { script }] of Object.entries(jobs)) {
      pipeline[job] = { extends: ".nix-ci-cache", script, after_script: [] };
    }
    writeFileSync(file, stringify(pipeline));
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
    execFileSync("git", ["add", "-A"], { cwd: dir });
    return dir;
  }

  /** The job in a build directory of its own; its `cache:` restored and saved by gitlab-ci-local. */
  async function isolatedJob(project: Project, dir: string, name: string) {
    const result = await runGitlabJob(dir, name, ["--shell-isolation"]);
    forgetGraph(project, join(dir, ".gitlab-ci-local", "builds", name));
    return result;
  }

  const cacheOf = (dir: string) => join(dir, ".gitlab-ci-local", "cache", KEY, ".nix-ci-cache", "cache");

  it.each([
    ["a cold job", "build", 0, /^ PASS {2}build$/m],
    ["a cold job that fails (`when: always`)", "fails", 1, /^fails finished in .* FAIL 3/m],
  ] as const)(
    "%s saves under its branch's key; the next job on the branch restores it and builds nothing (gitlab-ci-local's own cache)",
    async (_, job, code, verdict) => {
      requireNix();
      const project = await projectWithGraph(["init", "--provider", "gitlab"]);
      const dir = repository(project, `gitlab-ci-local cache, ${job}`, {
        build: { script: ["nix-build"] },
        fails: { script: ["nix-build", "exit 3"] },
      });

      const cold = await isolatedJob(project, dir, job);
      expect(cold.code, cold.output).toBe(code);
      expect(cold.output).toMatch(verdict);
      expect(cold.output).not.toContain("imported cache");
      expect(cold.built).toBe(project.graph.packages.length + 1);
      expect(saves(cold.output)).toHaveLength(1);
      expect(cold.output).toContain(`${job} cache created in '.gitlab-ci-local/cache/${KEY}'`);
      expect(narinfoCount(cacheOf(dir))).toBe(savedCount(cold.output));

      const warm = await isolatedJob(project, dir, "build");
      expect(warm.code, warm.output).toBe(0);
      expect(warm.output).toMatch(new RegExp(`^build imported cache '${KEY}'`, "m"));
      expect(warm.built, warm.output).toBe(0);
      expect(saves(warm.output)).toEqual([expect.stringMatching(/nix-ci-cache: saved 0 new paths/)]);
    },
  );
});

describe("GitLab CI jobs run by gitlab-ci-local on real Nix, in place: what happens inside one job", () => {
  it("a failed script saves from the EXIT trap, once; a job killed before its trap ran saves in after_script; a failed save does not fail a passing job", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "gitlab"]);
    // In place, gitlab-ci-local runs script and after_script in the same directory, as
    // GitLab does; `cache:` plays no part in these checks.
    const inPlace = (dir: string, name = "nix-build") => runGitlabJob(dir, name, []);
    // Two jobs of the user's own, extending ours: one fails after the build, one is
    // killed (SIGKILL, as a cancelled job can be) before its shell could run the trap.
    const addJobs = (dir: string) =>
      writeFileSync(
        join(dir, ".gitlab-ci.yml"),
        `${readFileSync(join(dir, ".gitlab-ci.yml"), "utf8")}
fails:
  extends: .nix-ci-cache
  script:
    - nix-build
    - exit 3

killed:
  extends: .nix-ci-cache
  script:
    - nix-build
    - kill -KILL $$
`,
      );

    const first = checkout(project, "fails");
    addJobs(first);
    const failed = await inPlace(first, "fails");
    expect(failed.code, failed.output).not.toBe(0);
    expect(failed.output).toMatch(/exit 3/);
    expect(saves(failed.output)).toHaveLength(1);
    expect(failed.output).not.toContain("the EXIT trap did not save the cache");
    expect(narinfoCount(join(first, ".nix-ci-cache/cache"))).toBe(savedCount(failed.output));
    forgetGraph(project, first);

    const second = checkout(project, "killed");
    addJobs(second);
    const killed = await inPlace(second, "killed");
    expect(killed.code, killed.output).not.toBe(0);
    const fallback = killed.output.indexOf("the EXIT trap did not save the cache");
    expect(fallback, killed.output).toBeGreaterThan(0);
    expect(saves(killed.output)).toHaveLength(1);
    expect(killed.output.indexOf(saves(killed.output)[0] as string)).toBeGreaterThan(fallback);
    expect(narinfoCount(join(second, ".nix-ci-cache/cache"))).toBe(savedCount(killed.output));
    forgetGraph(project, second);

    // A passing build whose save fails: the job keeps the build's status, and
    // after_script tries once more.
    const third = checkout(project, "save fails");
    writeFileSync(join(third, ".nix-ci-cache/save.sh"), "echo 'nix-ci-cache: save failed: disk full' >&2\nexit 1\n");
    const saveFails = await inPlace(third);
    expect(saveFails.code, saveFails.output).toBe(0);
    expect(saveFails.output.split("save failed: disk full").length - 1).toBe(2);
    expect(saveFails.output).toContain("the EXIT trap did not save the cache");
    forgetGraph(project, third);
  });
});

describe("GitLab CI jobs run by gitlab-ci-local on real Nix, between jobs the cache carried by emulated GitLab keys", () => {
  /**
   * One job of the checkout's .gitlab-ci.yml: the emulated restore, gitlab-ci-local
   * in place (its own cache knows neither fallback_keys nor the protected suffix),
   * then the emulated save of the cache path, which `when: always` does also after a
   * failure.
   */
  async function runJob(
    project: Project,
    store: CacheStore,
    dir: string,
    job: GitlabJob,
    variables: Record<string, string> = {},
  ) {
    const hidden = hiddenJobs(project.source)[".nix-ci-cache"] as HiddenJob;
    const keys = gitlabCacheKeys(hidden.cache, job);
    const restored = store.restoreExact(dir, keys.reads);
    const result = await runGitlabJob(dir, "nix-build", [], { CI_COMMIT_REF_SLUG: gitlabSlug(job.ref), ...variables });
    store.save(dir, hidden.cache.paths[0] as string, keys.writes, false);
    return { ...result, restored };
  }

  it("unsigned: the default branch builds everything; a new protected branch builds nothing; a new unprotected branch starts cold (emulated GitLab cache keys)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "gitlab"]);
    const store = new CacheStore();
    const all = project.graph.packages.length + 1;
    const on = (ref: string, isProtected: boolean): GitlabJob => ({ ref, protected: isProtected, defaultBranch: "main" });

    const first = checkout(project, "main");
    const cold = await runJob(project, store, first, on("main", true));
    expect(cold.code, cold.output).toBe(0);
    expect(cold.restored).toBeUndefined();
    expect(cold.built).toBe(all);
    // Saved once, by the EXIT trap; after_script saw that and did nothing.
    expect(saves(cold.output)).toHaveLength(1);
    expect(cold.output).not.toContain("the EXIT trap did not save the cache");
    forgetGraph(project, first);

    const second = checkout(project, "stable");
    const warm = await runJob(project, store, second, on("stable", true));
    expect(warm.code, warm.output).toBe(0);
    expect(warm.restored).toBe("nix-ci-cache-linux-main-protected");
    expect(warm.built, warm.output).toBe(0);
    forgetGraph(project, second);

    const third = checkout(project, "topic");
    const topic = await runJob(project, store, third, on("topic", false));
    expect(topic.code, topic.output).toBe(0);
    expect(topic.restored).toBeUndefined();
    expect(topic.built, topic.output).toBe(all);
    expect(store.keys).toEqual([
      "nix-ci-cache-linux-main-protected",
      "nix-ci-cache-linux-stable-protected",
      "nix-ci-cache-linux-topic-non_protected",
    ]);
    forgetGraph(project, third);
  });

  it("signed: a new unprotected branch, without the key, starts from the default branch's cache, builds nothing and saves nothing (emulated GitLab cache keys)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "gitlab"]);
    const out: string[] = [];
    const code = await main(["keygen", "--name", "ci-gitlab-1", "--cwd", project.source], {
      out: (l) => out.push(l),
      err: () => {},
      env: {},
      interactive: false,
    });
    expect(code).toBe(0);
    const secret = out[0] as string;
    expect(readFileSync(join(project.source, INCLUDE), "utf8")).toContain("unprotect: true");
    const store = new CacheStore();

    const first = checkout(project, "main");
    // The key is a protected variable: only protected branches' jobs get it.
    const cold = await runJob(
      project,
      store,
      first,
      { ref: "main", protected: true, defaultBranch: "main" },
      { NIX_CI_CACHE_SIGNING_KEY: secret },
    );
    expect(cold.code, cold.output).toBe(0);
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(saves(cold.output)).toHaveLength(1);
    forgetGraph(project, first);

    const second = checkout(project, "topic");
    const topic = await runJob(project, store, second, { ref: "topic", protected: false, defaultBranch: "main" });
    expect(topic.code, topic.output).toBe(0);
    expect(topic.restored).toBe("nix-ci-cache-linux-main-non_protected");
    expect(topic.built, topic.output).toBe(0);
    expect(topic.output).toMatch(/not saving: the cache is signed/);
    expect(saves(topic.output)).toEqual([]);
    forgetGraph(project, second);
  });
});
