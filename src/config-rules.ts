// The rules a config must follow that its JSON Schema cannot express: combinations of
// keys, and of keys and providers, that cannot work at run time.
import { normalize } from "node:path";
import type { Config, Platform, Problem, ProviderId } from "./model.js";
import { intoProblems } from "./pipelines/into.js";
import { PROVIDERS } from "./providers/index.js";
import { schemaDefaults } from "./schema.js";

/**
 * Why chroot stores cannot work for these providers and platforms: they need Linux
 * namespaces, which macOS lacks and the containers of some providers' jobs forbid. The
 * one place this is decided: validation refuses mode: chroot by it, and init does not
 * offer chroot where it applies.
 */
export function chrootLimits(providers: ProviderId[], platforms: Platform[]): { darwin: boolean; containers: ProviderId[] } {
  return {
    darwin: platforms.includes("darwin"),
    containers: providers.filter((id) => PROVIDERS[id].linuxContainer !== undefined),
  };
}

/** Rules the schema cannot express: combinations that cannot work at run time. */
const RULES: Array<(config: Config) => Problem[]> = [
  (config) =>
    config.mode === "chroot" && chrootLimits(config.providers, config.platforms).darwin
      ? [
          {
            key: "/mode",
            message:
              'chroot stores need Linux namespaces; on macOS Nix fails with "building using a diverted store is not supported on this platform". Use mode: file (Linux and macOS) or platforms: [linux]',
          },
        ]
      : [],
  (config) => {
    const inContainers = chrootLimits(config.providers, config.platforms).containers;
    if (config.mode !== "chroot" || inContainers.length === 0) return [];
    const where = inContainers.map((id) => `${PROVIDERS[id].name} (${PROVIDERS[id].linuxContainer})`).join(", ");
    return [
      {
        key: "/mode",
        message: `chroot stores build only inside Nix's sandbox (new user, mount and pid namespaces, a fresh /proc), which Docker's default seccomp profile and capabilities forbid, and the generated Linux jobs of ${where} run in a container; Nix up to 2.34 then builds without the sandbox and fails with "executing '/nix/store/…': No such file or directory" (NixOS/nix#16291). Use mode: file, or remove ${inContainers.join(" and ")} from providers`,
      },
    ];
  },
  (config) => {
    const dir = normalize(config.cacheDir);
    if (dir === "." || dir === "./" || dir === ".nix-ci-cache" || dir === ".nix-ci-cache/") {
      return [
        {
          key: "/cacheDir",
          message: `"${config.cacheDir}" would hold the project or the generated files; use a directory of its own (e.g. ${schemaDefaults().cacheDir})`,
        },
      ];
    }
    if (dir === ".nix-ci-cache/state" || dir.startsWith(".nix-ci-cache/state/") || dir === ".git" || dir.startsWith(".git/")) {
      return [
        {
          key: "/cacheDir",
          message: `"${config.cacheDir}" is used by git or by nix-ci-cache itself; use a directory of its own (e.g. ${schemaDefaults().cacheDir})`,
        },
      ];
    }
    return [];
  },
  (config) =>
    config.providers.flatMap((id) =>
      config.platforms
        .filter((os) => !PROVIDERS[id].platforms.includes(os))
        .map((os) => ({
          key: "/platforms",
          message: `${PROVIDERS[id].name} has no ${os} runners we can generate for; remove ${os} or the provider ${id}`,
        })),
    ),
  (config) =>
    config.mode === "chroot" && config.publicKey
      ? [
          {
            key: "/publicKey",
            message:
              "a chroot store has no signatures: its database is the cache, trusted as a whole. Remove publicKey, or use mode: file to sign and check every entry",
          },
        ]
      : [],
  // The same path goes into the provider's cache stanza and, quoted, into the scripts:
  // neither expands it, so "$HOME/x" would make a directory named "$HOME" in the project.
  (config) =>
    /\$|^~/.test(config.cacheDir)
      ? [
          {
            key: "/cacheDir",
            message: `"${config.cacheDir}" is used as written, without expanding $ or ~; use a path relative to the project (e.g. ${schemaDefaults().cacheDir}) or an absolute one`,
          },
        ]
      : [],
  (config) =>
    /[\n\r]/.test(config.cacheDir) || config.cacheDir.includes("${{")
      ? [{ key: "/cacheDir", message: 'must not contain a newline or "${{"; use a plain path' }]
      : [],
];

/** The same store written twice differs at most by a trailing slash. */
const sameUrl = (url: string) => url.replace(/\/+$/, "");

/**
 * What the upstream entries (docs/upstream.md) cannot do: each problem names the entry's
 * key and the fix. The one whose fix is the config's publicKey carries `wantsPublicKey`,
 * so that keygen, which adds it, can run.
 */
function upstreamProblems(config: Config): Problem[] {
  if (config.upstream.length === 0) return [];
  if (config.mode === "chroot") {
    return [
      {
        key: "/upstream",
        message:
          "a remote cache behind a chroot store is not supported yet (its entries are trusted by signature, which a chroot store does not have); use mode: file, or remove upstream",
      },
    ];
  }
  const seen = new Map<string, number>();
  return config.upstream.flatMap((entry, i): Problem[] => {
    const at = `/upstream/${i}`;
    const problems: Problem[] = [];
    const pushes = entry.push !== false;
    const nixCopy = pushes && entry.pushCommand === undefined;
    if (nixCopy && !config.publicKey) {
      problems.push({
        key: `${at}/push`,
        message:
          'nix copy signs what it pushes with NIX_CI_CACHE_SIGNING_KEY, but the config has no publicKey to check it with; run "npx nix-ci-cache keygen", or set push: false to only read from it',
        wantsPublicKey: true,
      });
    } else if (!entry.publicKey && !config.publicKey) {
      problems.push({
        key: `${at}/publicKey`,
        message:
          'neither the entry nor the config has a publicKey, so its entries could not be checked; give the key its entries are signed with (e.g. publicKey: "my-cache.cachix.org-1:…=")',
      });
    }
    if (pushes && entry.pushCommand !== undefined && (entry.secrets ?? []).length === 0) {
      problems.push({
        key: `${at}/secrets`,
        message:
          "without secrets, pushCommand runs in every job, forks' pull requests included; name the variables the command needs, e.g. secrets: [CACHIX_AUTH_TOKEN], so that only jobs holding them push",
      });
    }
    if (!pushes && (entry.pushCommand !== undefined || entry.secrets !== undefined)) {
      const unused = [entry.pushCommand !== undefined ? "pushCommand" : "", entry.secrets !== undefined ? "secrets" : ""]
        .filter(Boolean)
        .join(" and ");
      problems.push({
        key: `${at}/push`,
        message: `push: false never pushes, so ${unused} would do nothing; remove ${unused}, or push: false`,
      });
    }
    const first = seen.get(sameUrl(entry.url));
    if (first === undefined) seen.set(sameUrl(entry.url), i);
    else {
      problems.push({ key: `${at}/url`, message: `the same store as /upstream/${first}/url; remove one of the two entries` });
    }
    return problems;
  });
}

/** The problems of a config with its defaults in that no schema can see. */
export function ruleProblems(config: Config, readFile: (path: string) => string | undefined): Problem[] {
  return [
    ...RULES.flatMap((rule) => rule(config)),
    ...upstreamProblems(config),
    ...config.providers.flatMap((id) => PROVIDERS[id].rules?.(config) ?? []),
    ...intoProblems(config, readFile),
  ];
}
