import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

export const EXAMPLES_DIR = join(import.meta.dirname, "..", "..", "examples");

/** Every example (a directory under examples/ with a config), optionally only those that have `file`. */
export function exampleDirs(file?: string): string[] {
  return readdirSync(EXAMPLES_DIR, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(join(".nix-ci-cache", "config.yaml")))
    .map((path) => relative(EXAMPLES_DIR, join(EXAMPLES_DIR, path, "..", "..")))
    .filter((name) => file === undefined || existsSync(join(EXAMPLES_DIR, name, file)))
    .sort();
}
