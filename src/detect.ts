import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KEY_FILE_CANDIDATES, type Platform, PROVIDER_IDS, type ProjectFacts, type ProviderId } from "./model.js";
import { type Candidate, detectNixJobs } from "./pipelines/jobs.js";
import { PROVIDERS } from "./providers/index.js";
import type { LineSign, PlatformEvidence, PlatformSigns } from "./providers/types.js";

export interface Detection {
  /** The OS `init` runs on. */
  localOs: Platform;
  providers: Array<{ id: ProviderId; reason: string }>;
  platforms: PlatformEvidence[];
  facts: ProjectFacts;
  /** Jobs of the repository's pipelines that run Nix, for `into`. */
  nixJobs?: Candidate[];
}

export function localOs(os: NodeJS.Platform = process.platform): Platform {
  return os === "darwin" ? "darwin" : "linux";
}

/** A file of the project, or undefined when there is none to read. */
function readProjectFile(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), "utf8");
  } catch {
    return undefined;
  }
}

export function projectFacts(root: string): ProjectFacts {
  return {
    existingKeyFiles: KEY_FILE_CANDIDATES.filter((file) => existsSync(join(root, file))),
    expression: (["flake", "default", "shell"] as const).find((name) => existsSync(join(root, `${name}.nix`))),
    readFile: (path) => readProjectFile(root, path),
  };
}

/** `NAME` is set and not empty, or `NAME=value` holds exactly. */
function envMatches(env: NodeJS.ProcessEnv, spec: string): boolean {
  const [name, value] = spec.split("=", 2) as [string, string | undefined];
  return value === undefined ? Boolean(env[name]) : env[name] === value;
}

/** Darwin first: a line that shows both platforms is listed as evidence of each, in this order. */
const SIGNED_PLATFORMS: Platform[] = ["darwin", "linux"];

const shows = (line: string, sign: LineSign | undefined) =>
  sign !== undefined && (Array.isArray(sign) ? sign : [sign]).every((pattern) => pattern.test(line));

/** What a provider's CI files show of the platforms they run on, read as its signs say. */
export function platformEvidence(
  signs: PlatformSigns | undefined,
  readFile: (path: string) => string | undefined,
  listDir: (path: string) => string[],
): PlatformEvidence[] {
  if (!signs) return [];
  const files = signs.directory
    ? listDir(signs.path)
        .filter((name) => /\.ya?ml$/.test(name))
        .map((name) => `${signs.path}/${name}`)
    : [signs.path];
  return files.flatMap((file) => {
    const text = readFile(file) ?? "";
    if (signs.read) return signs.read(file, text);
    return text.split("\n").flatMap((line) =>
      SIGNED_PLATFORMS.filter((platform) => shows(line, signs[platform])).map((platform) => ({
        platform,
        file,
        line: line.trim(),
      })),
    );
  });
}

export function detect(root: string, env: NodeJS.ProcessEnv = process.env, os: NodeJS.Platform = process.platform): Detection {
  const readFile = (path: string) => readProjectFile(root, path);
  const listDir = (path: string) => {
    try {
      return readdirSync(join(root, path));
    } catch {
      return [];
    }
  };
  const providers: Detection["providers"] = [];
  const runningOn = PROVIDER_IDS.filter((id) => envMatches(env, PROVIDERS[id].detectEnv));
  for (const id of PROVIDER_IDS) {
    const provider = PROVIDERS[id];
    const file = provider.detectFiles.find((f) => existsSync(join(root, f)));
    if (file) providers.push({ id, reason: `found ${file}` });
    // Forgejo also sets GITHUB_ACTIONS: the more specific provider wins.
    else if (runningOn.includes(id) && !runningOn.some((other) => PROVIDERS[other].supersedes?.includes(id)))
      providers.push({ id, reason: `running on ${provider.name} (${provider.detectEnv} is set)` });
  }
  return {
    localOs: localOs(os),
    providers,
    platforms: PROVIDER_IDS.flatMap((id) => platformEvidence(PROVIDERS[id].platformSigns, readFile, listDir)),
    facts: projectFacts(root),
    nixJobs: detectNixJobs(readFile, listDir),
  };
}
