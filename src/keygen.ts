// `nix-ci-cache keygen`: a signing key pair in Nix's format, made with Node's crypto so
// that no local Nix is needed, and the public half written into the config.
import { generateKeyPairSync } from "node:crypto";
import { basename } from "node:path";
import { parseDocument } from "./lazy.js";

export interface KeyPair {
  /** `name:base64(seed ‖ public key)`, 64 bytes: what `nix-store --generate-binary-cache-key` writes. */
  secret: string;
  /** `name:base64(public key)`, 32 bytes. */
  public: string;
}

export const KEY_NAME_PATTERN = /^[A-Za-z0-9._+-]+$/;

export function generateKeyPair(name: string): KeyPair {
  if (!KEY_NAME_PATTERN.test(name)) throw new Error(`not a key name: "${name}" (letters, digits, . _ + -)`);
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d as string, "base64url");
  const pub = Buffer.from(jwk.x as string, "base64url");
  return { secret: `${name}:${Buffer.concat([seed, pub]).toString("base64")}`, public: `${name}:${pub.toString("base64")}` };
}

/**
 * The name of a new key: `<project>-1`, or the next number after the current key's, so
 * that a rotated key never shares its name with the old one (save.sh tells entries of
 * the old key by the name in their signatures).
 */
export function nextKeyName(root: string, current: string | undefined): string {
  const old = current?.split(":")[0];
  const numbered = old ? /^(.*)-(\d+)$/.exec(old) : null;
  if (numbered) return `${numbered[1]}-${Number(numbered[2]) + 1}`;
  if (old) return `${old}-2`;
  const project =
    basename(root)
      .replace(/[^A-Za-z0-9._+-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "nix-ci-cache";
  return `${project}-1`;
}

/** The config text with `publicKey` set, comments and everything else kept. */
export function withPublicKey(configText: string, publicKey: string): string {
  const doc = parseDocument(configText);
  if (doc.has("publicKey")) {
    doc.set("publicKey", publicKey);
    return doc.toString({ lineWidth: 0 });
  }
  return `${configText.trimEnd()}
# Sign the cache: jobs accept only entries signed by this key, and save.sh signs with the
# secret key in the CI secret NIX_CI_CACHE_SIGNING_KEY (nix-ci-cache README, "Trust").
publicKey: ${JSON.stringify(publicKey)}
`;
}
