#!/usr/bin/env bash
# Browser error reports (issue 7, "Performance"): beacons/s fully processed through nginx —
# stored in the ring buffer and queryable, not merely answered — with p99, against the
# hello-world FastCGI ceiling (GET /api/ops/ping) of the same run, interleaved rounds,
# medians. The workers answer 204 when a report is queued and write it within
# OPS_BEACON_FLUSH_MS, so a run's figure is the reports the per-route counters gained from
# wrk's start until every 204 wrk saw is written, divided by that time (not the 204s/s).
# Afterwards a count check: every 204 the clients saw is a report the per-route counters
# hold, and every route's ring holds min(written, 500) rows with the rest evicted.
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
now_ns() { date +%s%N; }
written_now() { sql "SELECT coalesce(sum(written), 0) FROM ops.frontend_log_routes"; }
cpu_now() { python3 "$REPO/bench/stack_cpu.py" "$STATE"; }
# wrk's JSON line plus what the stack's parts spent in CPU seconds meanwhile ("cpu").
run() { # name seconds
  local line c0 c1
  c0=$(cpu_now)
  if [ "$1" = hello ]; then
    line=$(wrk -t2 -c"$CONNECTIONS" -d"${2}s" --latency -s "$REPO/bench/report.lua" "$url/api/ops/ping" 2>&1 | sed -n 's/^BENCH_JSON //p')
  else
    line=$(wrk -t2 -c"$CONNECTIONS" -d"${2}s" --latency -s "$REPO/bench/beacon.lua" "$url/api/ops/frontend-log" 2>&1 | sed -n 's/^BENCH_JSON //p')
  fi
  [ -n "$line" ] || die "wrk produced no result for $1"
  c1=$(cpu_now)
  add_json "$line" "$c0" "$c1"
}
add_json() { # wrk-line cpu-before cpu-after [stored nanoseconds]
  python3 -c 'import json,sys
r, c0, c1 = (json.loads(a) for a in sys.argv[1:4])
r["cpu"] = {k: round(c1[k] - c0[k], 2) for k in c1}
if len(sys.argv) > 5:
    n, s = int(sys.argv[4]), int(sys.argv[5]) / 1e9
    r.update(stored=n, stored_s=round(s, 3), stored_rps=round(n / s, 2))
print(json.dumps(r, separators=(",", ":")))' "$@"
}
# A beacon run counts what was *stored*: the reports the route counters gained from the start
# of wrk until the workers' queues have written every report wrk saw answered 204 (they
# answer before writing, batches follow within OPS_BEACON_FLUSH_MS), divided by that time.
# Adds "stored", "stored_s" (wrk's start to the last write) and "stored_rps"; "cpu" includes
# the writes after wrk stopped.
beacon_run() { # seconds
  local before t0 c0 line ok after t1 deadline
  before=$(written_now)
  c0=$(cpu_now)
  t0=$(now_ns)
  line=$(wrk -t2 -c"$CONNECTIONS" -d"${1}s" --latency -s "$REPO/bench/beacon.lua" "$url/api/ops/frontend-log" 2>&1 | sed -n 's/^BENCH_JSON //p')
  [ -n "$line" ] || die "wrk produced no result for beacon"
  ok=$(sed 's/.*"ok":\([0-9]*\).*/\1/' <<<"$line")
  deadline=$(( $(now_ns) + 30000000000 ))
  while :; do
    after=$(written_now)
    t1=$(now_ns)
    [ $((after - before)) -lt "$ok" ] || break
    [ "$t1" -lt "$deadline" ] || die "30 s after wrk stopped, $((after - before)) of its $ok accepted reports are stored"
    sleep 0.02
  done
  add_json "$line" "$c0" "$(cpu_now)" "$((after - before))" "$((t1 - t0))"
}
say "warming up"
run hello 2 >/dev/null
printf '{"name":"warmup","result":%s}\n' "$(beacon_run 2)" >>"$jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for name in hello beacon; do
    if [ "$name" = hello ]; then line=$(run hello "$DURATION"); else line=$(beacon_run "$DURATION"); fi
    printf '{"name":"%s","round":%d,"result":%s}\n' "$name" "$round" "$line" >>"$jsonl"
    if [ "$name" = hello ]; then
      say "round $round hello: $(sed 's/.*"rps":\([0-9.]*\).*/\1/' <<<"$line") req/s"
    else
      say "round $round beacon: $(sed 's/.*"rps":\([0-9.]*\).*/\1/' <<<"$line") answered/s, $(sed 's/.*"stored_rps":\([0-9.]*\).*/\1/' <<<"$line") stored/s"
    fi
  done
done

# What the database holds against what the clients were told (after a pause, so that reports
# answered while wrk stopped are written too and the statements below see one state).
sleep 1
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
beacons = [r for r in runs if r["name"] in ("beacon", "warmup")]
in_flight = int(conns) * len(beacons)
ok = sum(r["result"]["ok"] for r in beacons)
other = sum(r["result"]["other"] + r["result"]["timeouts"] for r in beacons)
hello, stored, answered = med("hello", "rps"), med("beacon", "stored_rps"), med("beacon", "rps")
ratios = [b["result"]["stored_rps"] / h["result"]["rps"]
          for h, b in zip([r for r in runs if r["name"] == "hello"], [r for r in runs if r["name"] == "beacon"])]
print(f"Opsplane beacon bench: wrk -t2 -c{conns}, medians of {len(ratios)} interleaved rounds")
print(f"{'row':16} {'per s':>9} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
print(f"{'hello':16} {hello:9,.0f} {med('hello','p50_us')/1000:7.2f} {med('hello','p99_us')/1000:7.2f} {1:6.2f}")
print(f"{'beacon stored':16} {stored:9,.0f} {med('beacon','p50_us')/1000:7.2f} {med('beacon','p99_us')/1000:7.2f} "
      f"{stored/hello:6.2f}   (target >= 0.50; per-round ratios {', '.join(f'{x:.2f}' for x in ratios)})")
print(f"{'beacon answered':16} {answered:9,.0f} {'':7} {'':7} {answered/hello:6.2f}   (204s per second of wrk, for comparison)")
def cpu_us(name, count_key):
    per = {k: statistics.median(r["result"]["cpu"][k] * 1e6 / max(1, r["result"][count_key]) for r in runs if r["name"] == name)
           for k in ("nginx", "workers", "postgres")}
    per["total"] = sum(per.values())
    return per
ch, cb = cpu_us("hello", "requests"), cpu_us("beacon", "stored")
print(f"CPU per request (µs, utime+stime of the stack's processes / requests; beacon: / stored reports, writes included):")
print(f"{'':16} {'nginx':>7} {'workers':>8} {'postgres':>9} {'total':>7}")
for label, c in (("hello", ch), ("beacon stored", cb)):
    print(f"{label:16} {c['nginx']:7.0f} {c['workers']:8.0f} {c['postgres']:9.0f} {c['total']:7.0f}")
print(f"CPU ratio hello/beacon: {ch['total'] / cb['total']:.2f}   (the throughput ratio when the stack alone is CPU-bound)")
print(f"stored/s = reports the route counters gained from wrk's start until every 204 was written "
      f"(median {med('beacon','stored_s'):.2f} s for {med('beacon','duration_us')/1e6:.0f} s of load)")
print(f"count check: 204 answers {ok:,} (+ at most {in_flight} in flight when wrk stopped), other answers {other:,}; reports counted {int(written):,} "
      f"= ring rows {int(rows):,} + evicted {int(evicted):,}; routes whose ring disagrees: {ring_bad}")
print(f"GET /api/ops/frontend-logs?group=1 over {int(rows):,} stored reports: {group_ms} ms (one request)")
bad = not (ok <= int(written) <= ok + in_flight) or int(rows) + int(evicted) != int(written) or ring_bad != "0" or other
if bad:
    print("COUNT CHECK FAILED: a report was lost, double-counted or refused"); sys.exit(1)
PY
