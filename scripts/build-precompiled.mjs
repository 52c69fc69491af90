// Part of `npm run build`, after tsc: compiles the config schema and the templates once
// into dist/, so that a command loads two small modules instead of Ajv, the Handlebars
// compiler and a compile of each on every start (src/validator.ts, src/render.ts).
import { writeFileSync } from "node:fs";
import { PRECOMPILED_TEMPLATES, templatesSource } from "../dist/render.js";
import { PRECOMPILED, validatorSource } from "../dist/validator.js";

writeFileSync(new URL(`../dist/${PRECOMPILED}`, import.meta.url), validatorSource());
writeFileSync(new URL(`../dist/${PRECOMPILED_TEMPLATES}`, import.meta.url), templatesSource());
