#!/bin/sh
# Installs what the tests and the demo need on a fresh Debian/Ubuntu machine:
# the Debian packages (real Nix among them) when a command is missing, the nixbld
# group, and the npm packages when node_modules is missing or older than the lock
# file; with --roots (the tests), the Debian roots with other Nix versions.
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
need bwrap bubblewrap
need debootstrap debootstrap
need zsh zsh
# The daemon and AppArmor tests run env.sh as a user with (and without) passwordless sudo.
need sudo sudo
# init's interactive test types into a pseudo-terminal through Python's pty module.
need python3 python3
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

# Debian's nix-bin alone leaves Nix's default build-users-group (nixbld) without its
# group, and every build as root stops with "the group 'nixbld' specified in
# 'build-users-group' does not exist". nix-setup-systemd's postinst creates it and ten
# build users; this does the same, without pulling in systemd.
if ! grep -q '^nixbld:' /etc/group; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "setup: the group nixbld (Nix's build users) is missing; create it as root: groupadd --system nixbld" >&2
    exit 1
  fi
  echo "setup: creating the group nixbld and the users nixbld1..10 (Nix's build users)"
  $sudo groupadd --force --system nixbld
  for n in 1 2 3 4 5 6 7 8 9 10; do
    id "nixbld$n" >/dev/null 2>&1 ||
      $sudo useradd --system --comment "Nix build user $n" --home-dir /var/empty --gid nixbld --groups nixbld \
        --no-user-group --shell /usr/sbin/nologin "nixbld$n"
  done
fi

# For the tests (--roots): Debian roots with the Nix of bookworm (2.8), trixie (2.26)
# and sid (the newest), made once (about a minute each) and kept in
# /var/cache/nix-ci-cache/roots. Sid is sometimes mid-transition: then testing (which
# follows it by days) stands in.
roots() { # roots [sudo]
  # shellcheck disable=SC2086 # $1 is sudo or nothing
  $1 sh scripts/nix-roots.sh bookworm trixie && {
    $1 sh scripts/nix-roots.sh sid || {
      echo "setup: no sid root today; Debian testing stands in for the newest Nix" >&2
      $1 sh scripts/nix-roots.sh testing
    }
  }
}
if [ "${1:-}" != --roots ]; then
  :
elif [ "$(id -u)" = 0 ]; then
  roots ""
elif sudo -n true 2>/dev/null; then
  roots sudo
else
  roots "" || {
    echo "setup: building the Debian roots with other Nix versions needs root: sudo sh scripts/nix-roots.sh bookworm trixie sid" >&2
    exit 1
  }
fi

if [ ! -f node_modules/.package-lock.json ] || [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
