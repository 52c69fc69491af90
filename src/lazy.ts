// The dependencies, loaded on first use. Importing them at the top of the modules that
// use them cost about 0.3 s of every start, `--help` included, where most commands need
// one or two of them and `--help` none (BENCHMARKS.md, "Start-up"). Each is required
// synchronously through createRequire, so no caller has to become async: yaml, ajv,
// handlebars and prompts are CommonJS, and diff ships a CommonJS build too.
//
// Import these names from here, never from the packages themselves: one static import of
// a package anywhere under src/ brings its cost back to every command, and
// test/package.test.ts fails when `--help` loads any of them.
import { createRequire } from "node:module";
import type * as Diff from "diff";
import type HandlebarsNamespace from "handlebars";
import type Prompts from "prompts";
import type * as Yaml from "yaml";

const require = createRequire(import.meta.url);

function once<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(id) as T;
    return loaded;
  };
}

/** A function of a module, with its own type, that loads the module when first called. */
function method<M, K extends keyof M>(load: () => M, key: K): M[K] {
  return ((...args: unknown[]) => (load()[key] as (...a: unknown[]) => unknown)(...args)) as M[K];
}

const yaml = once<typeof Yaml>("yaml");
const diff = once<typeof Diff>("diff");
const promptsModule = once<typeof Prompts>("prompts");

/** The Handlebars module: `handlebars().create()` gives an engine of one's own. */
export const handlebars = once<typeof HandlebarsNamespace>("handlebars");
/** Handlebars without its compiler, for precompiled templates. */
export const handlebarsRuntime = once<typeof HandlebarsNamespace>("handlebars/runtime");

export type { Document, Node, Pair, Scalar, YAMLMap } from "yaml";
export type YAMLSeq<T = unknown> = Yaml.YAMLSeq<T>;

export const parseDocument = method(yaml, "parseDocument");
export const stringify = method(yaml, "stringify");
export const isMap = method(yaml, "isMap");
export const isSeq = method(yaml, "isSeq");
export const isScalar = method(yaml, "isScalar");
export const isPair = method(yaml, "isPair");

/** `new YAMLSeq()` as with the package's class, which exists only once yaml is loaded. */
export const YAMLSeq = new Proxy(class {}, {
  construct: (_target, args) => new (yaml().YAMLSeq)(...(args as [])),
  get: (_target, key) => Reflect.get(yaml().YAMLSeq, key),
}) as unknown as typeof Yaml.YAMLSeq;

export const createTwoFilesPatch = method(diff, "createTwoFilesPatch");

export const prompts = ((...args: Parameters<typeof Prompts>) => promptsModule()(...args)) as typeof Prompts;
