#!/bin/sh
# Runs a command with a Nix store of its own at /nix (bwrap; root only), so that tests
# neither see nor disturb this machine's store or another run's: two checkouts may
# test at once. Nix's lock files of the build users stay shared, so that two runs
# never build as the same nixbld user at once (Nix kills that user's processes before
# a build). Without root or bwrap, runs the command on this machine's store.
#
# The store is not empty, though: CI runners and developers' machines hold thousands
# of valid paths, and the runtime must be right and quick there too.
# NIX_CI_CACHE_TEST_STORE_PATHS (default 15000) text files, written by one
# evaluation in a few seconds.
set -eu
if [ "$(id -u)" != 0 ] || ! command -v bwrap >/dev/null 2>&1; then
  echo "private-store: not root (or no bwrap): running on this machine's Nix store, which nothing else may change meanwhile" >&2
  exec "$@"
fi
store=$(mktemp -d "${TMPDIR:-/var/tmp}/nix-ci-cache-store.XXXXXX")
trap 'rm -rf "$store"' EXIT
# As Nix makes them (bwrap would make the bind's mount point's parents 0700).
mkdir -p /nix/var/nix/userpool "$store/var/nix/userpool"
chmod 755 "$store" "$store/var" "$store/var/nix"
status=0
# shellcheck disable=SC2016 # the inner shell expands them
bwrap --dev-bind / / --bind "$store" /nix --bind /nix/var/nix/userpool /nix/var/nix/userpool \
  --die-with-parent -- sh -c '
    nix-instantiate --read-write-mode --eval --arg n "$1" \
      --expr "{ n }: builtins.deepSeq (builtins.genList (i: builtins.toFile \"test-filler-\${toString i}\" \"\${toString i}\") n) n" >/dev/null || exit
    shift
    exec "$@"' sh "${NIX_CI_CACHE_TEST_STORE_PATHS:-15000}" "$@" || status=$?
exit "$status"
