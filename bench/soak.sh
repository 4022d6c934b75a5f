#!/usr/bin/env bash
# `make soak`: fault and load tests of a whole stack, bounded in time, loopback only.
#
# Brings up a stack of its own (SOAK_STATE, a fresh cluster, OPS_WORKERS >= 2, the ticker and
# the monitor), runs the phases of bench/soak_run.py against it and always takes it down again,
# also on failure or Ctrl-C:
#   1. kill -9 one FastCGI worker under ingest load; nginx sends its requests to the other one;
#      the soak starts the killed worker again (stack.sh has no supervisor)
#   2. pg_ctl restart -m fast of the stack's cluster under ingest and read load
#   3. a full disk: a second, small stack whose Postgres directory is a tmpfs of SOAK_DISK_MB,
#      filled up, ingested into until it refuses, then freed
#   4. SOAK_MINUTES of mixed load (ingest, reads, beacons, log tails, WebSocket clients) with
#      the resident memory of every process sampled every SOAK_SAMPLE_S seconds
# and prints one table (done / sent / accepted / lost / 5xx / recovery / restarts) plus the
# memory table. The report is also written to SOAK_STATE/soak-report.json and soak-report.txt.
# Exit 1 when an acknowledged record is missing or a process restarted that the soak did not
# kill on purpose; other misses (unclean errors, memory) are printed, and are fatal only with
# SOAK_STRICT=1.
#
# Environment (defaults in brackets):
#   SOAK_MINUTES [30]          length of phase 4 (minutes, may be fractional)
#   SOAK_STATE [.opsplane-soak] / SOAK_PORT [a free port]   the stack; phase 3's stack lives
#                              in SOAK_STATE/disk on SOAK_PORT+1; Postgres and the ticker get
#                              SOAK_PORT+2..+5 when free
#   SOAK_PHASES [1234]         which phases to run
#   SOAK_DISK_MB [192]         size of phase 3's tmpfs (needs root for mount; else skipped)
#   rates of phase 4 and knobs of the fault phases: see bench/soak_run.py (SOAK_INGEST_RPS, ...)
# Stack variables (OPS_WORKERS [2], OPS_FCGI_THREADS, OPSPLANE_BIN, ...) reach the stacks as
# they reach `make run`'s.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
cd "$REPO"

export SOAK_STATE=${SOAK_STATE:-$REPO/.opsplane-soak}
mkdir -p "$SOAK_STATE"
SOAK_STATE=$(cd "$SOAK_STATE" && pwd)
export SOAK_PORT=${SOAK_PORT:-$(pick_free_port)}
export SOAK_DISK_PORT=$((SOAK_PORT + 1))
export SOAK_DISK_STATE=$SOAK_STATE/disk
export SOAK_DISK_MB=${SOAK_DISK_MB:-192}
export SOAK_PHASES=${SOAK_PHASES:-1234}
export OPS_WORKERS=${OPS_WORKERS:-2}
export DEMO=0 MONITOR=1
STACK=$REPO/deploy/stack.sh
DISK_MNT=$SOAK_DISK_STATE/pg

case "$OPS_WORKERS" in ''|*[!0-9]*|0|1) die "soak: OPS_WORKERS=$OPS_WORKERS: phase 1 needs at least 2 workers" ;; esac

# The tmpfs of phase 3 (root only); unmounted in the teardown, whatever happened.
disk_umount() {
  if mountpoint -q "$DISK_MNT" 2>/dev/null; then
    umount "$DISK_MNT" || umount -l "$DISK_MNT" || say "soak: warning: could not unmount $DISK_MNT"
  fi
}

stacks_down() {
  STATE=$SOAK_DISK_STATE "$STACK" down >/dev/null 2>&1 || true
  disk_umount
  STATE=$SOAK_STATE "$STACK" down || return 1
}

# Ports of our range for Postgres and the ticker: stack.sh keeps a remembered port while free.
seed_ports() { # state first_port
  mkdir -p "$1/pg" "$1/run"
  port_in_use "$2" || echo "$2" >"$1/pg/port"
  port_in_use "$(($2 + 1))" || echo "$(($2 + 1))" >"$1/run/ticker.port"
}

teardown() {
  local rc=$?
  trap '' INT TERM
  trap - EXIT
  stacks_down || rc=1
  [ "$rc" -eq 0 ] || say "soak: failed (exit $rc); logs in $SOAK_STATE/logs and $SOAK_DISK_STATE/logs"
  exit "$rc"
}

# Leftovers of an interrupted run first, then fresh clusters.
stacks_down
rm -rf "$SOAK_STATE/pg" "$SOAK_STATE/run" "$SOAK_STATE/logs" "$SOAK_STATE/nginx" "$SOAK_STATE/run.env" \
  "$SOAK_DISK_STATE"
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

seed_ports "$SOAK_STATE" $((SOAK_PORT + 2))
STATE=$SOAK_STATE PORT=$SOAK_PORT "$STACK" up

if [[ "$SOAK_PHASES" == *3* ]]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "soak: not root: phase 3 (full disk on a tmpfs) is skipped"
    export SOAK_DISK_SKIP="mount needs root"
  else
    mkdir -p "$DISK_MNT"
    if mount -t tmpfs -o "size=${SOAK_DISK_MB}m,mode=0755" soak-disk "$DISK_MNT"; then
      seed_ports "$SOAK_DISK_STATE" $((SOAK_PORT + 4))
    else
      say "soak: mount -t tmpfs failed (a container without CAP_SYS_ADMIN?): phase 3 is skipped"
      export SOAK_DISK_SKIP="mount -t tmpfs failed"
    fi
  fi
fi

python3 "$REPO/bench/soak_run.py"
