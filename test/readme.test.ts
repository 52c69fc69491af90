import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { providerTable, signingTable } from "../src/providers/table.js";
import { readSchema } from "../src/validator.js";

it("the README's generated tables match the provider modules (npm run readme)", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  expect(readme).toContain(`<!-- providers:start -->\n${providerTable()}\n<!-- providers:end -->`);
  expect(readme).toContain(`<!-- signing:start -->\n${signingTable()}\n<!-- signing:end -->`);
});

it("the README's config table gives each key the schema's default", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  const { properties } = readSchema() as { properties: Record<string, { default?: unknown }> };
  const shown = (value: unknown) => (Array.isArray(value) ? `[${value.join(", ")}]` : String(value));
  const withDefaults = Object.entries(properties).filter(([key, p]) => p.default !== undefined && key !== "runners");
  expect(withDefaults.length).toBeGreaterThan(5);
  for (const [key, p] of withDefaults) {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
    expect(row?.split(" | ")[1], key).toBe(`\`${shown(p.default)}\``);
  }
  // runners: {} leaves each platform's runner to the generated workflow, named in the row.
  expect(readme).toMatch(/^\| `runners` \| `ubuntu-latest`, `macos-latest` \|/m);
});
