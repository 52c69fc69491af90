#!/bin/sh
# Runs one of the README's two commands in a clean clone of HEAD inside a fresh Debian
# bookworm root (debootstrap --variant=minbase, entered as root, below): no Nix, no
# nixbld group, no packages of this machine, no Debian roots, no node_modules. What
# every machine of this project has is put in (.library/env/machines/node.md): Node.js
# and npm (Debian 12's own nodejs is 18; we need 20), set to build native addons
# against Node's own headers with python3, make and g++, the machine's certificate
# authorities, and the image's Python with its packages (pyenv's; moto, the S3 tests'
# server, among them), bound read-only from this machine at the same path and first on
# PATH.
#
#   sh scripts/fresh-check.sh demo     # sh scripts/demo.sh
#   sh scripts/fresh-check.sh test     # sh scripts/test.sh
#
# The root is made once in $NIX_CI_CACHE_FRESH (default /var/cache/nix-ci-cache/fresh)
# and copied for each check, so every check starts from the same empty machine. A
# developer's tool: minutes, not part of the test suite.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
  demo) command="sh scripts/demo.sh" ;;
  test) command="sh scripts/test.sh" ;;
  *) echo "usage: sh scripts/fresh-check.sh demo|test" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, mount namespaces)" >&2; exit 1; }
base=${NIX_CI_CACHE_FRESH:-/var/cache/nix-ci-cache/fresh}
pristine=$base/bookworm
if [ ! -f "$pristine/.fresh-stamp" ] || [ ! -f "$pristine/etc/hosts" ]; then
  command -v debootstrap >/dev/null 2>&1 || { echo "fresh-check: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  rm -rf "$pristine.tmp"
  mkdir -p "$base"
  debootstrap --variant=minbase --include=python3,make,g++ bookworm "$pristine.tmp" http://deb.debian.org/debian >"$base/debootstrap.log" 2>&1 ||
    { tail -n 20 "$base/debootstrap.log" >&2; exit 1; }
  cp /usr/bin/node "$pristine.tmp/usr/bin/node"
  mkdir -p "$pristine.tmp/usr/lib/node_modules"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$pristine.tmp/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$pristine.tmp/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$pristine.tmp/usr/bin/npx"
  cp -a /usr/include/node "$pristine.tmp/usr/include/node"
  cp /root/.npmrc "$pristine.tmp/root/.npmrc"
  # This machine's certificate authorities (its network may need them), as every
  # machine of the project has them.
  # A machine knows localhost (minbase writes no /etc/hosts).
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$pristine.tmp/etc/hosts"
  mkdir -p "$pristine.tmp/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$pristine.tmp/etc/ssl/certs/ca-certificates.crt"
  rm -f "$pristine.tmp"/var/cache/apt/archives/*.deb
  date -u +%Y-%m-%dT%H:%M:%SZ >"$pristine.tmp/.fresh-stamp"
  mv "$pristine.tmp" "$pristine"
fi
machine=$(mktemp -d "$base/machine.XXXXXX")
trap 'rm -rf "$machine"' EXIT
cp -a "$pristine/." "$machine/"
git clone -q "$here" "$machine/root/checkout"
git -C "$machine/root/checkout" checkout -q "$(git -C "$here" rev-parse HEAD)"
echo "fresh-check: $command in a clean clone of $(git -C "$here" rev-parse --short HEAD), in a fresh Debian bookworm root" >&2
start=$(date +%s)
# Entered through a mount namespace of its own whose root it becomes (pivot_root), not
# bwrap: bwrap sets no_new_privs, under which the setuid sudo of the daemon tests
# refuses to run; and not chroot, inside which no user namespace can be made (Nix's
# sandbox needs them). The host's /proc: Nix's sandbox mounts a new one (see
# scripts/nix-roots.sh). The host's /dev: debootstrap of the tests' own roots makes
# device nodes.
status=0
python=$(python3 -c 'import sys; print(sys.base_prefix)' 2>/dev/null || true)
case $python in /usr | "") python="" path="" ;; *) path=$python/bin: ;; esac
# shellcheck disable=SC2016 # the inner shell expands them
env -i HOME=/root PATH="${path}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  unshare --mount --propagation private --fork sh -c '
    m=$1
    mount --rbind "$m" "$m" &&
      mount --rbind /proc "$m/proc" && mount --rbind /dev "$m/dev" && mount --rbind /sys "$m/sys" &&
      mount -t tmpfs -o mode=1777 tmpfs "$m/tmp" &&
      mount --bind /etc/resolv.conf "$m/etc/resolv.conf" &&
      { [ -z "$3" ] || { mkdir -p "$m$3" && mount --rbind "$3" "$m$3" && mount -o remount,bind,ro "$m$3"; }; } &&
      mkdir -p "$m/.host" && cd "$m" && pivot_root . .host && umount -l /.host && rmdir /.host || exit
    cd /root/checkout && exec sh -c "$2"' sh "$machine" "$command" "$python" || status=$?
echo "fresh-check: '$command' exited $status after $(($(date +%s) - start)) s" >&2
exit "$status"
