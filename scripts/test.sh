#!/bin/sh
# The test command: sets up a fresh clone, then runs every test against real Nix.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --roots
npm run --silent typecheck
npx biome check src test bench bin
# Every run gets a Nix store of its own: the tests neither see nor disturb this
# machine's store or another run's (two checkouts may test at once). Nix's
# lock files of the build users stay shared, so that two runs never build as the same
# nixbld user at once (Nix kills that user's processes before a build).
if [ "$(id -u)" = 0 ] && command -v bwrap >/dev/null 2>&1; then
  store=$(mktemp -d "${TMPDIR:-/var/tmp}/nix-ci-cache-tests.XXXXXX")
  trap 'rm -rf "$store"' EXIT
  # As Nix makes them (bwrap would make the bind's mount point's parents 0700).
  mkdir -p /nix/var/nix/userpool "$store/var/nix/userpool"
  chmod 755 "$store" "$store/var" "$store/var/nix"
  # Not empty, though: CI runners and developers' machines hold thousands of valid
  # paths, and the runtime must be right and quick there too. Text files, written by
  # one evaluation in a few seconds.
  fill=${NIX_CI_CACHE_TEST_STORE_PATHS:-15000}
  status=0
  bwrap --dev-bind / / --bind "$store" /nix --bind /nix/var/nix/userpool /nix/var/nix/userpool \
    --die-with-parent -- sh -c '
      nix-instantiate --read-write-mode --eval --arg n "$1" --expr "{ n }: builtins.deepSeq (builtins.genList (i: builtins.toFile \"test-filler-\${toString i}\" \"\${toString i}\") n) n" >/dev/null &&
        shift && exec npx vitest run "$@"' sh "$fill" "$@" || status=$?
  exit "$status"
fi
echo "test: not root (or no bwrap): the tests use this machine's Nix store, which nothing else may change meanwhile" >&2
npx vitest run "$@"
