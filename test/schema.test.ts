import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { PROVIDER_IDS } from "../src/model.js";

const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "schemas", "config.schema.json"), "utf8"));

it("the shipped schema lists exactly the providers the code knows", () => {
  expect(schema.properties.providers.items.enum).toEqual([...PROVIDER_IDS]);
});

it("the shipped schema documents every key it accepts", () => {
  for (const [key, value] of Object.entries(schema.properties)) {
    expect((value as { description?: string }).description, key).toBeTruthy();
  }
  expect(schema.additionalProperties).toBe(false);
});
