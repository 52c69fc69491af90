#!/bin/sh
# How fast Nix substitutes many small paths from a file:// binary cache into an
# empty store, against the two bulk ways (issue 13's warm-run goal; BENCHMARKS.md). A
# measurement, not a test: it prints one line per way and never fails on a slow number.
#
#   sh bench/substitute.sh                        this machine's Nix, a store of its own
#   SUBSTITUTE_ROOT=sid sh bench/substitute.sh    Nix of a Debian root (scripts/nix-roots.sh)
#
# Root only: the store is a scratch directory mounted at /nix. SUBSTITUTE_PATHS (1500)
# paths of one small file each are added, copied to a zstd file:// cache, exported,
# and archived with tar | zstd; then, each time from an empty store of them:
#   nix-store -r of all of them, with max-jobs 1, 8 and 32 (before Nix 2.16 the build
#     slots bound substitutions too), and, on Nix 2.16 and later, with
#     max-substitution-jobs at its default (16) and 1;
#   nix-store --import of the one export (SwornSystems' way; root or a trusted user);
#   unpacking the tar.zst into a directory: the physical limit.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "substitute: run as root (the store is a scratch directory mounted at /nix)" >&2; exit 2; }
  scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/substitute-store.XXXXXX")
  chmod 755 "$scratch"
  trap 'rm -rf "$scratch"' EXIT
  status=0
  if [ -n "${SUBSTITUTE_ROOT:-}" ]; then
    copy=$(mktemp /tmp/substitute.XXXXXX)
    cp "$0" "$copy"
    sh "$here/../scripts/nix-roots.sh" --run "$SUBSTITUTE_ROOT" --bind "$scratch" /nix -- /bin/sh "$copy" --inside || status=$?
    rm -f "$copy"
  else
    # shellcheck disable=SC2016 # the inner shell expands them
    unshare --mount --propagation private sh -c 'mount --rbind "$1" /nix && exec sh "$2" --inside' sh "$scratch" "$0" || status=$?
  fi
  exit "$status"
fi

grep -q ' /nix ' /proc/self/mountinfo || { echo "substitute: /nix is not a mount of its own here; refusing" >&2; exit 2; }
n=${SUBSTITUTE_PATHS:-1500}
NIX_CONFIG="build-users-group =
experimental-features = nix-command
require-sigs = false"
export NIX_CONFIG
w=$(mktemp -d /tmp/substitute.XXXXXX)
trap 'rm -rf "$w"' EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }
mkdir "$w/files"
i=0
while [ "$i" -lt "$n" ]; do
  mkdir "$w/files/small-$i"
  echo "$i" >"$w/files/small-$i/file"
  i=$((i + 1))
done
(cd "$w/files" && find . ! -name . -prune -exec nix-store --add {} + >"$w/paths")
xargs nix copy --to "file://$w/cache?compression=zstd" <"$w/paths" 2>/dev/null
xargs nix-store --export <"$w/paths" >"$w/export"
xargs tar -cf - <"$w/paths" 2>/dev/null | zstd -q -T0 >"$w/paths.tar.zst"
empty() { xargs nix-store --delete <"$w/paths" >/dev/null 2>&1; }
version=$(nix-store --version)
minor=${version##* 2.}
minor=${minor%%.*}
ways="max-jobs=1 max-jobs=8 max-jobs=32"
[ "$minor" -lt 16 ] || ways="$ways max-substitution-jobs=16 max-substitution-jobs=1"
echo "$version, $n paths"
for way in $ways; do
  empty
  a=$(ms)
  xargs nix-store -r --option substituters "file://$w/cache" --option "${way%=*}" "${way#*=}" <"$w/paths" >/dev/null 2>&1
  echo "substitute, $way: $(($(ms) - a)) ms"
done
empty
a=$(ms)
nix-store --import <"$w/export" >/dev/null
echo "nix-store --import of one export: $(($(ms) - a)) ms"
mkdir "$w/unpack"
a=$(ms)
zstd -q -dc "$w/paths.tar.zst" | tar -C "$w/unpack" -xf -
echo "unpack of tar.zst: $(($(ms) - a)) ms"
