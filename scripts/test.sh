#!/bin/sh
# The test command: sets up a fresh clone, then runs every test against real Nix, on
# a Nix store of the run's own (scripts/private-store.sh).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --roots
npm run --silent typecheck
npx biome check src test bench bin
exec sh scripts/private-store.sh npx vitest run "$@"
