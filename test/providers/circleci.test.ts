import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { requireNix } from "../support/nix.js";
import { CacheStore, coldThenWarmWithImmutableKeys, projectWithGraph, runSteps, type Step } from "../support/provider-run.js";
import { providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

const PIPELINE = ".circleci/config.yml";
const SCHEMA = "circleciconfig.json";
const withCircleci = exampleDirs(PIPELINE);

type CircleStep = string | Record<string, Record<string, unknown> | null>;
interface CircleConfig {
  executors: Record<string, Record<string, unknown>>;
  commands: Record<string, { steps: CircleStep[] }>;
  jobs: Record<string, { executor: string; steps: CircleStep[] }>;
}

/**
 * CircleCI's own parser (@circleci/circleci-config-parser, whose schema dates from
 * 2022). Its macOS resource classes are the x86 ones CircleCI retired; today's
 * Apple silicon class (m4pro.medium, per CircleCI's macOS docs) is swapped for one
 * it knows, so that it checks everything else. CircleCI's JSON schema checks the real text.
 */
async function circleciParserErrors(text: string): Promise<string[]> {
  const parser = await import("@circleci/circleci-config-parser");
  try {
    parser.parseConfig(text.replaceAll("resource_class: m4pro.medium", "resource_class: macos.x86.medium.gen2"));
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

/** Steps of a job with reusable commands inlined, as CircleCI runs them. */
function inline(config: CircleConfig, steps: CircleStep[]): Array<[string, Record<string, unknown>]> {
  return steps.flatMap((step): Array<[string, Record<string, unknown>]> => {
    const [name, args] = typeof step === "string" ? [step, {}] : (Object.entries(step)[0] ?? ["", {}]);
    const command = config.commands[name];
    return command ? inline(config, command.steps) : [[name, args ?? {}]];
  });
}

const runScripts = (config: CircleConfig, job: string) =>
  inline(config, config.jobs[job]?.steps ?? [])
    .filter(([name]) => name === "run")
    .map(([, args]) => String(args.command));

describe("CircleCI config", () => {
  it.each(withCircleci)("examples/%s passes CircleCI's parser and shellcheck", async (name) => {
    const text = readFileSync(join(examples, name, PIPELINE), "utf8");
    expect(await circleciParserErrors(text)).toEqual([]);
    const config: CircleConfig = parse(text);
    expect(Object.keys(config.jobs)).toEqual(name.endsWith("linux-macos") ? ["nix-build", "nix-build-macos"] : ["nix-build"]);
    for (const job of Object.keys(config.jobs)) {
      const steps = inline(config, config.jobs[job]?.steps ?? []);
      // No validator knows this rule: the cache is written and saved also after a failure.
      for (const [step, args] of steps.filter(([s, a]) => s === "save_cache" || String(a.command).includes("save.sh"))) {
        expect(args.when, step).toBe("always");
      }
      // CircleCI runs each step in bash (-eo pipefail).
      for (const script of runScripts(config, job)) {
        expect(await shellcheckErrors(script, "bash", ["SC1091"])).toEqual([]);
      }
    }
  });

  it("the validators can fail: a broken config is reported", async () => {
    const text = readFileSync(join(examples, "circleci/linux", PIPELINE), "utf8");
    expect(await circleciParserErrors(text.replace("when: always", "when: sometimes"))).toEqual([
      expect.stringMatching(
        /^Error while parsing - config\/reusable_command:nix-ci-cache-save\/steps\/run\n[\s\S]*"when":"sometimes"/,
      ),
    ]);
    expect(await circleciParserErrors(text.replace("- nix-ci-cache-save: {}", "- nix-ci-cache-sav: {}"))).toEqual([
      expect.stringMatching(/Custom Command nix-ci-cache-sav not found in command list/),
    ]);
    expect(providerSchemaErrors(SCHEMA, text.replace("when: always", "when: sometimes"))).toContainEqual(
      expect.stringMatching(/\/run\/when: must be equal to one of the allowed values/),
    );
  });

  it("runs twice on real Nix with the cache restored by key prefix, newest first; the second run builds nothing (emulated CircleCI runner and cache)", async () => {
    requireNix();
    const project = await projectWithGraph(["init", "--provider", "circleci"]);
    const config: CircleConfig = parse(readFileSync(join(project.source, PIPELINE), "utf8"));
    const cacheDir = ".nix-ci-cache/cache";
    const store = new CacheStore();

    function job(dir: string, buildNum: number) {
      let restoredKey: string | undefined;
      // CircleCI's key templates: checksum is the base64 SHA-256 of the file.
      const evaluate = (text: string) =>
        text.replace(/\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
          const file = /^checksum "(.+)"$/.exec(expr);
          if (file)
            return createHash("sha256")
              .update(readFileSync(join(dir, file[1] as string)))
              .digest("base64");
          if (expr === "arch") return "arch1-linux-amd64-6_85";
          if (expr === "epoch") return String(1_764_000_000 + buildNum);
          throw new Error(`unexpected template ${expr}`);
        });
      const steps: Step[] = inline(config, config.jobs["nix-build"]?.steps ?? []).flatMap(([name, args]): Step[] => {
        const always = args.when === "always";
        if (name === "restore_cache") {
          const keys = (args.keys as string[]).map(evaluate);
          // Each key is a prefix; the newest cache that matches wins.
          return [
            {
              name,
              action: () => {
                restoredKey = store.restoreByPrefix(dir, keys[0] ?? "", keys);
              },
            },
          ];
        }
        if (name === "save_cache") {
          expect(args.paths).toEqual([cacheDir]);
          return [{ name, always, action: () => void store.save(dir, cacheDir, evaluate(String(args.key)), true) }];
        }
        // The harness made the checkout.
        if (name === "checkout") return [];
        if (name !== "run") throw new Error(`unexpected step ${name}`);
        const step = { name: String(args.name), script: String(args.command), always, shell: ["bash", "-eo", "pipefail"] };
        // A step of the user's after the restore command sees env.sh's settings through $BASH_ENV.
        return args.name === "Use the Nix cache in this job"
          ? [step, { name: "the user's step", script: 'test -n "$NIX_CI_CACHE_DIR"', shell: ["bash", "-eo", "pipefail"] }]
          : [step];
      });
      return { ...runSteps(dir, steps, "bash-env", { CIRCLECI: "true" }), restoredKey: () => restoredKey };
    }

    coldThenWarmWithImmutableKeys(project, store, job, { savesUnchanged: true });
  });
});
