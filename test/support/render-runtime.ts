// The runtime scripts exactly as the generator renders them, for tests that run them.
import type { Compression, Config, Mode } from "../../src/model.js";
import { makePlan } from "../../src/plan.js";
import { render } from "../../src/render.js";

export type RuntimeContext = Config;

export function runtimeContext(
  mode: Mode,
  cacheDir = ".nix-ci-cache/cache",
  compression: Compression = "zstd",
  more: Partial<Config> = {},
): Config {
  return {
    providers: ["github"],
    platforms: ["linux"],
    mode,
    cacheDir,
    keyFiles: [],
    into: [],
    runners: {},
    compression,
    build: "nix-build",
    capture: "build-closure",
    maxSize: "4G",
    extraRoots: [],
    exclude: [],
    ...more,
  };
}

/** Path relative to the project root → file, for the files under `.nix-ci-cache/`. */
export function renderRuntime(config: Config): Map<string, { content: string; mode: number }> {
  const out = new Map<string, { content: string; mode: number }>();
  for (const file of render(makePlan(config)).files) {
    if (file.path.startsWith(".nix-ci-cache/")) out.set(file.path, { content: file.content, mode: file.mode });
  }
  return out;
}
