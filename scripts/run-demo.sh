#!/bin/sh
# The main job on the bundled example: the GitLab job of examples/demo, run by
# gitlab-ci-local on this machine's real Nix, twice. Between the runs the cache
# directory is carried over as GitLab does (archived, then restored into a fresh
# checkout) and the demo's paths are deleted from /nix/store, as on a new runner.
# Run 1 builds everything and fills the cache; run 2 must build nothing.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/nix-ci-cache-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
ci_local="$repo/node_modules/.bin/gitlab-ci-local"
cache=.nix-ci-cache/cache

forget_demo_paths() {
  # A new runner has none of them; its ./result link must not keep them alive.
  rm -rf "$work/checkout"
  paths=$(ls -d /nix/store/*-nix-ci-cache-demo-* 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$paths" ] || nix-store --delete $paths >/dev/null 2>&1 || {
    echo "demo: could not delete the demo's paths from /nix/store:" >&2
    # shellcheck disable=SC2086
    nix-store --delete $paths >&2
    exit 1
  }
}

checkout() {
  cp -R "$repo/examples/demo" "$work/checkout"
  mkdir -p "$work/checkout/busybox-src/bin"
  cp /bin/busybox "$work/checkout/busybox-src/bin/sh"
  (cd "$work/checkout" && git init -q && git add -A)
}

run_job() { # run_job N
  log="$work/run$1.log"
  (
    cd "$work/checkout"
    # No network here: an empty substituters list keeps Nix from trying cache.nixos.org.
    "$ci_local" --force-shell-executor --no-color --variable "NIX_CONFIG=substituters =" nix-build
  ) >"$log" 2>&1 || {
    cat "$log" >&2
    echo "demo: run $1 failed" >&2
    exit 1
  }
  built=$(grep -c "building '/nix/store/[^']*\.drv'" "$log" || true)
  echo "run $1: built $built derivations"
  grep -E "nix-ci-cache(:| save)" "$log" | sed 's/^/  /' || true
}

forget_demo_paths
checkout
run_job 1
(cd "$work/checkout" && tar -cf "$work/cache.tar" "$cache")
echo "carried over: $(du -sk "$work/checkout/$cache" | cut -f1) KiB in $cache"

forget_demo_paths
checkout
(cd "$work/checkout" && tar -xf "$work/cache.tar")
run_job 2
