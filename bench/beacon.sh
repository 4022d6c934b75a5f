#!/usr/bin/env bash
# Browser error reports (issue 7, "Performance"): beacons/s fully processed through nginx —
# stored in the ring buffer and queryable, not merely answered — with p99, against the
# hello-world FastCGI ceiling (GET /api/ops/ping) of the same run, interleaved rounds,
# medians. Afterwards a count check: every 204 the clients saw is a report the per-route
# counters hold, and every route's ring holds min(written, 500) rows with the rest evicted.
#
# Its own stack (STATE=.opsplane-bench-beacon, DEMO=0, MONITOR=0) with the per-client nginx
# limit lifted (OPS_BEACON_RATE) and the per-fingerprint budget lifted, stopped on exit.
# Knobs: BENCH_BEACON_DURATION (s per run, 10), BENCH_BEACON_ROUNDS (3),
#   BENCH_BEACON_CONNECTIONS (wrk -c, 16), BENCH_BEACON_ROUTES (page routes, 50).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
say() { printf 'bench-beacon: %s\n' "$*" >&2; }
die() { printf 'bench-beacon: error: %s\n' "$*" >&2; exit 1; }

DURATION=${BENCH_BEACON_DURATION:-10}
ROUNDS=${BENCH_BEACON_ROUNDS:-3}
CONNECTIONS=${BENCH_BEACON_CONNECTIONS:-16}
export BEACON_ROUTES=${BENCH_BEACON_ROUTES:-50}
for v in DURATION ROUNDS CONNECTIONS; do
  case "${!v}" in ''|*[!0-9]*|0) die "BENCH_BEACON_$v=${!v}: expected a positive whole number" ;; esac
done
for tool in wrk psql curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh)"; done

export STATE=${BENCH_BEACON_STATE:-$REPO/.opsplane-bench-beacon}
export PORT=${BENCH_BEACON_PORT:-$(pick_free_port)}
export DEMO=0 MONITOR=0 OPS_BEACON_RATE=1000000r/s OPS_BEACON_FINGERPRINT_PER_MIN=1000000
trap 'say "stopping the bench stack"; "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM
say "starting a stack: STATE=$STATE PORT=$PORT"
mkdir -p "$STATE"
"$REPO/deploy/stack.sh" up 2>"$STATE/bench-up.log" || { cat "$STATE/bench-up.log" >&2; die "deploy/stack.sh up failed"; }
url=$(env_file_get "$STATE/run.env" OPS_URL)
db=$(env_file_get "$STATE/run.env" OPS_DATABASE_URL)
sql() { psql "$db" -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
sql "TRUNCATE ops.frontend_logs, ops.frontend_log_routes, ops.frontend_log_drops, ops.frontend_fingerprint_rate"

jsonl=$STATE/bench-beacon.jsonl
: >"$jsonl"
run() { # name seconds
  local line
  if [ "$1" = hello ]; then
    line=$(wrk -t2 -c"$CONNECTIONS" -d"${2}s" --latency -s "$REPO/bench/report.lua" "$url/api/ops/ping" 2>&1 | sed -n 's/^BENCH_JSON //p')
  else
    line=$(wrk -t2 -c"$CONNECTIONS" -d"${2}s" --latency -s "$REPO/bench/beacon.lua" "$url/api/ops/frontend-log" 2>&1 | sed -n 's/^BENCH_JSON //p')
  fi
  [ -n "$line" ] || die "wrk produced no result for $1"
  echo "$line"
}
say "warming up"
run hello 2 >/dev/null
printf '{"name":"warmup","result":%s}\n' "$(run beacon 2)" >>"$jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for name in hello beacon; do
    line=$(run "$name" "$DURATION")
    printf '{"name":"%s","round":%d,"result":%s}\n' "$name" "$round" "$line" >>"$jsonl"
    say "round $round $name: $(sed 's/.*"rps":\([0-9.]*\).*/\1/' <<<"$line") req/s"
  done
done

# What the database holds against what the clients were told.
written=$(sql "SELECT coalesce(sum(written), 0) FROM ops.frontend_log_routes")
evicted=$(sql "SELECT coalesce(sum(evicted), 0) FROM ops.frontend_log_routes")
rows=$(sql "SELECT count(*) FROM ops.frontend_logs")
ring_ok=$(sql "SELECT count(*) FROM ops.frontend_log_routes r WHERE (SELECT count(*) FROM ops.frontend_logs l WHERE l.route = r.route) <> least(r.written, 500) OR r.evicted <> greatest(r.written - 500, 0)")
t0=$(date +%s%N)
curl -sf -o /dev/null -H "Authorization: Bearer $(env_file_get "$STATE/run.env" OPS_ADMIN_TOKEN)" "$url/api/ops/frontend-logs?since=1h&group=1&limit=50" || die "GET /api/ops/frontend-logs failed"
group_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

python3 - "$jsonl" "$written" "$evicted" "$rows" "$ring_ok" "$group_ms" "$CONNECTIONS" <<'PY'
import json, statistics, sys
jsonl, written, evicted, rows, ring_bad, group_ms, conns = sys.argv[1:8]
runs = [json.loads(l) for l in open(jsonl)]
def med(name, key):
    return statistics.median(r["result"][key] for r in runs if r["name"] == name)
in_flight = int(conns) * sum(1 for r in runs if r["name"] in ("beacon", "warmup"))
ok = sum(r["result"]["ok"] for r in runs if r["name"] in ("beacon", "warmup"))
other = sum(r["result"]["other"] + r["result"]["timeouts"] for r in runs if r["name"] in ("beacon", "warmup"))
hello, beacon = med("hello", "rps"), med("beacon", "rps")
print(f"Opsplane beacon bench: wrk -t2 -c{conns}, medians of interleaved rounds")
print(f"{'row':8} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
print(f"{'hello':8} {hello:9,.0f} {med('hello','p50_us')/1000:7.2f} {med('hello','p99_us')/1000:7.2f} {1:6.2f}")
print(f"{'beacon':8} {beacon:9,.0f} {med('beacon','p50_us')/1000:7.2f} {med('beacon','p99_us')/1000:7.2f} {beacon/hello:6.2f}   (target >= 0.50)")
print(f"count check: 204 answers {ok:,} (+ at most {in_flight} in flight when wrk stopped), other answers {other:,}; reports counted {int(written):,} "
      f"= ring rows {int(rows):,} + evicted {int(evicted):,}; routes whose ring disagrees: {ring_bad}")
print(f"GET /api/ops/frontend-logs?group=1 over {int(rows):,} stored reports: {group_ms} ms (one request)")
bad = not (ok <= int(written) <= ok + in_flight) or int(rows) + int(evicted) != int(written) or ring_bad != "0" or other
if bad:
    print("COUNT CHECK FAILED: a report was lost, double-counted or refused"); sys.exit(1)
PY
