import { github } from "./github.js";
import { gitlab } from "./gitlab.js";
import { travis } from "./travis.js";
import type { Provider } from "./types.js";

export const PROVIDER_IDS = ["github", "gitlab", "travis"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export const PROVIDERS: Record<ProviderId, Provider> = { github, gitlab, travis };

export function isProviderId(id: string): id is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(id);
}
