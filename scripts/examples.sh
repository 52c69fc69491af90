#!/bin/sh
# Regenerates every example from its own .nix-ci-cache/config.yaml.
set -eu
cd "$(dirname "$0")/.."
npm run --silent build
find examples -path '*/.nix-ci-cache/config.yaml' | sort | while IFS= read -r config; do
  dir=${config%/.nix-ci-cache/config.yaml}
  echo "$dir"
  node bin/nix-ci-cache.js generate --cwd "$dir"
done
