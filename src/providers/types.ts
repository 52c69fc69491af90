import type { Config, Platform, Problem, ProviderId } from "../model.js";
import type { Plan } from "../plan.js";

/**
 * A provider's own values for its templates, which see them as `ci.<name>` beside the
 * plan's: under a key of their own they cannot replace a value of the plan's.
 */
export type TemplateContext = Record<string, unknown>;

/**
 * A file the user owns and we only touch in one place (for example the
 * `include:` of `.gitlab-ci.yml`). When the file is absent it is created from
 * `templates/providers/<id>/<path>.seed.hbs` and belongs to the user from then on;
 * `update` returns the new text, or `undefined` when our part is already there.
 */
export interface UserFileEdit {
  path: string;
  update(existing: string): string | undefined;
}

/** A default prune budget and the reason for it, in words. */
export interface Budget {
  /** e.g. "4G" */
  size: string;
  why: string;
}

/** Evidence found in the repository of the platforms its CI runs on. */
export interface PlatformEvidence {
  platform: Platform;
  file: string;
  line: string;
  /** GitHub: the job's `runs-on` label or labels, to carry into the generated workflow. */
  runner?: string | string[];
}

/** A line shows a platform when it matches the pattern, or every pattern of the list. */
export type LineSign = RegExp | RegExp[];

/**
 * Where a provider's CI files show the platforms they run on, read by one function
 * (detect.ts): the file, or every YAML file of a directory, and either the line
 * patterns of each platform or, where lines cannot tell (GitHub's matrices), a reader
 * of the whole file.
 */
export interface PlatformSigns {
  path: string;
  directory?: boolean;
  darwin?: LineSign;
  linux?: LineSign;
  read?: (file: string, text: string) => PlatformEvidence[];
}

/**
 * A CI provider is data plus the template folder `templates/providers/<id>/`,
 * whose files are rendered to the same relative paths (minus `.hbs`).
 */
export interface Provider {
  id: ProviderId;
  name: string;
  /** The pipeline file we generate or add our part to. */
  pipelinePath: string;
  /** Runner platforms we can generate for. */
  platforms: Platform[];
  /**
   * Where the generated Linux jobs run when that is a container (Docker's default seccomp
   * profile and capabilities, which forbid the namespaces chroot stores need), in words;
   * absent where they run on a VM.
   */
  linuxContainer?: string;
  /** How the secret key for a signed cache (publicKey) reaches save.sh, in words. */
  signingKey: string;
  /** The key strategy, in words. */
  keyStrategy: string;
  /** Which branches see which caches, and what that means for trust, in words. */
  scope: string;
  /** What checks the generated files in our tests, in words. */
  validatedBy: string;
  /** Environment variable the provider sets in every job: `NAME` (set) or `NAME=value`. */
  detectEnv: string;
  /** Providers whose detection variables this one also sets, so they must not be detected with it. */
  supersedes?: ProviderId[];
  /** Files whose presence shows that a repository uses this provider. */
  detectFiles: string[];
  /** The cache can be saved after a failed job. */
  saveOnFailure: boolean;
  /** What the provider allows, in words, for messages and the README. */
  cacheLimit: string;
  /** Default prune budget for these platforms: safely below the provider's limit. */
  defaultBudget(platforms: Platform[]): Budget;
  /** Config combinations this provider cannot honour; absent: none. */
  rules?(config: Config): Problem[];
  /** Values computed for this provider's templates, which see them as `ci`. */
  context(plan: Plan): TemplateContext;
  /** Files of the user's that we add our part to; absent: none. */
  userFiles?: UserFileEdit[];
  /** Where the repository's existing CI files show the platforms they run on; absent: nowhere we know. */
  platformSigns?: PlatformSigns;
}
