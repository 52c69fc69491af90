// nix.conf and env.sh place one list of settings (src/nix-settings.ts): with env.sh's
// run-time places set to what nix.conf writes, env.sh must print nix.conf's lines.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { applyDefaults } from "../src/config.js";
import type { RawConfig } from "../src/model.js";
import { synth } from "../src/synth.js";

const KEY = "example-1:RMdhQI1tiHmeGn/giQa8uHq18OOSSmfpXtYuC+r09l0=";
const CASES: Array<[string, Partial<RawConfig>, string]> = [
  ["file, unsigned", {}, "@PROJECT_ROOT@/.nix-ci-cache/cache"],
  ["file, signed", { publicKey: KEY }, "@PROJECT_ROOT@/.nix-ci-cache/cache"],
  ["file, capture built, absolute cache", { capture: "built", cacheDir: "/var/cache/a'b%c" }, "/var/cache/a'b%c"],
  ["chroot", { mode: "chroot", capture: "built" }, "@PROJECT_ROOT@/.nix-ci-cache/cache"],
];

function generated(raw: Partial<RawConfig>): Map<string, string> {
  const config = applyDefaults({ providers: ["github"], ...raw }, { existingKeyFiles: [], expression: "default" });
  return new Map(synth(config).files.map((f) => [f.path, f.content]));
}

describe("the Nix settings", () => {
  it.each(CASES)("%s: env.sh prints the lines of nix.conf", (_name, raw, cache) => {
    const files = generated(raw);
    const conf = (files.get(".nix-ci-cache/nix.conf") ?? "").split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    const env = files.get(".nix-ci-cache/env.sh") ?? "";
    const start = env.indexOf("\n_ncc_settings() {\n");
    const settings = env.slice(start, env.indexOf("\n}\n", start) + 3);
    const script = `_ncc_mode_settings() { :; }\n_ncc_no_build_users=\n${settings}\n_ncc_settings`;
    const printed = execFileSync("sh", ["-euc", script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, _ncc_root: "@PROJECT_ROOT@", _ncc_cache: cache, _ncc_cache_url_path: cache },
    });
    expect(conf.length).toBeGreaterThan(1);
    expect(printed.split("\n").filter(Boolean)).toEqual(conf);
  });
});
