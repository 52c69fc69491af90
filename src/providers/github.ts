import type { Config, Platform } from "../config.js";
import type { PlatformEvidence, Provider } from "./types.js";

const RUNNERS: Record<Platform, string> = { linux: "ubuntu-latest", darwin: "macos-latest" };
const WORKFLOWS = ".github/workflows";

/** `${{ … }}` built here, so templates never have to escape Handlebars braces. */
const expr = (inner: string) => `\${{ ${inner} }}`;

export const github: Provider = {
  id: "github",
  name: "GitHub Actions",
  pipelinePath: ".github/workflows/nix.yml",
  platforms: ["linux", "darwin"],
  installsNix: "cachix/install-nix-action",
  settingsReach: "`$GITHUB_ENV` and `$GITHUB_PATH`",
  signingKey:
    "a repository secret NIX_CI_CACHE_SIGNING_KEY, which the workflow passes to save.sh (`gh secret set NIX_CI_CACHE_SIGNING_KEY`); pull requests from forks get none and save nothing",
  keyStrategy: "immutable: `nix-ci-cache-<os>-<arch>-<hash of keyFiles>-<run id>-<attempt>`, restored by prefix",
  scope: "a branch sees its own caches and the default branch's; pull requests cannot write the default branch's",
  validatedBy: "actionlint, `@actions/workflow-parser`, shellcheck; run twice on real Nix",
  detectEnv: "GITHUB_ACTIONS",
  detectFiles: [WORKFLOWS],
  keysImmutable: true,
  saveOnFailure: true,
  cacheLimit: "10 GB per repository, shared by all its caches; entries unused for 7 days are evicted",
  defaultMaxSize: "4G",
  rules: () => [],
  context(config: Config) {
    const keyFilesHash = config.keyFiles.length
      ? `-${expr(`hashFiles(${config.keyFiles.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ")})`)}`
      : "";
    // Keys are immutable: a new key every run lets the grown cache be saved,
    // and the prefixes restore the newest earlier save.
    const prefix = `nix-ci-cache-${expr("runner.os")}-${expr("runner.arch")}-`;
    return {
      matrix: config.platforms.map((platform) => ({ platform, runner: RUNNERS[platform] })),
      runsOn: expr("matrix.runner"),
      key: `${prefix}${keyFilesHash ? `${keyFilesHash.slice(1)}-` : ""}${expr("github.run_id")}-${expr("github.run_attempt")}`,
      restoreKeys: keyFilesHash ? [`${prefix}${keyFilesHash.slice(1)}-`, prefix] : [prefix],
      savedKey: expr("steps.restore.outputs.cache-primary-key"),
    };
  },
  userFiles: [],
  detectPlatforms(readFile, listDir) {
    const found: PlatformEvidence[] = [];
    for (const name of listDir(WORKFLOWS)) {
      if (!/\.ya?ml$/.test(name)) continue;
      const file = `${WORKFLOWS}/${name}`;
      for (const line of (readFile(file) ?? "").split("\n")) {
        if (!/runs-on|runner|os:/.test(line)) continue;
        if (/\bmacos-/.test(line)) found.push({ platform: "darwin", file, line: line.trim() });
        if (/\bubuntu-|\blinux\b/.test(line)) found.push({ platform: "linux", file, line: line.trim() });
      }
    }
    return found;
  },
};
