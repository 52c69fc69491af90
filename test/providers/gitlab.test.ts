import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { BASE_NIX_CONFIG, countBuilt, requireNix } from "../support/nix.js";
import { CacheStore, checkout, forgetGraph, projectWithGraph } from "../support/provider-run.js";
import { gitlabSchemaErrors, runGitlabCiLocal, shellcheckErrors } from "../support/validators.js";

const INCLUDE = ".gitlab/nix-ci-cache.yml";
const withGitlab = exampleDirs(INCLUDE);

interface HiddenJob {
  cache: { key: string; fallback_keys: string[]; paths: string[]; when: string };
  before_script: string[];
  after_script: string[];
}

describe("GitLab CI files", () => {
  it.each(withGitlab)("examples/%s passes GitLab's schema and shellcheck", async (name) => {
    for (const file of [INCLUDE, ".gitlab-ci.yml"]) {
      expect(gitlabSchemaErrors(readFileSync(join(examples, name, file), "utf8")), file).toEqual([]);
    }
    const jobs: Record<string, HiddenJob> = parse(readFileSync(join(examples, name, INCLUDE), "utf8"));
    for (const job of Object.values(jobs)) {
      expect(job.cache.when).toBe("always");
      // GitLab runs before_script and script in one shell, after_script in another.
      for (const lines of [job.before_script, job.after_script]) {
        expect(await shellcheckErrors(lines.join("\n"), "bash", ["SC1091"])).toEqual([]);
      }
    }
  });

  it("the schema check can fail: a broken cache stanza is reported", () => {
    const text = readFileSync(join(examples, "demo", INCLUDE), "utf8").replace("when: always", "when: sometimes");
    expect(gitlabSchemaErrors(text).length).toBeGreaterThan(0);
  });

  it("runs the job twice through gitlab-ci-local on real Nix; a new branch starts from the default branch's cache and builds nothing", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "gitlab"]);
    const hidden: HiddenJob = parse(readFileSync(join(project.source, INCLUDE), "utf8"))[".nix-ci-cache"];
    const store = new CacheStore();
    const cacheDir = hidden.cache.paths[0] as string;
    const expand = (key: string, branch: string) =>
      key.replaceAll("$CI_COMMIT_REF_SLUG", branch).replaceAll("$CI_DEFAULT_BRANCH", "main");

    async function job(dir: string, branch: string) {
      // GitLab restores the job's key, else its fallback keys, all exact.
      const restored = store.restoreExact(dir, [
        expand(hidden.cache.key, branch),
        ...hidden.cache.fallback_keys.map((k) => expand(k, branch)),
      ]);
      const git = await runGitlabCiLocal(dir, [
        "--force-shell-executor",
        "--variable",
        `NIX_CONFIG=${BASE_NIX_CONFIG}`,
        "--variable",
        `CI_COMMIT_REF_SLUG=${branch}`,
        "nix-build",
      ]);
      // when: always saves after after_script, also after a failure.
      store.save(dir, cacheDir, expand(hidden.cache.key, branch), false);
      const output = `${git.stdout}${git.stderr}`.replace(/^nix-build > /gm, "");
      return { code: git.code, output, restored, built: countBuilt(output) };
    }

    const first = checkout(project, "run 1");
    const cold = await job(first, "main");
    expect(cold.code, cold.output).toBe(0);
    expect(cold.restored).toBeUndefined();
    expect(cold.built).toBe(project.graph.packages.length + 1);
    expect(cold.output).toMatch(/nix-ci-cache: saved \d+ new paths/);
    forgetGraph(project, first);

    const second = checkout(project, "run 2");
    const warm = await job(second, "topic");
    expect(warm.code, warm.output).toBe(0);
    expect(warm.restored).toBe("nix-ci-cache-linux-main");
    expect(warm.built, warm.output).toBe(0);
    expect(store.keys).toEqual(["nix-ci-cache-linux-main", "nix-ci-cache-linux-topic"]);
    forgetGraph(project, second);
  });
});
