#!/bin/sh
# Regenerates every example from its own .nix-ci-cache/config.yaml.
set -eu
cd "$(dirname "$0")/.."
npm run --silent build
for config in examples/*/.nix-ci-cache/config.yaml; do
  dir=${config%/.nix-ci-cache/config.yaml}
  echo "$dir"
  node bin/nix-ci-cache.js generate --cwd "$dir"
done
