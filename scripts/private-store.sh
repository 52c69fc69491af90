#!/bin/sh
# Runs a command with a Nix store of its own at /nix (a mount namespace; root only),
# so that tests neither see nor disturb this machine's store or another run's: two
# checkouts may test at once. Nix's lock files of the build users stay shared, so that two runs
# never build as the same nixbld user at once (Nix kills that user's processes before
# a build). Without root or unshare, runs the command on this machine's store.
#
# The store is not empty, though: CI runners and developers' machines hold thousands
# of valid paths, and the runtime must be right and quick there too.
# NIX_CI_CACHE_TEST_STORE_PATHS (default 15000) text files, written by one
# evaluation in a few seconds.
set -eu
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
  echo "private-store: not root (or no unshare): running on this machine's Nix store, which nothing else may change meanwhile" >&2
  exec "$@"
fi
store=$(mktemp -d "${TMPDIR:-/var/tmp}/nix-ci-cache-store.XXXXXX")
trap 'rm -rf "$store"' EXIT
mkdir -p /nix/var/nix/userpool "$store/var/nix/userpool"
chmod 755 "$store" "$store/var" "$store/var/nix"
status=0
# A mount namespace of its own (unshare), not bwrap: bwrap sets no_new_privs, under
# which the setuid sudo that the daemon tests give a user refuses to run.
# shellcheck disable=SC2016 # the inner shell expands them
unshare --mount --propagation private sh -c '
  mount --bind /nix/var/nix/userpool "$1/var/nix/userpool" && mount --rbind "$1" /nix || exit
  nix-instantiate --read-write-mode --eval --arg n "$2" \
    --expr "{ n }: builtins.deepSeq (builtins.genList (i: builtins.toFile \"test-filler-\${toString i}\" \"\${toString i}\") n) n" >/dev/null || exit
  shift 2
  exec "$@"' sh "$store" "${NIX_CI_CACHE_TEST_STORE_PATHS:-15000}" "$@" || status=$?
exit "$status"
