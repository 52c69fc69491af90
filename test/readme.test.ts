import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { providerTable, signingTable } from "../src/providers/table.js";

it("the README's generated tables match the provider modules (npm run readme)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  expect(readme).toContain(`<!-- providers:start -->\n${providerTable()}\n<!-- providers:end -->`);
  expect(readme).toContain(`<!-- signing:start -->\n${signingTable()}\n<!-- signing:end -->`);
});
