// Preloaded with `node --import` by test/package.test.ts: when the process ends, appends
// to $LOADED_PACKAGES_FILE every file under node_modules/ it loaded, through require
// (what src/lazy.ts does) or through import (the resolve hook, which sees ESM too).
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const file = process.env.LOADED_PACKAGES_FILE;
if (file) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from "node:fs";
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (result.url.includes("/node_modules/")) appendFileSync(${JSON.stringify(file)}, new URL(result.url).pathname + "\\n");
        return result;
      }`)}`,
  );
  const require = createRequire(import.meta.url);
  process.on("exit", () => {
    const loaded = Object.keys(require.cache).filter((path) => path.includes("/node_modules/"));
    appendFileSync(file, loaded.map((path) => `${path}\n`).join(""));
  });
}
