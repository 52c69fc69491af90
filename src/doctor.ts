// `nix-ci-cache doctor`: runs the generated .nix-ci-cache/doctor.sh, rendered in memory
// from the config (or from the defaults before `init`), so that a CI step without Node
// (`sh .nix-ci-cache/doctor.sh` in the nixos/nix image) and this command run one
// implementation of the checks.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Io } from "./commands.js";
import { validateConfig } from "./config.js";
import { detect } from "./detect.js";
import type { Config } from "./model.js";
import { synth } from "./synth.js";

export const DOCTOR_PATH = ".nix-ci-cache/doctor.sh";

/** On a terminal (`interactive`) the script writes to it itself, and colours its marks unless NO_COLOR. */
type DoctorIo = Pick<Io, "out" | "err" | "env" | "interactive">;

/** The config before `init` has written one: the detected provider (else GitHub's) and every default. */
function defaultConfig(root: string, env: NodeJS.ProcessEnv): Config {
  const detection = detect(root, env);
  const result = validateConfig({ providers: [detection.providers[0]?.id ?? "github"] }, detection.facts);
  if (!result.config) throw new Error(`default config rejected: ${result.problems.map((p) => p.message).join("; ")}`);
  return result.config;
}

/** The text of doctor.sh for this config. */
export function doctorScript(config: Config): string {
  const file = synth(config).files.find((f) => f.path === DOCTOR_PATH);
  if (!file) throw new Error(`${DOCTOR_PATH} is not among the rendered files`);
  return file.content;
}

/** Runs doctor.sh for the project at root; its exit status (0: no blocker, 1: a blocker). */
export function doctor(root: string, config: Config | undefined, io: DoctorIo): number {
  const dir = mkdtempSync(join(tmpdir(), "nix-ci-cache-doctor-"));
  try {
    const script = join(dir, "doctor.sh");
    writeFileSync(script, doctorScript(config ?? defaultConfig(root, io.env)), { mode: 0o700 });
    const r = spawnSync("/bin/sh", [script], {
      cwd: root,
      env: { ...io.env, NIX_CI_CACHE_ROOT: root },
      stdio: io.interactive ? "inherit" : ["ignore", "pipe", "pipe"],
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    for (const line of (r.stdout ?? "").split("\n").filter(Boolean)) io.out(line);
    for (const line of (r.stderr ?? "").split("\n").filter(Boolean)) io.err(line);
    return r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
