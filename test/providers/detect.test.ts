import { describe, expect, it } from "vitest";
import { platformEvidence } from "../../src/detect.js";
import type { ProviderId } from "../../src/model.js";
import { PROVIDERS } from "../../src/providers/index.js";

const lines = (...text: string[]) => `${text.join("\n")}\n`;

/** One provider's CI files, and the evidence they give as [platform, file, line]. */
const CASES: Array<[ProviderId, Record<string, string>, Array<[string, string, string]>]> = [
  [
    "azure",
    {
      "azure-pipelines.yml": lines(
        "pool:",
        "  vmImage: macos-latest",
        "strategy:",
        "  matrix:",
        "    a: { vmImage: ubuntu-22.04 }",
        "    b: { vmImage: 'MacOS and Ubuntu' }",
        "    image: macos",
      ),
    },
    [
      ["darwin", "azure-pipelines.yml", "vmImage: macos-latest"],
      ["linux", "azure-pipelines.yml", "a: { vmImage: ubuntu-22.04 }"],
      ["darwin", "azure-pipelines.yml", "b: { vmImage: 'MacOS and Ubuntu' }"],
      ["linux", "azure-pipelines.yml", "b: { vmImage: 'MacOS and Ubuntu' }"],
    ],
  ],
  [
    "buildkite",
    {
      ".buildkite/pipeline.yml": lines(
        "steps:",
        "  - agents:",
        "      queue: macos",
        "  - label: darwin build",
        "    agents: { os: Darwin }",
        "  - command: echo macos",
      ),
      ".buildkite/other.yaml": lines('agents: {queue: "mac-darwin"}'),
      ".buildkite/notes.txt": lines("image: macos"),
    },
    [
      ["darwin", ".buildkite/pipeline.yml", "queue: macos"],
      ["darwin", ".buildkite/pipeline.yml", "agents: { os: Darwin }"],
      ["darwin", ".buildkite/pipeline.yml", "- command: echo macos"],
      ["darwin", ".buildkite/other.yaml", 'agents: {queue: "mac-darwin"}'],
    ],
  ],
  [
    "circleci",
    { ".circleci/config.yml": lines("jobs:", "  a:", "    macos:", "      xcode: 15", "  b:", "    # macos: commented") },
    [
      ["darwin", ".circleci/config.yml", "macos:"],
      ["darwin", ".circleci/config.yml", "xcode: 15"],
    ],
  ],
  [
    "gitlab",
    { ".gitlab-ci.yml": lines("job:", "  tags: [saas-macos-medium-m1]", "  image: macos-14", "  script: echo macos") },
    [
      ["darwin", ".gitlab-ci.yml", "tags: [saas-macos-medium-m1]"],
      ["darwin", ".gitlab-ci.yml", "image: macos-14"],
    ],
  ],
  [
    "jenkins",
    {
      Jenkinsfile: lines(
        "agent { label 'linux' }",
        "agent { label 'mac-darwin' }",
        "label: 'linux && mac'",
        "sh 'echo linux mac'",
      ),
    },
    [
      ["linux", "Jenkinsfile", "agent { label 'linux' }"],
      ["darwin", "Jenkinsfile", "agent { label 'mac-darwin' }"],
      ["darwin", "Jenkinsfile", "label: 'linux && mac'"],
      ["linux", "Jenkinsfile", "label: 'linux && mac'"],
    ],
  ],
  [
    "semaphore",
    {
      ".semaphore/semaphore.yml": lines(
        "agent:",
        "  machine:",
        "    type: a1-standard-4",
        "    os_image: macos-xcode15",
        "    os_image: ubuntu2204",
        "    type: e1-standard-2",
      ),
    },
    [
      ["darwin", ".semaphore/semaphore.yml", "type: a1-standard-4"],
      ["darwin", ".semaphore/semaphore.yml", "os_image: macos-xcode15"],
      ["linux", ".semaphore/semaphore.yml", "os_image: ubuntu2204"],
    ],
  ],
  [
    "travis",
    { ".travis.yml": lines("os: [linux, osx]", "osx_image: xcode14", "language: nix") },
    [
      ["darwin", ".travis.yml", "os: [linux, osx]"],
      ["darwin", ".travis.yml", "osx_image: xcode14"],
    ],
  ],
  [
    "github",
    {
      ".github/workflows/ci.yml": lines(
        "jobs:",
        "  a:",
        "    runs-on: macos-14",
        "  b:",
        "    strategy: { matrix: { os: [ubuntu-latest, macos-13] } }",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression
        "    runs-on: ${{ matrix.os }}",
      ),
    },
    [
      ["darwin", ".github/workflows/ci.yml", "runs-on: macos-14"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression
      ["linux", ".github/workflows/ci.yml", "runs-on: ${{ matrix.os }} with matrix.os: ubuntu-latest"],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression
      ["darwin", ".github/workflows/ci.yml", "runs-on: ${{ matrix.os }} with matrix.os: macos-13"],
    ],
  ],
];

describe("platforms shown by a repository's CI files", () => {
  it.each(CASES)("%s: its signs find each platform's lines, darwin first", (id, files, expected) => {
    const readFile = (path: string) => files[path];
    const listDir = (dir: string) =>
      Object.keys(files)
        .filter((path) => path.startsWith(`${dir}/`))
        .map((path) => path.slice(dir.length + 1));
    const found = platformEvidence(PROVIDERS[id].platformSigns, readFile, listDir);
    expect(found.map((e) => [e.platform, e.file, e.line])).toEqual(expected);
  });

  it("providers without signs, and files that are not there, show nothing", () => {
    const none = () => undefined;
    for (const provider of Object.values(PROVIDERS)) {
      expect(platformEvidence(provider.platformSigns, none, () => [])).toEqual([]);
    }
    expect(
      ["bitbucket", "drone", "forgejo", "sourcehut", "woodpecker"].filter((id) => PROVIDERS[id as ProviderId].platformSigns),
    ).toEqual([]);
  });
});
