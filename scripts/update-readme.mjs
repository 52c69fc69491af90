// Rewrites the generated tables in README.md from the provider modules (after `npm run build`).
import { readFileSync, writeFileSync } from "node:fs";
import { providerTable, signingTable } from "../dist/providers/table.js";

const readme = new URL("../README.md", import.meta.url);
let text = readFileSync(readme, "utf8");
for (const [name, table] of [
  ["providers", providerTable()],
  ["signing", signingTable()],
]) {
  const markers = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!markers.test(text)) throw new Error(`README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> markers`);
  text = text.replace(markers, (_, start, end) => `${start}${table}\n${end}`);
}
writeFileSync(readme, text);
