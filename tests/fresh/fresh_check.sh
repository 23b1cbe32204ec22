#!/usr/bin/env bash
# Fresh-machine check: the README's two commands on a machine where only the Debian base system is
# installed. Builds a minimal Debian 12 root with debootstrap, adds only the README's prerequisites
# (git, make), copies a clean clone of the committed HEAD and ../shared into it, and runs
# `make demo` then `make test` (CI=true, so a missing component fails instead of skipping) inside
# it with chroot. Nothing installed on this machine by hand reaches the check: the root has its own
# /usr, Python and venv. Only the host's network settings are copied in (resolver, hosts, the apt
# sources, the system pip config, the CA bundle and local CAs), so that the root reaches the same
# registries.
#
#   bash tests/fresh/fresh_check.sh            (as root; about 45-60 min on 2 cores)
#   FRESH_ROOT=/var/tmp/x KEEP=1 bash tests/fresh/fresh_check.sh
#
# Prints one summary line per step and a final `fresh-check:` line with the commit, the times and
# the pytest summary; record it in docs/benchmarks.md ("Fresh-machine check").
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="$REPO/../shared"
ROOT="${FRESH_ROOT:-/var/tmp/plasmatrack-fresh}"
LOG="${ROOT}.log"
SUITE=bookworm

[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
[ -d "$SHARED" ] || { echo "fresh-check: $SHARED is missing" >&2; exit 2; }

# The host's own Debian mirror (its apt sources), so that no address is written here.
mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "$uri"
}

# /sys is bound recursively: slurmd needs the machine's cgroup mounts under /sys/fs/cgroup.
MOUNTS=(proc sys dev dev/pts dev/shm)
cleanup() {
  # Processes still running inside the root (a test's daemons after a failure) keep mounts busy.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "$pid" 2>/dev/null || true
  done
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    mountpoint -q "$ROOT/${MOUNTS[$i]}" && umount -l "$ROOT/${MOUNTS[$i]}" || true
  done
  [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$ROOT"
}
trap cleanup EXIT

step() {  # step NAME COMMAND...: run, time, log; the exit code is kept in RC_<NAME>
  local name=$1 t0 rc; shift
  t0=$(date +%s)
  set +e; "$@" >>"$LOG" 2>&1; rc=$?; set -e
  printf -v "SEC_$name" %s $(( $(date +%s) - t0 ))
  printf -v "RC_$name" %s "$rc"
  echo "fresh-check: $name rc=$rc in $(( $(date +%s) - t0 )) s"
}

in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

rm -rf --one-file-system "$ROOT"; : >"$LOG"
COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
echo "fresh-check: commit $COMMIT, root $ROOT, log $LOG"
step bootstrap debootstrap --variant=minbase "$SUITE" "$ROOT" "$(mirror)"
[ "$RC_bootstrap" = 0 ] || exit 1
for f in /etc/resolv.conf /etc/hosts /etc/pip.conf /etc/ssl/certs/ca-certificates.crt \
         /etc/apt/sources.list /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && install -D -m 0644 "$f" "$ROOT$f"
done
# The host's local CAs too: a ca-certificates package installed later rebuilds the bundle from them.
for f in /usr/local/share/ca-certificates/*.crt; do
  [ -f "$f" ] && install -D -m 0644 "$f" "$ROOT$f"
done
mount -t proc proc "$ROOT/proc"; mount --rbind /sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"; mount -t devpts devpts "$ROOT/dev/pts"
mount -t tmpfs shm "$ROOT/dev/shm"
# The README's prerequisites: git to clone, make to run the two commands.
step prerequisites in_root sh -c 'apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make'
mkdir -p "$ROOT/work"
git clone -q --no-hardlinks "$REPO" "$ROOT/work/main"
cp -a "$SHARED" "$ROOT/work/shared"
step demo in_root sh -c 'cd /work/main && make demo'
step test in_root sh -c 'cd /work/main && CI=true make test'
SUMMARY=$(grep -E '^=+ .*(passed|failed|error).* =+$' "$LOG" | tail -1 | tr -d '=' | xargs || true)
echo "fresh-check: $(date -u +%F) commit $COMMIT: bootstrap ${SEC_bootstrap} s;" \
     "make demo rc=${RC_demo} ${SEC_demo} s; make test rc=${RC_test} ${SEC_test} s: ${SUMMARY}"
[ "$RC_demo" = 0 ] && [ "$RC_test" = 0 ]
