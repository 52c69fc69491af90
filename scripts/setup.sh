#!/bin/sh
# Installs what the tests and the demo need on a fresh Debian/Ubuntu machine:
# the Debian packages (real Nix among them) when a command is missing, the nixbld
# group, and the npm packages when node_modules is missing or older than the lock
# file; with --roots (the tests), the Debian roots with other Nix versions and the
# virtualenv with moto (an S3 server).
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
# The benchmarks' test runs the archivers of GitLab (zip) and the upload's limit (curl).
need zip zip
need unzip unzip
need curl curl
# The remote-cache tests start servers of their own on loopback (test/support/servers.ts):
# nginx-light (its dav module takes Nix's uploads) as an HTTP binary cache, and sshd in
# front of a second Nix store (ssh-ng://). Never as services: the suite starts them.
[ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
[ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
# moto's virtualenv (--roots, below) needs venv's ensurepip, which Debian's python3 lacks
# without python3-venv.
[ "${1:-}" != --roots ] || [ -f "${NIX_CI_CACHE_MOTO:-/var/cache/nix-ci-cache/moto}/.moto-version" ] ||
  python3 -c 'import ensurepip' 2>/dev/null || missing="$missing python3-venv"
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
  # nginx's and sshd's postinst start their services through invoke-rc.d, which fails
  # in a container or debootstrap root without an init (or with port 80 taken) and
  # leaves the package unconfigured. A policy-rc.d that answers 101 tells invoke-rc.d
  # not to start anything; the tests start their own servers.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# setup.sh: no service starts while it installs packages\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    # shellcheck disable=SC2064 # expand now: $sudo and $policy are known here
    trap "$sudo rm -f '$policy'" EXIT
  fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
  if [ -n "$policy" ]; then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
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

# For the tests (--roots): moto, an S3 server, in a virtualenv made once and kept in
# /var/cache/nix-ci-cache/moto (NIX_CI_CACHE_MOTO) like the roots; its stamp
# .moto-version, written last, marks it complete. PyPI may be out of reach (CI's
# machines reach Debian's and npm's registries only), so a python3 that already has
# this moto (the machine image's) is the virtualenv's base, with its site-packages:
# pip then finds moto installed. Where neither works, setup stops here.
MOTO_VERSION=5.2.1
moto_venv=${NIX_CI_CACHE_MOTO:-/var/cache/nix-ci-cache/moto}
if [ "${1:-}" = --roots ] && [ "$(cat "$moto_venv/.moto-version" 2>/dev/null)" != "$MOTO_VERSION" ]; then
  base=python3 site=""
  for py in python3 /usr/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
    if "$py" -c "import sys, moto; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
      base=$py site=--system-site-packages
      break
    fi
  done
  echo "setup: making moto $MOTO_VERSION's virtualenv in $moto_venv (from $(command -v "$base"))"
  rm -rf "$moto_venv"
  mkdir -p "$(dirname "$moto_venv")"
  # shellcheck disable=SC2086 # $site is one option or none
  if ! "$base" -m venv $site "$moto_venv" ||
    ! "$moto_venv/bin/python3" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" ||
    ! "$moto_venv/bin/python3" -m moto.server --help >/dev/null; then
    echo "setup: cannot install moto[server]==$MOTO_VERSION (for the S3 tests) into $moto_venv: no python3 with it and no PyPI" >&2
    exit 1
  fi
  echo "$MOTO_VERSION" >"$moto_venv/.moto-version"
fi

if [ ! -f node_modules/.package-lock.json ] || [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
