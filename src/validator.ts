// The config's JSON Schema validator. Importing Ajv and compiling the schema took about
// 0.1 s of every command that reads a config, so the build compiles it once into
// dist/config-validator.cjs (Ajv's standalone code, scripts/build-precompiled.mjs), and a
// command only requires that file. Run from the TypeScript sources (tests, bench) there
// is no such file, and the schema is compiled here as before, with the same options:
// test/validator.test.ts holds the two to the same answers, and test/package.test.ts
// holds the packed file to the schema in the package.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { ErrorObject } from "ajv";
import { packageFile } from "./package.js";

export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

/** The file the build writes next to the compiled code, and the package ships. */
export const PRECOMPILED = "config-validator.cjs";

const require = createRequire(import.meta.url);
const OPTIONS = { allErrors: true, strict: true } as const;

export function readSchema(): object {
  return JSON.parse(readFileSync(packageFile("schemas/config.schema.json"), "utf8"));
}

function compile(schema: object, source: boolean) {
  const { Ajv } = require("ajv") as typeof import("ajv");
  const ajv = new Ajv({ ...OPTIONS, code: { source } });
  return { ajv, validate: ajv.compile(schema) };
}

/** Ajv's standalone code for the schema: a CommonJS module that exports the validate function. */
export function validatorSource(schema: object = readSchema()): string {
  const { ajv, validate } = compile(schema, true);
  const standaloneCode = (require("ajv/dist/standalone") as typeof import("ajv/dist/standalone/index.js")).default;
  return `// Generated from schemas/config.schema.json by scripts/build-precompiled.mjs; do not edit.\n${standaloneCode(ajv, validate)}\n`;
}

/** The schema compiled at run time: what the precompiled file must agree with. */
export function compiledValidator(schema: object = readSchema()): SchemaValidator {
  return compile(schema, false).validate;
}

let cached: SchemaValidator | undefined;

export function schemaValidator(): SchemaValidator {
  if (!cached) {
    const precompiled = fileURLToPath(new URL(`./${PRECOMPILED}`, import.meta.url));
    cached = existsSync(precompiled) ? (require(precompiled) as SchemaValidator) : compiledValidator();
  }
  return cached;
}
