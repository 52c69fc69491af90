import { isAbsolute, normalize } from "node:path";
import {
  type Capture,
  type Compression,
  type Config,
  MARKER,
  type Mode,
  type Platform,
  type ProviderId,
  type Runners,
  type UpstreamConfig,
} from "./model.js";
import { type NixSetting, nixSettings } from "./nix-settings.js";
import { VERSION } from "./package.js";
import { parseSize, shellQuote } from "./text.js";

/** Everything the templates need, resolved once from the config. */
export interface Plan {
  marker: string;
  version: string;
  mode: Mode;
  chroot: boolean;
  platforms: Platform[];
  cacheDir: string;
  cacheDirSh: string;
  cacheDirAbsolute: boolean;
  /** Lines for `.nix-ci-cache/.gitignore`: what must never be committed. */
  ignored: string[];
  /** The line the project's own .gitignore needs when the cache lives elsewhere in the project. */
  rootIgnore: string | undefined;
  compression: Compression;
  keyFiles: string[];
  build: string;
  providers: ProviderId[];
  capture: Capture;
  /** The post-build hook is installed only where save.sh needs it: it costs about 15% of a cold build. */
  hook: boolean;
  maxSize: string;
  maxSizeBytes: number;
  /** Shell words for `printf '%s\n' …`, or "" when there are none. */
  extraRootsSh: string;
  /** A `case` pattern list such as `*-source | foo-?`, or "". The schema allows only characters that are plain in a pattern. */
  excludeCase: string;
  /** Entries must be signed by this key (`name:base64`); "" when the cache is unsigned. */
  publicKey: string;
  /** The name part of publicKey: the `Sig:` lines save.sh looks for. */
  keyName: string;
  /** Jobs of the user's pipelines that get our steps, as `file:job`. */
  into: string[];
  /** GitHub runner labels per platform, where the config names them. */
  runners: Runners;
  /** Shared binary caches behind the cache directory, in the config's order. */
  upstreams: Upstream[];
  /** Their URLs, space-separated, as nix.conf lists them; and as shell words. */
  upstreamUrls: string;
  upstreamsSh: string;
  /** grep -F arguments that match a signature by one of their keys in `nix path-info --sigs`. */
  upstreamSigsSh: string;
  /** An ssh-ng:// store among them: the scripts pass ssh the key and timeouts. */
  upstreamSsh: boolean;
  upstreamTimeout: number;
  /**
   * Environment variables save.sh reads from the provider's secrets: the signing key
   * (when the cache is signed) and what the pushes need. Providers that do not export
   * secrets by themselves map these into the save step.
   */
  secrets: string[];
  /** The Nix settings every job gets: nix.conf writes them, env.sh prints them. */
  nixSettings: NixSetting[];
}

export type UpstreamKind = "http" | "s3" | "ssh-ng";

/** An upstream entry of the config with its defaults resolved. */
export interface Upstream {
  url: string;
  kind: UpstreamKind;
  /** The key its entries are signed with: the entry's, else the config's. */
  publicKey: string;
  keyName: string;
  push: boolean;
  /** "" for nix copy, signed with NIX_CI_CACHE_SIGNING_KEY. */
  pushCommand: string;
  /** What the push needs besides the signing key; a job without one does not push. */
  secrets: string[];
  /** For the scripts: each a single shell word. */
  urlSh: string;
  pushCommandSh: string;
  /** What a job needs to push: the secrets, and the signing key for nix copy. */
  pushNeedsSh: string;
}

/** What each kind of store needs to be written, where the entry names nothing. */
const KIND_SECRETS: Record<UpstreamKind, string[]> = {
  http: [],
  // Nix's S3 client reads the AWS SDK's variables (Nix manual, "S3 Binary Cache Store").
  s3: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
  "ssh-ng": ["NIX_CI_CACHE_SSH_KEY"],
};

export const SIGNING_SECRET = "NIX_CI_CACHE_SIGNING_KEY";

export function upstreamKind(url: string): UpstreamKind {
  if (url.startsWith("s3://")) return "s3";
  if (url.startsWith("ssh-ng://")) return "ssh-ng";
  return "http";
}

export function resolveUpstream(entry: UpstreamConfig, publicKey: string | undefined): Upstream {
  const kind = upstreamKind(entry.url);
  const key = entry.publicKey ?? publicKey ?? "";
  const secrets = entry.secrets ?? (entry.pushCommand ? [] : KIND_SECRETS[kind]);
  return {
    url: entry.url,
    kind,
    publicKey: key,
    keyName: key.split(":")[0] ?? "",
    push: entry.push ?? true,
    pushCommand: entry.pushCommand ?? "",
    secrets,
    urlSh: shellQuote(entry.url),
    pushCommandSh: shellQuote(entry.pushCommand ?? ""),
    pushNeedsSh: shellQuote((entry.pushCommand ? secrets : [SIGNING_SECRET, ...secrets]).join(" ")),
  };
}

export function makePlan(config: Config): Plan {
  const cacheDirAbsolute = isAbsolute(config.cacheDir);
  const cacheInside = config.cacheDir.replace(/^\.\//, "").replace(/\/+$/, "");
  const ignored = ["/state/"];
  let rootIgnore: string | undefined;
  if (cacheInside.startsWith(".nix-ci-cache/")) ignored.unshift(`/${cacheInside.slice(".nix-ci-cache/".length)}/`);
  else if (!cacheDirAbsolute && !normalize(cacheInside).startsWith("..")) rootIgnore = `/${normalize(cacheInside)}/`;
  const upstreams = config.upstream.map((entry) => resolveUpstream(entry, config.publicKey));
  const plan: Omit<Plan, "nixSettings"> = {
    marker: MARKER,
    version: VERSION,
    mode: config.mode,
    chroot: config.mode === "chroot",
    platforms: config.platforms,
    cacheDir: config.cacheDir,
    cacheDirSh: shellQuote(config.cacheDir),
    cacheDirAbsolute,
    ignored,
    rootIgnore,
    compression: config.compression,
    keyFiles: config.keyFiles,
    build: config.build,
    providers: config.providers,
    capture: config.capture,
    hook: config.capture === "built",
    maxSize: config.maxSize,
    maxSizeBytes: parseSize(config.maxSize),
    extraRootsSh: config.extraRoots.map(shellQuote).join(" "),
    excludeCase: config.exclude.join(" | "),
    publicKey: config.publicKey ?? "",
    keyName: config.publicKey?.split(":")[0] ?? "",
    into: config.into,
    runners: config.runners,
    upstreams,
    upstreamUrls: upstreams.map((u) => u.url).join(" "),
    upstreamsSh: upstreams.map((u) => u.urlSh).join(" "),
    upstreamSigsSh: [...new Set(upstreams.map((u) => u.keyName).filter(Boolean))]
      .map((name) => `-e ${shellQuote(` ${name}:`)}`)
      .join(" "),
    upstreamSsh: upstreams.some((u) => u.kind === "ssh-ng"),
    upstreamTimeout: config.upstreamTimeout,
    secrets: [
      ...new Set([...(config.publicKey ? [SIGNING_SECRET] : []), ...upstreams.filter((u) => u.push).flatMap((u) => u.secrets)]),
    ],
  };
  return { ...plan, nixSettings: nixSettings(plan) };
}
