// Which Nix settings a job gets is decided here, once: .nix-ci-cache/nix.conf writes the
// list for people who install it by hand and env.sh prints it at run time, so the two
// cannot drift apart. Where a value names a directory, only the file that writes it
// knows the directory's path (nix.conf: @PROJECT_ROOT@; env.sh: a shell variable set at
// run time), so the value names the place and each file fills it in.
import { isAbsolute } from "node:path";
import { shellQuote } from "./text.js";

/**
 * A directory only known where the setting is written: the project root, the cache
 * directory, or a path to the cache directory that is plain in a URL (Nix does not
 * decode %20 in a file:// URL, so env.sh links to the cache from such a path); or the
 * upstream caches, which env.sh gives only when they answered at the job's start.
 */
export type NixPlace = "root" | "cache" | "cacheUrl" | "upstreams";

/**
 * A part of a value: fixed text; a path below a place (`path` joined with "/"); or text
 * from the config, which env.sh passes to printf as an argument, never as its format.
 */
export type NixValuePart = string | { place: NixPlace; path?: string } | { config: string };

export interface NixSetting {
  name: string;
  value: NixValuePart[];
  /** Comment lines, each short enough to sit indented in env.sh. */
  why: string[];
}

/** What the decision depends on, as makePlan resolved it. */
export interface NixSettingFacts {
  chroot: boolean;
  /** "" when the cache is unsigned. */
  publicKey: string;
  /** capture: built, which reads what the post-build hook records. */
  hook: boolean;
  upstreams: { url: string; publicKey: string }[];
  upstreamTimeout: number;
}

const PLAIN_URL_PATH = [
  'A file:// cache without "Priority:" in nix-cache-info is asked before',
  "cache.nixos.org (40). Its path must not contain spaces or other characters that are",
  "not plain in a URL (Nix does not decode %20): env.sh links to the cache from a plain",
  "path when it does; by hand, use a symlink.",
];

/** The settings every job gets, in the order they are written. */
export function nixSettings(facts: NixSettingFacts): NixSetting[] {
  const settings: NixSetting[] = [];
  if (facts.chroot) {
    settings.push(
      { name: "store", value: [{ place: "cache", path: "root" }], why: ["The cache directory is the store (Linux only)."] },
      {
        name: "sandbox-fallback",
        value: ["false"],
        why: [
          "Nix builds in a chroot store only inside its sandbox; a sandbox it cannot set up",
          "would make it build outside one, where the chroot store's paths do not exist",
          "(\"executing '/nix/store/...': No such file or directory\", NixOS/nix#16291): an",
          "error that says why is better. env.sh makes a trial build first",
          "(docs/where-it-runs.md).",
        ],
      },
    );
  } else if (facts.publicKey) {
    settings.push(
      { name: "extra-substituters", value: ["file://", { place: "cacheUrl" }], why: PLAIN_URL_PATH },
      {
        name: "extra-trusted-public-keys",
        value: [{ config: facts.publicKey }],
        why: [
          "Signed: Nix's require-sigs (true by default) refuses any entry that this key did",
          "not sign, and fallback builds it instead.",
        ],
      },
    );
  } else {
    settings.push({
      name: "extra-substituters",
      value: ["file://", { place: "cacheUrl" }, "?trusted=1"],
      why: ["trusted=1: the paths are unsigned (honoured by Nix 2.8.0, measured).", ...PLAIN_URL_PATH],
    });
  }
  // The hook costs about 15% of a cold build: only file mode's capture "built" reads what it
  // records (chroot mode's save lists the store itself).
  if (facts.hook && !facts.chroot) {
    settings.push({
      name: "post-build-hook",
      value: [{ place: "root", path: ".nix-ci-cache/hook.sh" }],
      why: ["Records each build for save.sh (capture: built; the other policies read the", "store). It never fails a build."],
    });
  }
  if (facts.upstreams.length > 0) {
    const keys = [...new Set(facts.upstreams.map((u) => u.publicKey))].filter((k) => k && k !== facts.publicKey);
    settings.push({
      name: "extra-substituters",
      value: [{ place: "upstreams" }],
      why: [
        "The shared caches of upstream (docs/upstream.md), after the cache directory: a",
        "binary cache without Priority in nix-cache-info (the directory) is asked first.",
        "env.sh names only those that answered at the job's start.",
      ],
    });
    if (keys.length > 0) {
      settings.push({
        name: "extra-trusted-public-keys",
        value: [{ config: keys.join(" ") }],
        why: ["The keys that sign the shared caches' entries."],
      });
    }
    const seconds = String(facts.upstreamTimeout);
    settings.push(
      {
        name: "connect-timeout",
        value: [seconds],
        why: [
          "A shared cache that is down or hangs costs at most upstreamTimeout per",
          "request (Nix's defaults: curl's 300 s).",
        ],
      },
      { name: "stalled-download-timeout", value: [seconds], why: [] },
    );
  }
  settings.push({
    name: "fallback",
    value: ["true"],
    why: ["A corrupt or partial cache entry must not fail the job: build instead."],
  });
  return settings;
}

/** Each place's text where a setting is written. */
export type NixPlaces = Partial<Record<NixPlace, string>>;

function placeText(part: { place: NixPlace; path?: string }, places: NixPlaces, setting: NixSetting): string {
  const text = places[part.place];
  if (text === undefined) throw new Error(`Nix setting ${setting.name}: the place "${part.place}" is not given`);
  return part.path === undefined ? text : `${text}/${part.path}`;
}

/**
 * `name = value` for nix.conf. A relative place (the configured cache directory) is
 * below the project root: Nix needs absolute paths.
 */
export function nixConfLine(setting: NixSetting, places: NixPlaces): string {
  const value = setting.value.map((part) => {
    if (typeof part === "string") return part;
    if ("config" in part) return part.config;
    const text = placeText(part, places, setting);
    const directory = part.place === "cache" || part.place === "cacheUrl";
    return !directory || isAbsolute(text) ? text : `${placeText({ place: "root" }, places, setting)}/${text}`;
  });
  return `${setting.name} = ${value.join("")}`;
}

/**
 * One printf command that prints `name = value`, for env.sh: fixed text in the format,
 * places (shell words such as "$_ncc_cache", double-quoted) and the config's text as
 * arguments.
 */
export function nixPrintf(setting: NixSetting, places: NixPlaces): string {
  let format = `${setting.name} = `;
  const args: string[] = [];
  for (const part of setting.value) {
    if (typeof part === "string") {
      format += part.replaceAll("\\", "\\\\").replaceAll("%", "%%");
    } else {
      format += "%s";
      args.push("config" in part ? shellQuote(part.config) : `"${placeText(part, places, setting)}"`);
    }
  }
  return ["printf", shellQuote(`${format}\\n`), ...args].join(" ");
}
