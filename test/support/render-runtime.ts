// The runtime scripts exactly as the generator renders them, for tests that run them
// and for the benchmarks (so it imports nothing of Vitest).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
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
    upstream: [],
    upstreamTimeout: 10,
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

/** Writes the runtime files into a project directory, as generate would. */
export function writeRuntime(projectDir: string, ctx: RuntimeContext): void {
  for (const [rel, f] of renderRuntime(ctx)) {
    const target = join(projectDir, rel);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, f.content);
    chmodSync(target, f.mode);
  }
}
