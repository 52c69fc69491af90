#!/bin/sh
# Builds, once, cached Debian roots carrying a newer Nix than the machine's, so
# the tests can run the generated scripts against Nix 2.26 (trixie) and 2.34
# (sid) as well as the host's Debian Nix 2.8.0 (bookworm).
#
#   sh scripts/nix-roots.sh SUITE...             build missing roots, print
#                                                "SUITE ROOT VERSION" per suite
#   sh scripts/nix-roots.sh --path SUITE         print the root of a built suite
#   sh scripts/nix-roots.sh --run SUITE [BWRAP-OPTION...] -- CMD [ARG...]
#                                                run CMD inside a built root
#
# A root is `debootstrap --variant=minbase
# --include=nix-bin,busybox-static,zstd,ca-certificates,libdbi-perl SUITE DIR
# MIRROR` kept in
# ${NIX_CI_CACHE_ROOTS:-/var/cache/nix-ci-cache/roots}/SUITE. It is built in a
# temporary directory next to it and renamed when complete, so an interrupted run
# never leaves a half root that looks done; the stamp file .nix-roots-stamp in the
# root (first line: `nix --version` run inside) marks it complete. Building needs
# root (debootstrap); a built root can be entered by anyone allowed to use bwrap.
# Nix is configured as Debian's nix-bin leaves it: no nix.conf, so no nixbld group
# for the default build-users-group, and the sandbox on. That is what a fresh
# machine with nix-bin gives the generated scripts.
#
# Roots are entered with bubblewrap, not chroot: a chrooted process may not create
# user namespaces (CLONE_NEWUSER fails with EPERM once the root is not the
# namespace's root), and Nix's sandbox needs one when it runs without build users.
#
# Environment: NIX_CI_CACHE_ROOTS (where roots live), NIX_ROOTS_MIRROR (Debian
# mirror; default: the deb.debian.org/debian entry of /etc/apt/sources.list.d/),
# NIX_ROOTS_PROC (host: the default, chroot stores work; new: bwrap's own /proc,
# where they do not; see in_root).
set -eu

roots=${NIX_CI_CACHE_ROOTS:-/var/cache/nix-ci-cache/roots}
stamp_name=.nix-roots-stamp

die() { echo "nix-roots: $*" >&2; exit 1; }
say() { echo "nix-roots: $*" >&2; }

usage() {
  sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# in_root DIR [BWRAP-OPTION...] -- CMD [ARG...]: run CMD with DIR as /, the host's
# /tmp bound in (tests share files through it), /dev fresh, /sys read-only.
# Extra bwrap options come before `--`, e.g. --unshare-user --uid 0.
#
# /proc is the host's (--bind /proc /proc), not bwrap's own `--proc /proc`: bwrap
# covers /proc/irq and /proc/bus (and /proc/sys, /proc/sysrq-trigger when
# writable) with read-only bind mounts, and the kernel refuses a fresh proc mount
# inside a new user namespace while the existing /proc is not fully visible
# (EPERM). Nix's sandbox needs exactly that mount, and chroot stores
# (`store = /dir`) always use the sandbox: with bwrap's /proc, Nix 2.8 fails with
# "mounting /proc: Operation not permitted" and Nix 2.26/2.34 silently build
# unsandboxed and fail with "executing '/nix/store/...': No such file or
# directory" (NixOS/nix#16291). NIX_ROOTS_PROC=new selects bwrap's own /proc, to
# reproduce such a restricted environment (see /tmp/research/roots-and-chroot.md).
in_root() {
  _dir=$1
  shift
  case ${NIX_ROOTS_PROC:-host} in
    host) _proc="--bind /proc /proc" ;;
    new) _proc="--proc /proc" ;;
    *) die "NIX_ROOTS_PROC must be host or new" ;;
  esac
  # shellcheck disable=SC2086 # _proc is two words on purpose
  bwrap --bind "$_dir" / $_proc --dev /dev --ro-bind /sys /sys \
    --bind /tmp /tmp --die-with-parent "$@"
}

is_complete() { [ -s "$roots/$1/$stamp_name" ]; }

# mirror: the Debian archive in the apt sources (deb822 .sources or one-line .list).
mirror() {
  if [ -n "${NIX_ROOTS_MIRROR:-}" ]; then echo "$NIX_ROOTS_MIRROR"; return; fi
  _m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list 2>/dev/null |
    grep -Eo 'https?://[^ ]*/debian/?( |$)' | grep -v -- '-security' |
    sed 's/ *$//; s:/$::' | head -n 1 || true)
  echo "${_m:-http://deb.debian.org/debian}"
}

need_tools() {
  _missing=""
  command -v debootstrap >/dev/null 2>&1 || _missing="$_missing debootstrap"
  command -v bwrap >/dev/null 2>&1 || _missing="$_missing bubblewrap"
  [ -z "$_missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "missing$_missing; run as root or apt-get install$_missing"
  say "installing$_missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $_missing >/dev/null
}

# unmount_under DIR: undo mounts debootstrap left in DIR (proc, sys) if killed.
unmount_under() {
  # Deepest first; /proc/mounts escapes spaces as \040, our paths have none.
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts |
    sort -r | while read -r _mp; do umount -l "$_mp" 2>/dev/null || true; done
}

remove_tree() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

nix_version_in() { # nix_version_in DIR: `nix --version` inside DIR, or fail
  in_root "$1" -- /usr/bin/nix --version 2>/dev/null | head -n 1
}

build_root() { # build_root SUITE
  _suite=$1
  _target=$roots/$_suite
  mkdir -p "$roots"
  # One builder per suite: a concurrent run waits here, then sees the root done.
  _lock=$roots/.$_suite.lock
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$_lock"
    flock 9
  fi
  # Only "exec 9>&-": any other redirection on an exec without a command would stay
  # on the shell (a 2>/dev/null here once hid every later message).
  if is_complete "$_suite"; then exec 9>&-; return 0; fi
  # Left by an interrupted run (we hold the lock, so nobody is using them).
  for _old in "$roots/.$_suite.tmp."* "$roots/.$_suite.old."*; do
    [ -e "$_old" ] || continue
    say "removing leftover $_old"
    remove_tree "$_old"
  done
  _mirror=$(mirror)
  _tmp=$(mktemp -d "$roots/.$_suite.tmp.XXXXXX")
  chmod 755 "$_tmp"
  # shellcheck disable=SC2064 # expand now: the trap must know this directory
  trap "remove_tree '$_tmp'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  _log=$roots/$_suite.log
  say "building $_suite from $_mirror in $_tmp (log: $_log)"
  _t0=$(date +%s)
  _status=ok
  # libdbi-perl: nix-bin depends on libdbd-sqlite3-perl, which depends on the
  # virtual perl-dbdabi-94 that only libdbi-perl provides; debootstrap's resolver
  # ignores virtual packages, so without it dpkg leaves libdbd-sqlite3-perl and
  # nix-bin unconfigured (seen on trixie and sid).
  if ! debootstrap --variant=minbase \
      --include=nix-bin,busybox-static,zstd,ca-certificates,libdbi-perl \
      "$_suite" "$_tmp" "$_mirror" >"$_log" 2>&1; then
    unmount_under "$_tmp"
    # Sid may be mid-transition: a package left unconfigured while Nix works.
    if _v=$(nix_version_in "$_tmp") && [ -n "$_v" ]; then
      _status="failed (tolerated: nix works): $(grep -E '^[EW]:' "$_log" | grep -v '^W: See ' | tail -n 1); see $_target/debootstrap/debootstrap.log"
      say "WARNING: debootstrap of $_suite failed but nix works inside; keeping it"
      grep -E '^[EW]:' "$_log" | tail -n 3 >&2 || true
    else
      tail -n 20 "$_log" >&2
      die "debootstrap of $_suite failed and nix does not run inside (log: $_log)"
    fi
  fi
  # The .debs are not needed (about a third of the size).
  rm -f "$_tmp"/var/cache/apt/archives/*.deb
  _v=$(nix_version_in "$_tmp") || true
  [ -n "$_v" ] || die "nix --version fails inside the new $_suite root"
  _t1=$(date +%s)
  _kb=$(du -sxk "$_tmp" | cut -f1)
  {
    echo "$_v"
    echo "suite=$_suite"
    echo "mirror=$_mirror"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds=$((_t1 - _t0))"
    echo "size_kb=$_kb"
    echo "debootstrap=$_status"
  } >"$_tmp/$stamp_name"
  # A directory without a stamp (interrupted elsewhere, or foreign) is replaced.
  if [ -e "$_target" ]; then
    mv "$_target" "$roots/.$_suite.old.$$"
    remove_tree "$roots/.$_suite.old.$$"
  fi
  mv "$_tmp" "$_target"
  trap - EXIT INT TERM HUP
  say "built $_suite in $((_t1 - _t0)) s, $((_kb / 1024)) MiB: $_v"
  exec 9>&-
}

[ $# -gt 0 ] || usage
case $1 in
  -h | --help) usage ;;
  --path)
    [ $# = 2 ] || usage
    is_complete "$2" || die "no complete root for $2 in $roots; run: sh $0 $2"
    echo "$roots/$2"
    ;;
  --run)
    [ $# -ge 4 ] || usage
    _suite=$2
    shift 2
    is_complete "$_suite" || die "no complete root for $_suite in $roots; run: sh $0 $_suite"
    command -v bwrap >/dev/null 2>&1 || die "bwrap missing (apt-get install bubblewrap)"
    # Everything up to `--` goes to bwrap, the rest is the command.
    case " $* " in *" -- "*) ;; *) usage ;; esac
    in_root "$roots/$_suite" "$@"
    ;;
  -*) usage ;;
  *)
    for s; do
      case $s in */* | .* | -*) die "bad suite name: $s" ;; esac
      is_complete "$s" && continue # done before: return at once
      [ "$(id -u)" = 0 ] || die "building the $s root needs root (debootstrap)"
      need_tools
      build_root "$s"
    done
    for s; do
      printf '%s %s %s\n' "$s" "$roots/$s" "$(head -n 1 "$roots/$s/$stamp_name")"
    done
    ;;
esac
