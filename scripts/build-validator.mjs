// Part of `npm run build`, after tsc: compiles schemas/config.schema.json once into
// dist/config-validator.cjs, so that commands load a small module instead of Ajv and a
// compile on every start (src/validator.ts).
import { writeFileSync } from "node:fs";
import { PRECOMPILED, validatorSource } from "../dist/validator.js";

writeFileSync(new URL(`../dist/${PRECOMPILED}`, import.meta.url), validatorSource());
