#!/bin/sh
# The test command: sets up a fresh clone, then runs every test against real Nix.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --roots
npm run --silent typecheck
npx biome check src test bench bin
npx vitest run "$@"
