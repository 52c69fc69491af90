import type { ProviderId } from "../model.js";
import { azure } from "./azure.js";
import { bitbucket } from "./bitbucket.js";
import { buildkite } from "./buildkite.js";
import { circleci } from "./circleci.js";
import { drone } from "./drone.js";
import { forgejo } from "./forgejo.js";
import { github } from "./github.js";
import { gitlab } from "./gitlab.js";
import { jenkins } from "./jenkins.js";
import { semaphore } from "./semaphore.js";
import { sourcehut } from "./sourcehut.js";
import { travis } from "./travis.js";
import type { Provider } from "./types.js";
import { woodpecker } from "./woodpecker.js";

export const PROVIDERS: Record<ProviderId, Provider> = {
  github,
  gitlab,
  travis,
  woodpecker,
  forgejo,
  buildkite,
  drone,
  circleci,
  semaphore,
  jenkins,
  azure,
  sourcehut,
  bitbucket,
};

/** What users also call the providers, for `--provider`. */
export const PROVIDER_ALIASES: Record<string, ProviderId> = {
  gh: "github",
  "github-actions": "github",
  actions: "github",
  gl: "gitlab",
  "gitlab-ci": "gitlab",
  "travis-ci": "travis",
  "woodpecker-ci": "woodpecker",
  gitea: "forgejo",
  "gitea-actions": "forgejo",
  "forgejo-actions": "forgejo",
  codeberg: "forgejo",
  bk: "buildkite",
  "drone-ci": "drone",
  circle: "circleci",
  "circle-ci": "circleci",
  semaphoreci: "semaphore",
  "azure-pipelines": "azure",
  "azure-devops": "azure",
  ado: "azure",
  srht: "sourcehut",
  "builds.sr.ht": "sourcehut",
  bb: "bitbucket",
  "bitbucket-pipelines": "bitbucket",
};
