#!/bin/sh
# What appeared in the Nix store during a job, found five ways, timed at several store
# sizes (issue 13, docs/plans/speed-at-scale.md). A measurement, not a test: it prints
# a tab-separated table and never fails on a slow number.
#
#   sh bench/new-paths.sh                      this machine's Nix, a store of its own
#   NEW_PATHS_ROOT=sid sh bench/new-paths.sh   Nix of a Debian root (scripts/nix-roots.sh)
#
# Root only: the store is a scratch directory mounted at /nix (a mount namespace of its
# own, or a bind mount inside the Debian root), so no other store is read or changed.
#
# Environment (defaults in brackets):
#   NEW_PATHS_SIZES  valid paths in the store before the job ["1000 10000 50000"]
#   NEW_PATHS_NEW    paths the job adds ["10 1500"]
#   NEW_PATHS_RUNS   jobs per size, new count and mode; the table gives the median [3]
#   NEW_PATHS_MODES  "local" (root opens the store itself) and/or "daemon" (through a
#                    nix-daemon, as on multi-user installs) ["local daemon"]
#   NEW_PATHS_RAW    file for one line per measurement [a temporary file]
#
# Each job: at its start every method records what it needs, then the job adds its
# paths (text files with references, like a build's outputs), one of them over an
# invalid leftover directory of the same name (a killed build's), and an invalid
# leftover of another name stays in the store throughout; at the save each method
# names what appeared, checks validity where it must, and its answer is compared with
# what the job added. The job's paths are deleted afterwards, so every job finds the
# store at the size of its row.
#
# The methods (start / save):
#   today     ls | sort, nix path-info --all | sort / nix path-info --all | sort, and
#             drop_in of save.sh (three sort -u, sort, uniq -u)
#   names     ls (C locale: sorted already) / ls, sort -m of the two listings, uniq -u,
#             then nix-store --check-validity --print-invalid on the new names only
#   ctime     the job's mark (nix-store --add, as env.sh does already) / ls -ct down to
#             the mark, then the same validity check
#   cnewer    touch a marker file / GNU find -maxdepth 1 -cnewer marker, then the
#             validity check (not in busybox, not POSIX)
#   sqlite    sqlite3: select max(id) from ValidPaths / select path ... where id > N
#             (no sqlite3 in the nixos/nix image; skipped where it is missing)
#   mtime     find -newer marker (POSIX, busybox): shown to find nothing, since Nix
#             sets every store path's mtime to 1
# Also, at the save: "allvalid" (ls, then --check-validity of every name) and the mark
# itself ("mark"), which every method but cnewer/sqlite needs and env.sh pays today.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "new-paths: run as root (the store is a scratch directory mounted at /nix)" >&2; exit 2; }
  scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/new-paths-store.XXXXXX")
  chmod 755 "$scratch"
  trap 'rm -rf "$scratch"' EXIT
  status=0
  if [ -n "${NEW_PATHS_ROOT:-}" ]; then
    # The root sees the host's /tmp only: the script goes there.
    copy=$(mktemp /tmp/new-paths.XXXXXX)
    cp "$0" "$copy"
    sh "$here/../scripts/nix-roots.sh" --run "$NEW_PATHS_ROOT" --bind "$scratch" /nix -- \
      /bin/sh "$copy" --inside || status=$?
    rm -f "$copy"
  else
    command -v unshare >/dev/null || { echo "new-paths: needs unshare" >&2; exit 2; }
    # shellcheck disable=SC2016 # the inner shell expands them
    unshare --mount --propagation private sh -c 'mount --rbind "$1" /nix && exec sh "$2" --inside' \
      sh "$scratch" "$0" || status=$?
  fi
  exit "$status"
fi

# --- inside: /nix is ours ---
grep -q ' /nix ' /proc/self/mountinfo || { echo "new-paths: /nix is not a mount of its own here; refusing to fill this store" >&2; exit 2; }
SIZES=${NEW_PATHS_SIZES:-1000 10000 50000}
NEWS=${NEW_PATHS_NEW:-10 1500}
RUNS=${NEW_PATHS_RUNS:-3}
MODES=${NEW_PATHS_MODES:-local daemon}
export LC_ALL=C
# Nothing here builds: no build users needed (the Debian roots have no nixbld group,
# and Nix would warn about it on every call).
NIX_CONFIG="build-users-group =
${NIX_CONFIG:-}"
export NIX_CONFIG
store=/nix/store
db=/nix/var/nix/db/db.sqlite
w=$(mktemp -d /tmp/new-paths-work.XXXXXX)
raw=${NEW_PATHS_RAW:-$w/raw.tsv}
daemon_pid=
trap 'rm -rf "$w"; [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null || :' EXIT
: >"$raw"
nixc() { nix --extra-experimental-features nix-command "$@"; }
version=$(nix --version | head -n 1)
have_sqlite=
command -v sqlite3 >/dev/null 2>&1 && have_sqlite=1
have_gnufind=
find "$w" -maxdepth 0 -cnewer "$w" >/dev/null 2>&1 && have_gnufind=1

now() { date +%s%N; }
# ms T0: milliseconds since T0
ms() { echo $((($(now) - $1) / 1000000)); }
drop_in() { { sort -u; sort -u "$1"; sort -u "$1"; } | sort | uniq -u; }
# Store paths of the names on stdin that are valid (one nix-store call).
valid_of() {
  grep '^[0-9a-z]\{32\}-' | grep -v -e '\.drv$' -e '\.lock$' -e '\.chroot$' -e '\.check$' |
    while IFS= read -r n; do printf '%s/%s\n' "$store" "$n"; done >"$w/cand"
  if [ -s "$w/cand" ]; then
    xargs nix-store --check-validity --print-invalid <"$w/cand" >"$w/invalid"
    drop_in "$w/invalid" <"$w/cand"
  fi
}
# The job's own paths, as save.sh would keep them: no marks, no derivations.
own() { grep -v -e '\.drv$' -e '-nix-ci-cache-job-' | sort -u; }

# Fills the store up to $1 valid paths: text files, each referring to two of 100 base
# files, written by one evaluation.
fill() {
  have=$(($(nixc path-info --all | wc -l)))
  [ "$have" -lt "$1" ] || return 0
  n=$(($1 - have))
  t0=$(now)
  # shellcheck disable=SC2016 # Nix expressions, not shell
  nix-instantiate --read-write-mode --eval --arg n "$n" --arg off "$have" --expr '{ n, off }:
    let base = builtins.genList (i: builtins.toFile "base-${toString i}" "${toString i}") 100;
        b = i: builtins.elemAt base (i - (i / 100) * 100);
    in builtins.deepSeq (builtins.genList (j: let i = j + off; in
      builtins.toFile "filler-${toString i}" "${b i} ${b (i * 7)} ${toString i}") n) n' >/dev/null
  echo "# filled to $1 valid paths in $(ms "$t0") ms" >&2
}

# job TAG N: adds N text paths (referring to base files) and writes their store paths
# to $w/job.paths.
job() {
  # shellcheck disable=SC2016 # Nix expressions, not shell
  nix-instantiate --read-write-mode --eval --strict --json --arg n "$2" --argstr tag "$1" --expr '{ n, tag }:
    let base = builtins.genList (i: builtins.toFile "base-${toString i}" "${toString i}") 100;
    in builtins.genList (i: builtins.toFile "job-${tag}-${toString i}" "${builtins.elemAt base (i - (i / 100) * 100)} ${toString i}") n' |
    tr ',' '\n' | tr -d '[]"' | grep . >"$w/job.paths"
}

# sq SQL: asks Nix's database read-only; when it is busy ("database is locked", seen
# under a running daemon), once more with a busy timeout of 2 s, and says so in
# $w/sq.note.
sq() {
  : >"$w/sq.note"
  if ! sqlite3 -readonly "$db" "$1" 2>"$w/sq.err"; then
    printf 'first try: %s; ' "$(head -n 1 "$w/sq.err")" >"$w/sq.note"
    sqlite3 -readonly -cmd '.timeout 2000' "$db" "$1"
  fi
}

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$size" "$new" "$1" "$2" "$3" "${4:--}" >>"$raw"; }

# check METHOD FILE: compares what METHOD found with the job's paths; prints "ok" or
# what it missed and what it added.
check() {
  own <"$2" >"$2.own"
  missed=$(($(drop_in "$2.own" <"$w/expected" | wc -l)))
  extra=$(($(drop_in "$w/expected" <"$2.own" | wc -l)))
  if [ "$missed" -eq 0 ] && [ "$extra" -eq 0 ]; then echo ok; else echo "missed=$missed,extra=$extra"; fi
}

round() {
  tag=$1
  d=$w/r
  rm -rf "$d"
  mkdir -p "$d"
  # The path one of the job's paths will have, made now as an invalid directory: what a
  # build killed before this job leaves. And a leftover of another name.
  reborn=$(nix-instantiate --eval --expr "builtins.toFile \"reborn-$tag\" \"again\"" | tr -d '"')
  mkdir -p "$reborn" "$store/00000000000000000000000000000000-leftover-$tag"
  size_now=$(($(nixc path-info --all | wc -l)))

  # --- job start ---
  t0=$(now)
  ls "$store" >"$d/names-at-start.unsorted"
  sort -o "$d/names-at-start" "$d/names-at-start.unsorted"
  t_ls=$(ms "$t0")
  t0=$(now)
  nixc path-info --all >"$d/valid-at-start.u"
  sort -o "$d/valid-at-start" "$d/valid-at-start.u"
  t_pi=$(ms "$t0")
  record today start $((t_ls + t_pi)) "ls+sort ${t_ls}, path-info+sort ${t_pi}"

  t0=$(now)
  ls "$store" >"$d/names-start"
  record names start "$(ms "$t0")"

  t0=$(now)
  printf 'nix-ci-cache job %s\n' "$tag" >"$d/nix-ci-cache-job-$tag"
  markpath=$(nix-store --add "$d/nix-ci-cache-job-$tag")
  record mark start "$(ms "$t0")"
  markname=${markpath##*/}
  record ctime start 0 "the mark"

  t0=$(now)
  : >"$d/marker"
  record cnewer start "$(ms "$t0")"
  record mtime start 0 "the marker"

  if [ -n "$have_sqlite" ]; then
    t0=$(now)
    maxid=$(sq 'select max(id) from ValidPaths')
    record sqlite start "$(ms "$t0")" "$(cat "$w/sq.note")"
  fi

  # --- the job ---
  t0=$(now)
  job "$tag" "$new"
  nix-instantiate --read-write-mode --eval --expr "builtins.toFile \"reborn-$tag\" \"again\"" >/dev/null
  echo "$reborn" >>"$w/job.paths"
  sort -u "$w/job.paths" >"$w/expected"
  echo "# job $tag: $(wc -l <"$w/expected") paths in $(ms "$t0") ms (store had $size_now)" >&2

  # --- save ---
  t0=$(now)
  nixc path-info --all >"$d/valid-now.u"
  sort -o "$d/valid-now" "$d/valid-now.u"
  t_pi=$(ms "$t0")
  t0=$(now)
  drop_in "$d/valid-at-start" <"$d/valid-now" >"$d/today"
  t_diff=$(ms "$t0")
  record today save $((t_pi + t_diff)) "path-info+sort ${t_pi}, drop_in ${t_diff}; $(check today "$d/today")"

  t0=$(now)
  ls "$store" >"$d/names-now"
  sort -m "$d/names-start" "$d/names-start" "$d/names-now" | uniq -u >"$d/names-new"
  t_diff=$(ms "$t0")
  t0=$(now)
  valid_of <"$d/names-new" >"$d/names"
  t_val=$(ms "$t0")
  record names save $((t_diff + t_val)) "ls+merge ${t_diff}, validity ${t_val}; $(check names "$d/names")"

  t0=$(now)
  # ls -ct: newest status change first; what lies above the job's mark is newer.
  # shellcheck disable=SC2012 # store path names are plain
  ls -ct "$store" | while IFS= read -r n; do
    [ "$n" != "$markname" ] || break
    printf '%s\n' "$n"
  done >"$d/ctime-new"
  t_ls=$(ms "$t0")
  t0=$(now)
  valid_of <"$d/ctime-new" >"$d/ctime"
  t_val=$(ms "$t0")
  record ctime save $((t_ls + t_val)) "ls -ct ${t_ls}, validity ${t_val}; $(check ctime "$d/ctime")"

  if [ -n "$have_gnufind" ]; then
    t0=$(now)
    find "$store" -mindepth 1 -maxdepth 1 -cnewer "$d/marker" | while IFS= read -r p; do printf '%s\n' "${p##*/}"; done >"$d/cnewer-new"
    t_find=$(ms "$t0")
    t0=$(now)
    valid_of <"$d/cnewer-new" >"$d/cnewer"
    t_val=$(ms "$t0")
    record cnewer save $((t_find + t_val)) "find ${t_find}, validity ${t_val}; $(check cnewer "$d/cnewer")"
  fi

  t0=$(now)
  find "$store" -mindepth 1 -maxdepth 1 -newer "$d/marker" | while IFS= read -r p; do printf '%s\n' "${p##*/}"; done >"$d/mtime-new"
  t_find=$(ms "$t0")
  valid_of <"$d/mtime-new" >"$d/mtime"
  record mtime save "$t_find" "find ${t_find} (found $(wc -l <"$d/mtime-new") entries); $(check mtime "$d/mtime")"

  if [ -n "$have_sqlite" ]; then
    t0=$(now)
    sq "select path from ValidPaths where id > $maxid" >"$d/sqlite"
    record sqlite save "$(ms "$t0")" "$(cat "$w/sq.note")$(check sqlite "$d/sqlite")"
  fi

  t0=$(now)
  # shellcheck disable=SC2012 # store path names are plain
  ls "$store" | valid_of >"$d/allvalid"
  record allvalid save "$(ms "$t0")" "validity of every name ($(wc -l <"$d/allvalid") valid)"

  # The job's paths go, so the next job finds the store as this one did.
  { cat "$w/expected"; echo "$markpath"; } | xargs nix-store --delete >/dev/null 2>&1 ||
    echo "# warning: could not delete the job's paths" >&2
  rm -rf "$store/00000000000000000000000000000000-leftover-$tag"
}

echo "# $version, $(uname -sr), $(nproc) cores; raw: $raw" >&2
for size in $SIZES; do
  for mode in $MODES; do
    unset NIX_REMOTE
    if [ "$mode" = daemon ]; then
      nix-daemon >/dev/null 2>&1 &
      daemon_pid=$!
      i=0
      until [ -S /nix/var/nix/daemon-socket/socket ] || [ "$i" -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
      export NIX_REMOTE=daemon
    fi
    fill "$size"
    for new in $NEWS; do
      r=1
      while [ "$r" -le "$RUNS" ]; do
        round "$mode-$size-$new-$r"
        r=$((r + 1))
      done
    done
    if [ -n "$daemon_pid" ]; then
      kill "$daemon_pid" 2>/dev/null || :
      wait "$daemon_pid" 2>/dev/null || :
      daemon_pid=
      rm -f /nix/var/nix/daemon-socket/socket
    fi
  done
done

# The table: median of the runs per mode, size, new paths, method and phase (the note
# of the median run).
printf 'nix\tmode\tvalid paths\tnew\tmethod\tphase\tms (median of %s)\tdetail of that run\n' "$RUNS"
sort -t "$(printf '\t')" -k1,1 -k2,2n -k3,3n -k4,4 -k5,5 -k6,6n "$raw" |
  awk -F '\t' -v OFS='\t' -v v="$version" '
    function flush() { if (n) { m = int((n + 1) / 2); print v, k1, k2, k3, k4, k5, t[m], d[m] } n = 0 }
    { key = $1 FS $2 FS $3 FS $4 FS $5
      if (key != prev) { flush(); prev = key; k1 = $1; k2 = $2; k3 = $3; k4 = $4; k5 = $5 }
      n++; t[n] = $6; d[n] = $7 }
    END { flush() }'
