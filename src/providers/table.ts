import { PROVIDER_IDS, type ProviderId } from "../model.js";
import { PROVIDERS } from "./index.js";

const yesNo = (value: boolean) => (value ? "yes" : "no");

/** The default budget for Linux, and with macOS too where that differs. */
function defaultBudget(id: ProviderId): string {
  const p = PROVIDERS[id];
  const linux = p.defaultBudget(["linux"]).size;
  const both = p.platforms.includes("darwin") ? p.defaultBudget(["linux", "darwin"]).size : linux;
  return both === linux ? linux : `${linux}; ${both} with macOS too`;
}

/** The README's provider table, made from the provider modules so it cannot drift. */
export function providerTable(): string {
  const rows = PROVIDER_IDS.map((id) => {
    const p = PROVIDERS[id];
    return `| ${p.name} (\`${id}\`) | \`${p.pipelinePath}\` | ${yesNo(p.platforms.includes("linux"))} | ${yesNo(p.platforms.includes("darwin"))} | ${p.keyStrategy} | ${yesNo(p.saveOnFailure)} | ${p.cacheLimit} (default budget ${defaultBudget(id)}) | ${p.validatedBy} |`;
  });
  return [
    "| provider | file | Linux | macOS | key strategy | save on failure | limit | validated by |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** The README's list of how each provider hands the signing key to save.sh. */
export function signingTable(): string {
  const rows = PROVIDER_IDS.map((id) => `| ${PROVIDERS[id].name} | ${PROVIDERS[id].signingKey} |`);
  return ["| provider | where NIX_CI_CACHE_SIGNING_KEY comes from |", "|---|---|", ...rows].join("\n");
}
