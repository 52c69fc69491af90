// The package ships the schema compiled (dist/config-validator.cjs); the tests and the
// bench compile it at run time. Both must give every config the same answer, errors
// included, since the messages users read are made from those errors.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../src/config.js";
import { compiledValidator, readSchema, type SchemaValidator, validatorSource } from "../src/validator.js";
import { EXAMPLES_DIR, exampleDirs } from "./support/examples.js";

const require = createRequire(import.meta.url);

/** The generated module, run as Node would run dist/config-validator.cjs. */
function standalone(): SchemaValidator {
  const module = { exports: {} as unknown };
  new Function("module", "exports", "require", validatorSource())(module, module.exports, require);
  return module.exports as SchemaValidator;
}

const examples = exampleDirs().map(
  (name) => parseConfigText(readFileSync(join(EXAMPLES_DIR, name, ".nix-ci-cache", "config.yaml"), "utf8")).data as object,
);

/** Configs that break each kind of rule the schema has, several at once. */
const broken: unknown[] = [
  {},
  [],
  "providers: [github]",
  { providers: [] },
  { providers: ["github", "github"] },
  { providers: ["githb"], platforms: ["macos"], mode: "store" },
  { providers: ["github"], cacheDir: "", keyFiles: [""], build: "" },
  { providers: ["github"], maxSize: "4 GB", exclude: ["a/b"], extraRoots: ["x\ny"], publicKey: "nokey" },
  { providers: ["github"], compression: "gzip", capture: "all", unknown: 1, another: true },
  { providers: "github", platforms: "linux", keyFiles: "flake.lock" },
];

function answer(validate: SchemaValidator, data: unknown) {
  const valid = validate(data);
  return { valid, errors: validate.errors ?? null };
}

describe("the precompiled config validator", () => {
  it("answers every example and every kind of broken config as the schema compiled at run time does", () => {
    const shipped = standalone();
    const compiled = compiledValidator();
    expect(examples.length).toBeGreaterThan(10);
    for (const data of examples) {
      expect(answer(shipped, data), JSON.stringify(data)).toEqual({ valid: true, errors: null });
      expect(answer(compiled, data)).toEqual({ valid: true, errors: null });
    }
    for (const data of broken) {
      const expected = answer(compiled, data);
      expect(expected.valid).toBe(false);
      expect(answer(shipped, data), JSON.stringify(data)).toEqual(expected);
    }
  });

  it("is made from the schema in schemas/, so that a changed schema changes it", () => {
    const schema = readSchema() as { properties: Record<string, { enum?: string[] }> };
    expect(validatorSource(schema)).toBe(validatorSource());
    const changed = structuredClone(schema);
    changed.properties.mode = { ...changed.properties.mode, enum: ["file"] };
    expect(validatorSource(changed)).not.toBe(validatorSource());
  });
});
