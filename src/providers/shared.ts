// What several providers write the same way: the Nix install, `${{ }}` expressions, and
// the rule that the cache directory lies inside the project.

import { isAbsolute, normalize } from "node:path";
import type { Config, Problem } from "../model.js";
import { schemaDefaults } from "../schema.js";

/** `${{ … }}` (GitHub, Forgejo, Azure), built here so templates never escape Handlebars braces. */
export const expr = (inner: string) => `\${{ ${inner} }}`;

/** Where a daemon install of Nix keeps its profile script and its commands. */
export const NIX_PROFILE_SCRIPT = "/nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh";
export const NIX_PROFILE_BIN = "/nix/var/nix/profiles/default/bin";

const HAS_NIX = "command -v nix >/dev/null 2>&1";
const DETERMINATE_INSTALLER = "curl --proto '=https' --tlsv1.2 -sSf -L https://install.determinate.systems/nix";

const INSTALL_ARGS = "install --no-confirm";

/** The Determinate Systems installer, run with `args`: one line. */
export const installNix = (args = INSTALL_ARGS) => `${DETERMINATE_INSTALLER} | sh -s -- ${args}`;

/** Installs Nix unless the runner has it (no profile: for shells that find it on the PATH). */
export const INSTALL_NIX_UNLESS_PRESENT = `${HAS_NIX} || ${installNix()}`;

/**
 * Installs Nix unless the runner has it, and puts it on this shell's PATH: for steps
 * whose later commands run in the same shell. Folded YAML takes it as these lines.
 */
export const INSTALL_NIX_HERE_LINES = [`${HAS_NIX} ||`, `{ ${installNix()} &&`, `. ${NIX_PROFILE_SCRIPT}; }`];
export const INSTALL_NIX_HERE = INSTALL_NIX_HERE_LINES.join(" ");

/** Nix on this shell's PATH where the installer put it, or nothing where Nix came otherwise. */
export const SOURCE_NIX_PROFILE = `. ${NIX_PROFILE_SCRIPT} 2>/dev/null || true`;

/**
 * Installs Nix unless the runner has it, then runs `handOn`, which makes it known to the
 * job's later steps (each a new shell) the provider's way.
 */
export function installNixForLaterSteps(handOn: string, args = INSTALL_ARGS): string {
  return [`if ! ${HAS_NIX}; then`, `  ${DETERMINATE_INSTALLER} |`, `    sh -s -- ${args}`, `  ${handOn}`, "fi"].join("\n");
}

/**
 * The problem of a cache directory outside the project, for providers that keep only
 * what lies inside it; `why` says what of theirs needs it there.
 */
export function cacheDirInside(config: Config, why: string): Problem[] {
  return isAbsolute(config.cacheDir) || normalize(config.cacheDir).startsWith("..")
    ? [
        {
          key: "/cacheDir",
          message: `${why}, and "${config.cacheDir}" is outside it; use a relative path such as ${schemaDefaults().cacheDir}`,
        },
      ]
    : [];
}
