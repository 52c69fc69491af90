// Ajv's errors in the user's words: the key, what is wrong, and an example of what works.
import type { ErrorObject } from "ajv";
import type { Problem } from "./model.js";

export const EXAMPLES: Record<string, string> = {
  "/providers": "e.g. providers: [github]",
  "/platforms": "e.g. platforms: [linux, darwin]",
  "/mode": "e.g. mode: file",
  "/cacheDir": "e.g. cacheDir: .nix-ci-cache/cache",
  "/keyFiles": "e.g. keyFiles: [flake.lock]",
  "/compression": "e.g. compression: zstd",
  "/build": "e.g. build: nix build -L",
  "/capture": "e.g. capture: build-closure",
  "/maxSize": 'e.g. maxSize: "4G"',
  "/extraRoots": "e.g. extraRoots: [.nix-ci-cache/state/dev-profile]",
  "/exclude": 'e.g. exclude: ["*-source"]',
  "/publicKey": 'e.g. publicKey: "my-project-1:…=", made by "npx nix-ci-cache keygen"',
  "/into": 'e.g. into: [".github/workflows/ci.yml:build"]',
  "/runners": "e.g. runners: {darwin: macos-14}",
  "/upstream": 'e.g. upstream: [{url: "s3://my-nix-cache?region=eu-west-1"}], docs/upstream.md',
  "/upstreamTimeout": "e.g. upstreamTimeout: 10, in seconds",
};

/** The keys of an upstream entry, with an example each, for errors under /upstream/<n>. */
const UPSTREAM_EXAMPLES: Record<string, string> = {
  url: 'e.g. url: "s3://my-nix-cache?region=eu-west-1", "https://my-cache.cachix.org" or "ssh-ng://nix@cache.example.org"',
  publicKey: 'e.g. publicKey: "my-cache.cachix.org-1:…=", the key its entries are signed with',
  push: "e.g. push: false, to only read from it",
  pushCommand: "e.g. pushCommand: cachix push my-cache",
  secrets: "e.g. secrets: [CACHIX_AUTH_TOKEN]",
};

const UPSTREAM_PATTERN_MESSAGES: Record<string, string> = {
  url: "must be an http(s)://, s3:// or ssh-ng:// store URL without spaces, quotes or backslashes",
  publicKey: "must be a Nix public key, <name>:<44 characters of base64>",
  secrets: "must be an environment variable name: capital letters, digits and _",
};

/** The key of an upstream entry an error is about: /upstream/0/secrets/1 → secrets. */
function upstreamField(key: string): string | undefined {
  const [, top, index, field] = key.split("/");
  return top === "upstream" && index !== undefined && field !== undefined ? field : undefined;
}

function exampleFor(key: string): string | undefined {
  const field = upstreamField(key);
  return (field && UPSTREAM_EXAMPLES[field]) || EXAMPLES[`/${key.split("/")[1] ?? ""}`];
}

const PATTERN_MESSAGES: Record<string, string> = {
  maxSize: "must be a whole number with an optional K, M, G or T suffix (powers of 1024)",
  extraRoots: "must be one line",
  exclude: "must be a store path name glob: letters, digits, + . _ = - and the wildcards * and ?",
  into: 'must be "<pipeline file>:<job>"',
  runners: 'must be one line without "${{"',
  publicKey: "must be a Nix public key, <name>:<44 characters of base64> (the output of nix key convert-secret-to-public)",
};

export function describeSchemaError(error: ErrorObject): Problem {
  const key = error.instancePath || "/";
  const example = exampleFor(key);
  const hint = example ? ` (${example})` : "";
  switch (error.keyword) {
    case "additionalProperties": {
      const unknown = String(error.params.additionalProperty);
      const known = (
        /^\/upstream\/\d+$/.test(key) ? Object.keys(UPSTREAM_EXAMPLES) : Object.keys(EXAMPLES).map((k) => k.slice(1))
      ).join(", ");
      return {
        key: `${key === "/" ? "" : key}/${unknown}`,
        message: `unknown key; remove it (known keys: ${known})`,
      };
    }
    case "enum":
      return {
        key,
        message: `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}${hint}`,
      };
    case "required": {
      const missing = `${key === "/" ? "" : key}/${String(error.params.missingProperty)}`;
      const example = exampleFor(missing);
      return { key: missing, message: `is required${example ? ` (${example})` : ""}` };
    }
    case "pattern": {
      const field = upstreamField(key);
      const message = field ? UPSTREAM_PATTERN_MESSAGES[field] : PATTERN_MESSAGES[key.split("/")[1] ?? ""];
      return { key, message: `${message ?? error.message ?? "is invalid"}${hint}` };
    }
    default:
      return { key, message: `${error.message ?? "is invalid"}${hint}` };
  }
}
