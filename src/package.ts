import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Files shipped in the npm package (templates, schemas) are found next to the
 * compiled code, never through the caller's working directory, so `npx` works
 * from any repository.
 */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

export const VERSION: string = JSON.parse(readFileSync(packageFile("package.json"), "utf8")).version;
