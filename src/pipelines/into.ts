// The config key `into` checked against the pipelines it names: the file is one we can
// wire, of a configured provider, and the job is in it.
import type { Config, Problem } from "../model.js";
import { hiddenJobFor, jobsOf, providerOfPath } from "./jobs.js";

const WIREABLE =
  ".github/workflows/*.yml, .forgejo/workflows/*.yml, .gitea/workflows/*.yml, .gitlab-ci.yml or .circleci/config.yml";

/** `file:job`; the schema has made sure there is a colon and the file has none. */
export function splitInto(entry: string): { file: string; job: string } {
  const colon = entry.indexOf(":");
  return { file: entry.slice(0, colon).replace(/^\.\//, ""), job: entry.slice(colon + 1) };
}

/** Each `into` entry names a pipeline file of a configured provider, and a job in it. */
export function intoProblems(config: Config, readFile: (path: string) => string | undefined): Problem[] {
  return config.into.flatMap((entry, index): Problem[] => {
    const key = `/into/${index}`;
    const { file, job } = splitInto(entry);
    const provider = providerOfPath(file);
    if (!provider) return [{ key, message: `"${file}" is not a pipeline nix-ci-cache can wire: use ${WIREABLE}` }];
    if (!config.providers.includes(provider)) {
      return [{ key, message: `${file} is a ${provider} pipeline; add ${provider} to providers, or remove the entry` }];
    }
    const text = readFile(file);
    if (text === undefined) return [{ key, message: `${file} does not exist; fix the path or remove the entry` }];
    const jobs = jobsOf(provider, text);
    const node = jobs.find((j) => j.name === job)?.node;
    if (!node) {
      const known = jobs.length > 0 ? `its jobs: ${jobs.map((j) => j.name).join(", ")}` : "it has no jobs we can read";
      return [{ key, message: `${file} has no job "${job}" (${known}); fix the job name or remove the entry` }];
    }
    if (provider === "gitlab" && hiddenJobFor(node).endsWith("darwin") && !config.platforms.includes("darwin")) {
      return [
        { key, message: `${file}: job "${job}" runs on macOS runners (its tags); add darwin to platforms, or remove the entry` },
      ];
    }
    return [];
  });
}
