#!/usr/bin/env bash
# The monitor's benchmark (issue 6, "Performance"): 1,000 HTTP checks at a 30 s interval
# against a local nginx answering `return 200`, for a few minutes. Prints the monitor's CPU
# share and peak memory, how late checks start against their schedule (p50/p99), checks done
# against expected, and the time of GET /api/monitoring/health (with those 1,000 services in
# the database) next to its ceilings measured in the same run: GET /api/ops/ping (FastCGI) and
# GET /api/ops/whoami (FastCGI behind the access gate that every admin route pays).
# bench/README.md ("Monitor") explains the figures.
#
# Target, first that applies:
#   BENCH_RUN_ENV=.opsplane/run.env   a running stack (its database and nginx); nothing of it
#                                     is stopped, the bench's services are removed at the end
#   otherwise                         its own stack: STATE=.opsplane-bench-mon on a free port,
#                                     DEMO=0, stopped again on exit (also on failure or Ctrl-C)
# The bench's monitor has its own lock name (bench-monitor-<pid>) and configuration, so the
# stack's own monitor keeps running beside it (7 services: noise, not load).
#
# Knobs (environment):
#   BENCH_MON_SERVICES    HTTP services (1000)
#   BENCH_MON_INTERVAL    their interval in seconds (30)
#   BENCH_MON_TIMEOUT_MS  their timeout (2000)
#   BENCH_MON_WARMUP      seconds after the monitor becomes active before measuring (35: every
#                         service has had its first check, whose start is spread over 30 s)
#   BENCH_MON_DURATION    seconds measured (120)
#   BENCH_MON_REQUESTS    requests per route for the route timing (200)
#   BENCH_MON_STATE / BENCH_MON_PORT   the bench's own stack (.opsplane-bench-mon / a free port)
# Output: the table on stdout, also in <state>/bench-monitor.txt, raw numbers in
# <state>/bench-monitor.json. Exits 1 when the monitor died or fewer than 95 % of the expected
# checks were done (the other figures would then mean nothing).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"   # pick_free_port, env_file_get
T0=$SECONDS
say() { printf 'bench-monitor [%3ds]: %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { printf 'bench-monitor: error: %s\n' "$*" >&2; exit 1; }

SERVICES=${BENCH_MON_SERVICES:-1000}
INTERVAL=${BENCH_MON_INTERVAL:-30}
TIMEOUT_MS=${BENCH_MON_TIMEOUT_MS:-2000}
WARMUP=${BENCH_MON_WARMUP:-35}
DURATION=${BENCH_MON_DURATION:-120}
REQUESTS=${BENCH_MON_REQUESTS:-200}
for v in SERVICES INTERVAL TIMEOUT_MS WARMUP DURATION REQUESTS; do
  case "${!v}" in ''|*[!0-9]*) die "BENCH_MON_$v=${!v}: expected a whole number" ;; esac
done
[ "$SERVICES" -ge 1 ] && [ "$INTERVAL" -ge 1 ] && [ "$DURATION" -ge 10 ] && [ "$REQUESTS" -ge 10 ] \
  || die "BENCH_MON_SERVICES, _INTERVAL >= 1, _DURATION >= 10, _REQUESTS >= 10"
for tool in nginx psql curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh as root installs it)"
done
OPSPLANE_BIN=${OPSPLANE_BIN:-$REPO/.build/release/opsplane}
[ -x "$OPSPLANE_BIN" ] || die "$OPSPLANE_BIN is missing: swift build -c release"

# --- the stack ------------------------------------------------------------------------------

own_stack=0
monitor_pid=""
target_pid=""
cleanup() {
  [ -z "$monitor_pid" ] || { kill -TERM "$monitor_pid" 2>/dev/null || true; wait "$monitor_pid" 2>/dev/null || true; }
  [ -z "$target_pid" ] || { kill -TERM "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; }
  if [ -n "${db_url:-}" ] && [ "$own_stack" = 0 ]; then
    # On someone's stack: the bench's services, their status and samples go again.
    psql "$db_url" -X -q -v ON_ERROR_STOP=1 -v p="$PREFIX%" -v k="scheduler:bench-monitor-$$" >/dev/null 2>&1 <<'SQL' || say "warning: could not remove the bench's rows"
DELETE FROM ops.monitor_services WHERE name LIKE :'p';
DELETE FROM ops.service_status WHERE service LIKE :'p';
DELETE FROM ops.probe_samples WHERE service LIKE :'p';
DELETE FROM ops.probe_rollups WHERE service LIKE :'p';
DELETE FROM ops.monitor_state WHERE key = :'k';
SQL
  fi
  if [ "$own_stack" = 1 ]; then
    say "stopping the bench stack"
    "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || say "warning: deploy/stack.sh down failed for STATE=$STATE"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PREFIX=bench-svc-
if [ -n "${BENCH_RUN_ENV:-}" ]; then
  run_env=$BENCH_RUN_ENV
  [ -f "$run_env" ] || die "BENCH_RUN_ENV=$run_env does not exist"
  STATE=$(env_file_get "$run_env" OPS_STATE)
  STATE=${STATE:-$(dirname "$run_env")}
else
  export STATE=${BENCH_MON_STATE:-$REPO/.opsplane-bench-mon}
  export PORT=${BENCH_MON_PORT:-$(pick_free_port)}
  export DEMO=0
  say "starting a stack: STATE=$STATE PORT=$PORT"
  mkdir -p "$STATE"
  own_stack=1
  "$REPO/deploy/stack.sh" up 2>"$STATE/bench-monitor-up.log" \
    || { cat "$STATE/bench-monitor-up.log" >&2; die "deploy/stack.sh up failed"; }
  run_env=$STATE/run.env
fi
url=$(env_file_get "$run_env" OPS_URL)
db_url=$(env_file_get "$run_env" OPS_DATABASE_URL)
admin_token=$(env_file_get "$run_env" OPS_ADMIN_TOKEN)
[ -n "$url" ] && [ -n "$db_url" ] && [ -n "$admin_token" ] || die "$run_env lacks OPS_URL, OPS_DATABASE_URL or OPS_ADMIN_TOKEN"
work=$STATE/bench-monitor
rm -rf "$work"
mkdir -p "$work/tmp"

# --- the target: nginx answering 200 by itself -------------------------------------------------

target_port=$(pick_free_port)
cat >"$work/target.conf" <<EOF
# The bench's probe target: answers every GET with 200 itself (no file, no upstream).
worker_processes 1;
daemon off;
pid $work/target.pid;
error_log $work/target-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/tmp/client_body;
    proxy_temp_path $work/tmp/proxy;
    fastcgi_temp_path $work/tmp/fastcgi;
    uwsgi_temp_path $work/tmp/uwsgi;
    scgi_temp_path $work/tmp/scgi;
    server {
        listen 127.0.0.1:$target_port;
        location / { return 200 "ok\n"; }
    }
}
EOF
nginx -p "$work" -c "$work/target.conf" -e "$work/target-error.log" &
target_pid=$!
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$target_port/svc/0" || true)" = 200 ] && break
  kill -0 "$target_pid" 2>/dev/null || die "the target nginx exited: $(tail -5 "$work/target-error.log")"
  sleep 0.1
done
say "target nginx on 127.0.0.1:$target_port (pid $target_pid)"

# --- the monitor with SERVICES http services ------------------------------------------------------

python3 - "$SERVICES" "$INTERVAL" "$TIMEOUT_MS" "$target_port" "$PREFIX" >"$work/monitor.json" <<'PY'
import json, sys
n, interval, timeout, port, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(json.dumps({"services": [
    {"name": f"{prefix}{i:04d}", "kind": "http", "target": f"http://127.0.0.1:{port}/svc/{i}",
     "interval_s": interval, "timeout_ms": timeout} for i in range(n)]}))
PY
set -a
# shellcheck disable=SC1090
. "$run_env"
set +a
OPS_MONITOR_LOCK="bench-monitor-$$" OPS_MONITOR_CONFIG="$work/monitor.json" DISCORD_ENABLE_ALERTS=false \
  "$OPSPLANE_BIN" monitor >"$work/monitor.log" 2>&1 </dev/null &
monitor_pid=$!
say "monitor pid $monitor_pid: $SERVICES http services every ${INTERVAL}s"
for _ in $(seq 1 300); do
  grep -q '"probe scheduler active"' "$work/monitor.log" && break
  kill -0 "$monitor_pid" 2>/dev/null || die "the monitor exited: $(tail -5 "$work/monitor.log")"
  sleep 0.1
done
grep -q '"probe scheduler active"' "$work/monitor.log" || die "the monitor did not become active in 30 s: $(tail -5 "$work/monitor.log")"

sql() { psql "$db_url" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
cpu_ticks() { # utime + stime of the monitor, from /proc/PID/stat (fields after the command name)
  sed 's/^.*) //' "/proc/$monitor_pid/stat" | awk '{print $12 + $13}'
}

say "warming up ${WARMUP}s (first checks are spread over the first interval)"
sleep "$WARMUP"
kill -0 "$monitor_pid" 2>/dev/null || die "the monitor exited: $(tail -5 "$work/monitor.log")"
window_start=$(sql -c "SELECT now()")
ticks_start=$(cpu_ticks)
wall_start=$(date +%s.%N)
say "measuring ${DURATION}s"
sleep "$DURATION"
kill -0 "$monitor_pid" 2>/dev/null || die "the monitor exited: $(tail -5 "$work/monitor.log")"
ticks_end=$(cpu_ticks)
wall_end=$(date +%s.%N)
window_end=$(sql -c "SELECT now()")
hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$monitor_pid/status")
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$monitor_pid/status")
threads=$(awk '/^Threads:/ {print $2}' "/proc/$monitor_pid/status")
# Give the writer its one-second flush, then count what was written in the window.
sleep 2
checks=$(sql -v p="$PREFIX%" -v a="$window_start" -v b="$window_end" <<'SQL'
SELECT count(*) || ' ' || count(*) FILTER (WHERE NOT ok) FROM ops.probe_samples
WHERE service LIKE :'p' AND ts >= :'a'::timestamptz AND ts < :'b'::timestamptz;
SQL
)
sched=$(sql -v k="scheduler:bench-monitor-$$" <<<"SELECT value FROM ops.monitor_state WHERE key = :'k';")
status_rows=$(sql -c "SELECT count(*) FROM ops.service_status")

# --- GET /api/monitoring/health next to its ceilings, interleaved, one keep-alive connection each --
# ping: FastCGI without the access gate (public); whoami: the gate every admin route pays
# (auth_request + token lookup) and nothing else; health: the gate + the route itself.

route_run() { # path count -> "code time_total" lines (one curl, one connection, sequential)
  local cfg=$work/curl-$RANDOM.cfg
  : >"$cfg"
  for _ in $(seq 1 "$2"); do printf 'url = "%s%s"\noutput = "/dev/null"\n' "$url" "$1" >>"$cfg"; done
  curl -s -K "$cfg" -H "Authorization: Bearer $admin_token" -w '%{http_code} %{time_total}\n' || true
}
: >"$work/routes.txt"
half=$((REQUESTS / 2))
for _ in 1 2; do
  route_run /api/ops/ping "$half" | sed 's|^|ping |' >>"$work/routes.txt"
  route_run /api/ops/whoami "$half" | sed 's|^|auth |' >>"$work/routes.txt"
  route_run /api/monitoring/health "$half" | sed 's|^|health |' >>"$work/routes.txt"
done

status=0
python3 - "$work/routes.txt" "$work" <<PY >"$STATE/bench-monitor.txt" || status=$?
import json, statistics, sys
routes_file, work = sys.argv[1], sys.argv[2]
services, interval, duration = $SERVICES, $INTERVAL, float("$wall_end") - float("$wall_start")
ticks = $ticks_end - $ticks_start
clk = $(getconf CLK_TCK)
cpu_share = ticks / clk / duration
done_checks, failed_checks = (int(x) for x in "$checks".split())
expected = services * duration / interval
sched = json.loads('''$sched''' or "{}")
rows = {"ping": [], "auth": [], "health": []}
for line in open(routes_file):
    name, code, t = line.split()
    rows[name].append((int(code), float(t) * 1000))

def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)

print(f"Opsplane monitor bench  {__import__('datetime').datetime.utcnow():%Y-%m-%dT%H:%M:%SZ}  host: {__import__('os').cpu_count()} CPUs")
print(f"{services} http services every {interval} s against a local nginx (return 200), measured {duration:.0f} s after a ${WARMUP} s warm-up")
print()
print(f"monitor CPU         {cpu_share * 100:.1f} % of one core  (utime+stime / wall, {ticks / clk:.1f} s CPU in {duration:.0f} s)")
print(f"monitor memory      peak RSS (VmHWM) {$hwm_kb / 1024:.1f} MiB, RSS now {$rss_kb / 1024:.1f} MiB, {$threads} threads")
print(f"checks              {done_checks} done / {expected:.0f} expected ({done_checks / expected * 100:.1f} %), {failed_checks} failed")
if sched:
    lm = sched.get("last_minute", {})
    print(f"lateness            p50 {sched.get('late_p50_ms')} ms, p99 {sched.get('late_p99_ms')} ms, max {sched.get('late_max_ms')} ms "
          f"over {sched.get('checks')} checks since activation; last full minute p50 {lm.get('late_p50_ms')} ms, "
          f"p99 {lm.get('late_p99_ms')} ms ({lm.get('checks')} checks)")
    print(f"scheduler           {sched.get('threads')} probe threads, {sched.get('skipped_slots')} skipped slots")
else:
    print("lateness            (no ops.monitor_state 'scheduler' row from this monitor)")
print(f"service_status rows {$status_rows}")
print()
print(f"{'route':<26} {'n':>4} {'p50 ms':>8} {'p99 ms':>8}  status")
result = {"services": services, "interval_s": interval, "duration_s": duration, "cpu_share": cpu_share,
          "vmhwm_kb": $hwm_kb, "checks_done": done_checks, "checks_expected": expected,
          "checks_failed": failed_checks, "scheduler": sched, "routes": {}}
for name, path in (("ping", "/api/ops/ping"), ("auth", "/api/ops/whoami"), ("health", "/api/monitoring/health")):
    codes = [c for c, _ in rows[name]]
    times = [t for _, t in rows[name]]
    common = statistics.mode(codes) if codes else 0
    note = "ok" if codes and all(c == 200 for c in codes) else f"HTTP {sorted(set(codes))}"
    if common == 501:
        note = "501: the health route is not implemented in this build yet (timing is of the stub)"
    print(f"{path:<26} {len(times):>4} {pct(times, 50):>8.2f} {pct(times, 99):>8.2f}  {note}")
    result["routes"][name] = {"path": path, "n": len(times), "p50_ms": pct(times, 50), "p99_ms": pct(times, 99),
                              "codes": sorted(set(codes))}
json.dump(result, open(work + "/../bench-monitor.json", "w"), indent=1)
if done_checks < 0.95 * expected:
    print(f"\nWARNING: only {done_checks / expected * 100:.1f} % of the expected checks were done.")
    sys.exit(1)
PY
cat "$STATE/bench-monitor.txt"
say "table saved to $STATE/bench-monitor.txt, raw numbers in $STATE/bench-monitor.json, monitor log in $work/monitor.log"
exit "$status"
