#!/usr/bin/env bash
# API performance from the nginx access log (issue 6): how fast the monitor's tail reads and
# counts a log, against what the machine can read at all, and how fast
# /api/monitoring/performance answers with a week of data. Prints one table.
#
# It starts its own stack (STATE=.opsplane-bench-log on a free port, DEMO=0, MONITOR=0) and
# stops it on exit, also on failure or Ctrl-C: it truncates ops.api_minutes/api_rollups.
#
#   1. tail: writes BENCH_LOG_LINES synthetic nginx JSON lines (16 routes, ids, 11 % errors,
#      ~360 bytes a line like nginx's own), reads the file once so it is in the page cache,
#      then times the ceilings `wc -l` and GNU `tail -n +1 >/dev/null`, and
#      BENCH_LOG_ROUNDS times an `opsplane monitor` tailing it from byte 0: "parse" is the
#      monitor's own "caught up" figure (read + parse + group + count, in memory), "commit"
#      the time from the monitor's start until the cursor at the end of the file is committed
#      with the counts (includes connecting, the lock and one upsert). Medians.
#   2. route: fills BENCH_LOG_DAYS days of minutes for BENCH_LOG_GROUPS route groups (21 latency
#      buckets from ~16 ms to ~500 ms in use, stored trimmed as the tail stores them) and their
#      hour rollups (what 24h and 7d read), then asks GET /api/monitoring/performance?range=1h|6h|24h|7d
#      BENCH_LOG_REQUESTS times each, one at a time on one keep-alive connection: p50/p99 as
#      the client sees them and as the worker logs them (dur_ms), next to the hello-world
#      (/api/ops/ping) and access-gate (/api/ops/whoami) ceilings of the same run. Twice:
#      with complete rollups (the normal case), and with the rollups' dirty mark 47 h old
#      (the worst case: a monitor catching up after downtime; 24h and 7d then sum minutes).
#   3. rollups: the time of one rollup job in the steady state (the current hour marked) and
#      catching up 47 hours, from the monitor's debug log.
#
# Knobs: BENCH_LOG_LINES (1000000), BENCH_LOG_ROUNDS (3), BENCH_LOG_REQUESTS (200),
# BENCH_LOG_GROUPS (30), BENCH_LOG_DAYS (7), BENCH_LOG_STATE / BENCH_LOG_PORT,
# BENCH_LOG_KEEP=1 (leave the stack and the synthetic log).
# Output: the table on stdout and in <state>/bench-access-log.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"   # pick_free_port, env_file_get
T0=$SECONDS
say() { printf 'bench-access-log [%3ds]: %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { printf 'bench-access-log: error: %s\n' "$*" >&2; exit 1; }

LINES=${BENCH_LOG_LINES:-1000000}
ROUNDS=${BENCH_LOG_ROUNDS:-3}
REQUESTS=${BENCH_LOG_REQUESTS:-200}
NGROUPS=${BENCH_LOG_GROUPS:-30}
DAYS=${BENCH_LOG_DAYS:-7}
for v in LINES ROUNDS REQUESTS NGROUPS DAYS; do
  case "${!v}" in ''|*[!0-9]*) die "$v=${!v}: expected a whole number" ;; esac
  [ "${!v}" -ge 1 ] || die "$v must be at least 1"
done
[ "$LINES" -ge 50000 ] || die "BENCH_LOG_LINES=$LINES: at least 50000 (the monitor reports backlogs of 8 MiB or more)"
for tool in psql python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
BIN=${OPSPLANE_BIN:-$REPO/.build/release/opsplane}
[ -x "$BIN" ] || die "$BIN is missing: swift build -c release"

export STATE=${BENCH_LOG_STATE:-$REPO/.opsplane-bench-log}
export PORT=${BENCH_LOG_PORT:-$(pick_free_port)}
export DEMO=0 MONITOR=0
WORK=$STATE/bench-log
MONITOR_PID=""
stop_monitor() {
  if [ -n "$MONITOR_PID" ] && kill -0 "$MONITOR_PID" 2>/dev/null; then
    kill "$MONITOR_PID" 2>/dev/null || true
    wait "$MONITOR_PID" 2>/dev/null || true
  fi
  MONITOR_PID=""
}
cleanup() {
  stop_monitor
  if [ "${BENCH_LOG_KEEP:-0}" = 1 ]; then
    say "BENCH_LOG_KEEP=1: the stack keeps running; stop it with STATE=$STATE deploy/stack.sh down"
    return
  fi
  rm -f "$WORK/access.log"
  "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || say "warning: deploy/stack.sh down failed for STATE=$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a stack: STATE=$STATE PORT=$PORT"
mkdir -p "$STATE" "$WORK"
"$REPO/deploy/stack.sh" up >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; die "deploy/stack.sh up failed"; }
DB=$(env_file_get "$STATE/run.env" OPS_DATABASE_URL)
URL=$(env_file_get "$STATE/run.env" OPS_URL)
ADMIN=$(env_file_get "$STATE/run.env" OPS_ADMIN_TOKEN)
sql() { psql "$DB" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# Starts a monitor of the bench's own: access_log = the synthetic file (read from byte 0).
start_monitor() { # log-file [env...]
  local log=$1; shift
  printf '{"access_log": {"path": "%s", "backlog_mb": 100000}}\n' "$WORK/access.log" >"$WORK/monitor.json"
  env OPS_DATABASE_URL="$DB" OPS_MONITOR_LOCK=bench-access-log OPS_MONITOR_CONFIG="$WORK/monitor.json" "$@" \
    "$BIN" monitor >"$log" 2>&1 &
  MONITOR_PID=$!
}

# --- 1. the tail -----------------------------------------------------------------------------
say "writing $LINES synthetic lines"
python3 - "$LINES" "$WORK/access.log" <<'EOF'
import json, random, sys, time
n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(1)
routes = ["/api/ops/summary", "/api/ops/timeseries?metric=runs&window=today", "/api/ops/top?kind=agents",
          "/api/monitoring/health", "/api/monitoring/performance?range=1h", "/api/ops/alerts/%d",
          "/api/ops/alerts/%d/ack", "/api/monitoring/health/module/svc-%d", "/admin/ops/app.js", "/admin/ops/",
          "/api/ops/ingest", "/api/v1/ops/queue", "/api/ops/healthz", "/wp-login.php",
          "/api/ops/tokens/%d/revoke", "/operator/system/metrics"]
statuses = [200] * 40 + [201, 204, 304, 400, 401, 403, 404, 429, 500, 502, 503]
base = int(time.time()) - 2 * 3600
with open(out, "w") as f:
    for i in range(n):
        r = rng.choice(routes)
        if "%d" in r:
            r = r % rng.randint(1, 10**6)
        f.write(json.dumps({"ts": "2026-11-22T02:02:23+00:00", "msec": round(base + i * 7200 / n, 3), "method": "GET",
                            "uri": r, "status": rng.choice(statuses), "request_time": rng.randint(0, 2000) / 1000,
                            "upstream_response_time": "0.004", "bytes_sent": rng.randint(100, 5000),
                            "request_id": "%032x" % rng.getrandbits(128), "remote_addr": "127.0.0.1",
                            "upstream_addr": "unix:/srv/opsplane/run/fcgi-1.sock",
                            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench"}, separators=(",", ":")) + "\n")
EOF
SIZE=$(stat -c %s "$WORK/access.log")
cat "$WORK/access.log" >/dev/null
seconds_of() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
command -v bc >/dev/null || die "bc is not installed"
WC_S=$(seconds_of wc -l "$WORK/access.log")
TAIL_S=$(seconds_of tail -n +1 "$WORK/access.log")

PARSE=()
COMMIT=()
for round in $(seq 1 "$ROUNDS"); do
  sql -c "DELETE FROM ops.access_log_cursor WHERE path = '$WORK/access.log'" -c "TRUNCATE ops.api_minutes, ops.api_rollups" \
      -c "DELETE FROM ops.monitor_state WHERE key = 'api_rollups_dirty_from'"
  t0=$(date +%s.%N)
  start_monitor "$WORK/monitor-tail-$round.log"
  for _ in $(seq 1 1200); do
    off=$(sql -c "SELECT byte_offset FROM ops.access_log_cursor WHERE path = '$WORK/access.log'")
    [ "${off:-0}" = "$SIZE" ] && break
    sleep 0.05
  done
  t1=$(date +%s.%N)
  [ "${off:-0}" = "$SIZE" ] || die "round $round: the tail did not reach the end of the file (cursor ${off:-none} of $SIZE)"
  stop_monitor
  counted=$(sql -c "SELECT sum(requests) FROM ops.api_minutes")
  [ "$counted" = "$LINES" ] || die "round $round: $counted requests counted, $LINES written"
  lps=$(sed -n 's/.*"msg":"access log: caught up".*"lines_per_s":\([0-9]*\).*/\1/p' "$WORK/monitor-tail-$round.log" | head -1)
  [ -n "$lps" ] || die "round $round: no 'caught up' line in $WORK/monitor-tail-$round.log"
  PARSE+=("$lps")
  COMMIT+=("$(echo "$LINES / ($t1 - $t0)" | bc -l)")
  say "round $round: parse $lps lines/s, commit $(printf '%.0f' "${COMMIT[-1]}") lines/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
PARSE_M=$(median "${PARSE[@]}")
COMMIT_M=$(median "${COMMIT[@]}")

# --- 2. the route ----------------------------------------------------------------------------
say "filling $DAYS days of minutes for $NGROUPS route groups and their rollups"
sql -v days="$DAYS" -v groups="$NGROUPS" <<'EOF'
TRUNCATE ops.api_minutes, ops.api_rollups;
DELETE FROM ops.monitor_state WHERE key = 'api_rollups_dirty_from';
INSERT INTO ops.api_minutes (minute, route_group, requests, errors, client_errors, auth_failures, latency_sum_ms, latency_hist)
SELECT m, '/bench/route-' || g || '/{id}', r, r / 50, r / 10, r / 40, r * 12.5,
       (SELECT array_agg(CASE WHEN i >= 20 THEN r / 21 + CASE WHEN i = 30 THEN r % 21 ELSE 0 END ELSE 0 END ORDER BY i)
        FROM generate_series(1, 40) i)
FROM generate_series(date_trunc('minute', now()) - make_interval(days => :days), date_trunc('minute', now()), interval '1 minute') m,
     generate_series(1, :groups) g,
     LATERAL (SELECT 10 + (g * 7 + extract(minute FROM m)::int) % 50 AS r) x;
INSERT INTO ops.api_rollups (grain, bucket, route_group, requests, errors, client_errors, auth_failures, latency_sum_ms, latency_hist)
SELECT 'hour', s.bucket, s.route_group, s.requests, s.errors, s.client_errors, s.auth_failures, s.latency_sum_ms, h.hist
FROM (SELECT date_trunc('hour', minute) AS bucket, route_group, sum(requests) AS requests, sum(errors) AS errors,
             sum(client_errors) AS client_errors, sum(auth_failures) AS auth_failures, sum(latency_sum_ms) AS latency_sum_ms
      FROM ops.api_minutes GROUP BY 1, 2) s
JOIN (SELECT bucket, route_group, array_agg(v ORDER BY i) AS hist
      FROM (SELECT date_trunc('hour', m.minute) AS bucket, m.route_group, u.i, sum(u.v) AS v
            FROM ops.api_minutes m, unnest(m.latency_hist) WITH ORDINALITY AS u(v, i) GROUP BY 1, 2, 3) x
      GROUP BY 1, 2) h USING (bucket, route_group);
INSERT INTO ops.access_log_cursor (path, device, inode, byte_offset) VALUES ('bench', 0, 0, 0)
ON CONFLICT (path) DO UPDATE SET updated_at = now();
VACUUM ANALYZE ops.api_minutes;
VACUUM ANALYZE ops.api_rollups;
EOF
MINUTE_ROWS=$(sql -c "SELECT count(*) FROM ops.api_minutes")

# One curl per route and phase, so the requests share a keep-alive connection; time_total per
# request as the client sees it, dur_ms as the worker logs it (by the X-Request-Id sent).
measure_routes() { # label
  local label=$1 name path auth run ids t w extra
  run=$(date +%s%N)
  for spec in "hello|/api/ops/ping|" "auth|/api/ops/whoami|1" "perf 1h|/api/monitoring/performance?range=1h|1" \
              "perf 6h|/api/monitoring/performance?range=6h|1" "perf 24h|/api/monitoring/performance?range=24h|1" \
              "perf 7d|/api/monitoring/performance?range=7d|1"; do
    IFS='|' read -r name path auth <<<"$spec"
    local args=(-s -w '%{http_code} %{time_total}\n')
    [ -z "$auth" ] || args+=(-H "Authorization: Bearer $ADMIN")
    urls=(); for _ in $(seq 1 10); do urls+=("$URL$path" -o /dev/null); done
    curl "${args[@]}" -H "X-Request-Id: w$run" "${urls[@]}" >/dev/null
    urls=(); for _ in $(seq 1 "$REQUESTS"); do urls+=("$URL$path" -o /dev/null); done
    t=$(curl "${args[@]}" -H "X-Request-Id: m$run-${name// /-}" "${urls[@]}")
    echo "$t" | awk '$1 != 200 {bad = 1} END {exit bad}' || die "$path answered $(echo "$t" | awk '$1 != 200' | head -1)"
    sleep 0.3
    w=$(cat "$STATE"/logs/fcgi-*.log | grep -F "\"m$run-${name// /-}\"" | sed -n 's/.*"auth":false,"dur_ms":\([0-9.]*\).*/\1/p')
    extra=""
    if [ -n "$auth" ] && [ "$name" != auth ]; then
      extra=$(curl -s -H "Authorization: Bearer $ADMIN" "$URL$path" | python3 -c 'import json,sys; a=json.load(sys.stdin); print("requests=%d series=%d routes=%d" % (a["requests"], len(a["series"]), len(a["routes"])))')
    fi
    printf '%-10s %-9s %8s %8s %8s %8s  %s\n' "$label" "$name" \
      "$(echo "$t" | awk '{print $2 * 1000}' | pct 50)" "$(echo "$t" | awk '{print $2 * 1000}' | pct 99)" \
      "$(echo "$w" | pct 50)" "$(echo "$w" | pct 99)" "$extra"
  done
}
# Percentile of numbers on stdin (closest ranks, interpolated), two decimals.
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END {if (!NR) {print "-"; exit} k=(NR-1)*p/100; i=int(k); j=(i+1<NR)?i+1:i; printf "%.2f", a[i+1]+(a[j+1]-a[i+1])*(k-i)}'; }
say "route latency, complete rollups"
ROUTE_OK=$(measure_routes rollups)
sql -c "INSERT INTO ops.monitor_state (key, value) VALUES ('api_rollups_dirty_from', jsonb_build_object('from', extract(epoch FROM now() - interval '47 hours')::bigint))"
say "route latency, rollups 47 h behind"
ROUTE_BEHIND=$(measure_routes behind)

# --- 3. the rollup job -------------------------------------------------------------------------
rollup_ms() { # dirty-from (SQL expression)
  sql -c "INSERT INTO ops.monitor_state (key, value) VALUES ('api_rollups_dirty_from', jsonb_build_object('from', extract(epoch FROM $1)::bigint))
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
  : >"$WORK/access.log"
  sql -c "DELETE FROM ops.access_log_cursor WHERE path = '$WORK/access.log'"
  start_monitor "$WORK/monitor-rollup.log" OPS_LOG_LEVEL=debug
  for _ in $(seq 1 600); do
    grep -q '"msg":"api rollups recomputed"' "$WORK/monitor-rollup.log" && break
    sleep 0.1
  done
  stop_monitor
  sed -n 's/.*"msg":"api rollups recomputed".*"ms":\([0-9.]*\).*/\1/p' "$WORK/monitor-rollup.log" | head -1
}
say "rollup job: steady state and catching up"
ROLLUP_NOW=$(rollup_ms "date_trunc('hour', now())")
ROLLUP_47=$(rollup_ms "now() - interval '47 hours'")

{
  printf 'tail: %s lines, %s bytes (%.0f bytes a line), page cache warm; medians of %s rounds\n' \
    "$LINES" "$SIZE" "$(echo "$SIZE / $LINES" | bc -l)" "$ROUNDS"
  printf '  %-34s %12s %10s\n' "reader" "lines/s" "MB/s"
  for row in "wc -l (ceiling)|$(echo "$LINES / $WC_S" | bc -l)" "GNU tail -n +1 (ceiling)|$(echo "$LINES / $TAIL_S" | bc -l)" \
             "monitor: read, parse, group, count|$PARSE_M" "monitor: start to commit|$COMMIT_M"; do
    name=${row%%|*}; lps=${row##*|}
    printf '  %-34s %12.0f %10.1f\n' "$name" "$lps" "$(echo "$lps * $SIZE / $LINES / 1000000" | bc -l)"
  done
  printf '\nroute: %s minutes (%s days x %s groups) + their hour rollups; %s requests each, one at a time\n' \
    "$MINUTE_ROWS" "$DAYS" "$NGROUPS" "$REQUESTS"
  printf '%-10s %-9s %8s %8s %8s %8s\n' "rollups" "route" "p50 ms" "p99 ms" "wkr p50" "wkr p99"
  echo "$ROUTE_OK"
  echo "$ROUTE_BEHIND"
  printf '\nrollup job: %s ms for the current hour, %s ms catching up 47 hours (%s groups)\n' "$ROLLUP_NOW" "$ROLLUP_47" "$NGROUPS"
} | tee "$STATE/bench-access-log.txt"
