// What holds for every provider alike, one row per provider: its examples exist, pass
// the provider's published schema, and carry our marker, and the README lists it.
// What is particular to a provider (its cache rules, its scripts, its runs on real
// Nix) stays in <provider>.test.ts.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { MARKER_TEXT, PROVIDER_IDS, type ProviderId } from "../../src/model.js";
import { PROVIDERS } from "../../src/providers/index.js";
import { exampleDirs, EXAMPLES_DIR as examples } from "../support/examples.js";
import { gitlabSchemaErrors, providerSchemaErrors, shellcheckErrors } from "../support/validators.js";

interface SchemaCheck {
  /** In words, for the test's name. */
  name: string;
  files: string[];
  errors(text: string): string[];
}

const schema = (name: string, file: string, ...files: string[]): SchemaCheck => ({
  name,
  files,
  errors: (text) => providerSchemaErrors(file, text),
});

interface Row {
  /** The file that makes an example one of this provider's. */
  marks: string;
  examples: string[];
  /** The published schemas the generated files must pass; none where the provider publishes none. */
  schemas: SchemaCheck[];
}

const ROWS: Record<ProviderId, Row> = {
  github: {
    marks: ".github/workflows/nix.yml",
    examples: ["demo", "github/chroot", "github/linux", "github/linux-macos", "github/signed"],
    // actionlint and GitHub's own parser check these (github.test.ts).
    schemas: [],
  },
  gitlab: {
    marks: ".gitlab/nix-ci-cache.yml",
    examples: ["demo", "gitlab/linux", "gitlab/linux-macos", "gitlab/signed"],
    schemas: [{ name: "GitLab's schema", files: [".gitlab/nix-ci-cache.yml", ".gitlab-ci.yml"], errors: gitlabSchemaErrors }],
  },
  travis: {
    marks: ".travis.yml",
    examples: ["travis/linux", "travis/linux-macos"],
    schemas: [schema("SchemaStore's Travis schema", "travis.json", ".travis.yml")],
  },
  woodpecker: {
    marks: ".woodpecker.yaml",
    examples: ["woodpecker/linux"],
    schemas: [schema("Woodpecker's JSON schema", "woodpecker.json", ".woodpecker.yaml")],
  },
  forgejo: {
    marks: ".forgejo/workflows/nix.yml",
    examples: ["forgejo/linux", "forgejo/signed"],
    schemas: [schema("SchemaStore's workflow schema", "github-workflow.json", ".forgejo/workflows/nix.yml")],
  },
  buildkite: {
    marks: ".buildkite/nix-ci-cache.yml",
    examples: ["buildkite/linux", "buildkite/linux-macos"],
    schemas: [schema("Buildkite's schema", "buildkite.json", ".buildkite/pipeline.yml", ".buildkite/nix-ci-cache.yml")],
  },
  drone: {
    marks: ".drone.yml",
    examples: ["drone/linux", "drone/signed"],
    schemas: [schema("SchemaStore's Drone schema", "drone.json", ".drone.yml")],
  },
  circleci: {
    marks: ".circleci/config.yml",
    examples: ["circleci/linux", "circleci/linux-macos"],
    schemas: [schema("CircleCI's JSON schema", "circleciconfig.json", ".circleci/config.yml")],
  },
  semaphore: {
    marks: ".semaphore/semaphore.yml",
    examples: ["semaphore/linux", "semaphore/linux-macos"],
    // Semaphore publishes no schema: semaphore.test.ts checks its pipeline reference's rules.
    schemas: [],
  },
  jenkins: {
    marks: ".jenkins/nix-ci-cache.groovy",
    examples: ["jenkins/linux", "jenkins/linux-macos"],
    // Groovy: jenkins.test.ts checks Job Cacher's step syntax and the declarative structure.
    schemas: [],
  },
  azure: {
    marks: "azure-pipelines.yml",
    examples: ["azure/linux", "azure/linux-macos", "azure/signed"],
    schemas: [
      schema("Azure Pipelines' schema", "azure-pipelines.json", "azure-pipelines.yml", ".azure-pipelines/nix-ci-cache.yml"),
    ],
  },
  sourcehut: {
    marks: ".build.yml",
    examples: ["sourcehut/linux", "sourcehut/signed"],
    schemas: [schema("the builds.sr.ht schema", "sourcehut-build-0.65.0.json", ".build.yml")],
  },
  bitbucket: {
    marks: "bitbucket-pipelines.yml",
    examples: ["bitbucket/linux"],
    // No published schema or parser in npm: bitbucket.test.ts checks its cache and artifact rules.
    schemas: [],
  },
};

/** The files a provider's templates generate (not the seeds of the user's files). */
function generatedPaths(id: ProviderId): string[] {
  const dir = join(import.meta.dirname, "..", "..", "templates", "providers", id);
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".hbs") && !e.name.endsWith(".seed.hbs"))
    .map((e) => relative(dir, join(e.parentPath, e.name)).slice(0, -".hbs".length));
}

const examplesOf = (id: ProviderId) => ROWS[id].examples.map((name) => [id, name] as const);

describe("every provider", () => {
  it.each(PROVIDER_IDS)("%s: there are examples to check", (id) => {
    expect(exampleDirs(ROWS[id].marks)).toEqual(ROWS[id].examples);
  });

  it.each(
    PROVIDER_IDS.flatMap((id) =>
      ROWS[id].schemas.flatMap((check) => ROWS[id].examples.map((name) => [name, check.name, id, check] as const)),
    ),
  )("examples/%s passes %s", (name, _, _id, check) => {
    for (const file of check.files) {
      expect(check.errors(readFileSync(join(examples, name, file), "utf8")), file).toEqual([]);
    }
  });

  it.each(PROVIDER_IDS.flatMap(examplesOf))("%s: examples/%s: every generated file starts with our marker", (id, name) => {
    const present = generatedPaths(id).filter((path) => existsSync(join(examples, name, path)));
    expect(present.length).toBeGreaterThan(0);
    for (const path of present) {
      expect(readFileSync(join(examples, name, path), "utf8").split("\n")[0], path).toContain(MARKER_TEXT);
    }
  });

  it.each(PROVIDER_IDS)("%s: the README's tables have its row", (id) => {
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
    const p = PROVIDERS[id];
    expect(readme).toContain(`| ${p.name} (\`${id}\`) | \`${p.pipelinePath}\` |`);
    expect(readme).toContain(`| ${p.name} | ${p.signingKey} |`);
  });

  it("shellcheck, which checks their scripts, can fail", async () => {
    expect(await shellcheckErrors('cd $DIR && rm -rf "x"', "bash")).toEqual([expect.stringMatching(/\[SC2086\]$/)]);
    expect(await shellcheckErrors('trap "sh $1" EXIT', "sh")).toEqual([expect.stringMatching(/\[SC2064\]$/)]);
  });
});
