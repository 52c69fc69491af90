// What the config's JSON Schema says besides what is valid: each key's default and
// choices. schemas/config.schema.json is the one place they are written; editors show
// them from there, and validateConfig's defaults and init's flags read them here.
import type { Compression, Mode, Platform, RawConfig } from "./model.js";
import { readSchema } from "./validator.js";

interface Property {
  default?: unknown;
  enum?: string[];
  items?: { enum?: string[] };
}

let properties: Record<string, Property> | undefined;

function property(key: keyof RawConfig): Property {
  properties ??= (readSchema() as { properties: Record<string, Property> }).properties;
  const found = properties[key];
  if (!found) throw new Error(`schemas/config.schema.json: no property ${key}`);
  return found;
}

/** The values a key (or each item of a list key) may take. */
export function choicesOf(key: keyof RawConfig): readonly string[] {
  const p = property(key);
  const choices = p.enum ?? p.items?.enum;
  if (!choices) throw new Error(`schemas/config.schema.json: ${key} has no enum`);
  return choices;
}

/** The schema's `default` of a key: what a config that leaves the key out gets. */
function defaultOf<T>(key: keyof RawConfig): T {
  const value = property(key).default;
  if (value === undefined) throw new Error(`schemas/config.schema.json: ${key} has no default`);
  return structuredClone(value) as T;
}

/** The defaults that depend on nothing but the schema; the others (keyFiles, build, maxSize) on the project. */
export function schemaDefaults() {
  return {
    platforms: defaultOf<Platform[]>("platforms"),
    mode: defaultOf<Mode>("mode"),
    cacheDir: defaultOf<string>("cacheDir"),
    compression: defaultOf<Compression>("compression"),
    capture: defaultOf<RawConfig["capture"] & string>("capture"),
    extraRoots: defaultOf<string[]>("extraRoots"),
    exclude: defaultOf<string[]>("exclude"),
    into: defaultOf<string[]>("into"),
    runners: defaultOf<NonNullable<RawConfig["runners"]>>("runners"),
    upstream: defaultOf<NonNullable<RawConfig["upstream"]>>("upstream"),
    upstreamTimeout: defaultOf<number>("upstreamTimeout"),
  };
}
