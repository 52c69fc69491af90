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
};

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
  const example = EXAMPLES[`/${key.split("/")[1] ?? ""}`];
  const hint = example ? ` (${example})` : "";
  switch (error.keyword) {
    case "additionalProperties": {
      const unknown = String(error.params.additionalProperty);
      const known = Object.keys(EXAMPLES)
        .map((k) => k.slice(1))
        .join(", ");
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
    case "required":
      return {
        key: `/${String(error.params.missingProperty)}`,
        message: `is required${EXAMPLES[`/${String(error.params.missingProperty)}`] ? ` (${EXAMPLES[`/${String(error.params.missingProperty)}`]})` : ""}`,
      };
    case "pattern":
      return { key, message: `${PATTERN_MESSAGES[key.split("/")[1] ?? ""] ?? error.message ?? "is invalid"}${hint}` };
    default:
      return { key, message: `${error.message ?? "is invalid"}${hint}` };
  }
}
