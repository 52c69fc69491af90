#!/bin/sh
# Installs what the tests and the demo need on a fresh Debian/Ubuntu machine:
# the Debian packages (real Nix among them) when a command is missing, and the
# npm packages when node_modules is missing or older than the lock file.
set -eu
cd "$(dirname "$0")/.."

missing=""
need() { # need COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need nix-build nix-bin
need shellcheck shellcheck
need rsync rsync
need dash dash
need zstd zstd
need git git
need unshare util-linux
# The tests build with a static busybox copied into the Nix store; a dynamic one
# would need the host's libraries inside the build.
[ -x /bin/busybox ] && ! (ldd /bin/busybox 2>/dev/null | grep -q '=>') || missing="$missing busybox-static"

if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "setup: missing packages:$missing; install them (apt-get install$missing) or run as root" >&2
    exit 1
  fi
  echo "setup: installing$missing"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
