#!/usr/bin/env bash
# `make bench`: measures the ceilings and the database route with wrk, in one run, and
# prints one table (bench/README.md explains the rows and ratios).
#
# Target, first that applies:
#   BENCH_URL=http://127.0.0.1:8080   a running stack (nothing is started or stopped)
#   BENCH_RUN_ENV=.opsplane/run.env   a running stack's run.env (same, and its layout is shown)
#   otherwise                         its own stack: STATE=.opsplane-bench on a free port,
#                                     stopped again on exit (also on failure or Ctrl-C)
# Knobs: BENCH_DURATION (s per run, 10), BENCH_ROUNDS (3), BENCH_THREADS (wrk -t, 2),
#   BENCH_CONNECTIONS (wrk -c, 32), BENCH_WARMUP (s per route, 2), BENCH_STATE, BENCH_PORT,
#   BENCH_TOKEN (admin token for the `auth` row; default OPS_ADMIN_TOKEN of the run.env; with
#   BENCH_URL and no BENCH_TOKEN the row is left out).
# Output: the table on stdout, also written to <state>/bench.txt with every run's raw
# numbers in <state>/bench.jsonl. Exits 1 when any request failed (the numbers would lie).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"   # pick_free_port, env_file_get
say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WARMUP=${BENCH_WARMUP:-2}
for v in DURATION ROUNDS THREADS CONNECTIONS WARMUP; do
  case "${!v}" in ''|*[!0-9]*) die "BENCH_$v=${!v}: expected a whole number" ;; esac
done
[ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ] || die "BENCH_ROUNDS and BENCH_DURATION must be at least 1"

command -v wrk >/dev/null || die "wrk is not installed: apt-get install -y wrk (or deploy/install-deps.sh as root)"
command -v python3 >/dev/null || die "python3 is not installed: apt-get install -y python3"

run_env=""
if [ -n "${BENCH_URL:-}" ]; then
  url=${BENCH_URL%/}
  out_dir=${BENCH_STATE:-$REPO/.opsplane-bench}
elif [ -n "${BENCH_RUN_ENV:-}" ]; then
  run_env=$BENCH_RUN_ENV
  [ -f "$run_env" ] || die "BENCH_RUN_ENV=$run_env does not exist"
  url=$(env_file_get "$run_env" OPS_URL)
  [ -n "$url" ] || die "$run_env has no OPS_URL"
  out_dir=$(env_file_get "$run_env" OPS_STATE)
  out_dir=${out_dir:-$(dirname "$run_env")}
else
  export STATE=${BENCH_STATE:-$REPO/.opsplane-bench}
  export PORT=${BENCH_PORT:-$(pick_free_port)}
  # The stack gets the same variables a user would pass (OPS_WORKERS, OPS_FCGI_THREADS, ...).
  trap 'say "stopping the bench stack"; "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || say "warning: deploy/stack.sh down failed for STATE=$STATE"' EXIT
  trap 'exit 130' INT TERM
  say "starting a stack: STATE=$STATE PORT=$PORT"
  mkdir -p "$STATE"
  "$REPO/deploy/stack.sh" up 2>"$STATE/bench-up.log" || { cat "$STATE/bench-up.log" >&2; die "deploy/stack.sh up failed"; }
  run_env=$STATE/run.env
  url=$(env_file_get "$run_env" OPS_URL)
  out_dir=$STATE
fi
mkdir -p "$out_dir"

# name|path|what — the order of the table; the first two are the ceilings.
ROUTES="static|/nginx-static|nginx answers by itself (ceiling 1)
hello|/api/ops/ping|hello world through FastCGI (ceiling 2)
db|/api/ops/healthz|FastCGI + one Postgres round-trip"

# The price of the access gate: GET /api/ops/whoami with an admin Bearer token is an
# auth_request subrequest (a FastCGI request that hashes the token and looks it up in
# Postgres) followed by the request itself (FastCGI, no database).
token=${BENCH_TOKEN:-}
if [ -z "$token" ] && [ -n "$run_env" ]; then token=$(env_file_get "$run_env" OPS_ADMIN_TOKEN); fi
if [ -n "$token" ]; then
  ROUTES="$ROUTES
auth|/api/ops/whoami|auth_request + token lookup, then FastCGI"
else
  say "no admin token (BENCH_TOKEN): the auth row is left out"
fi

# Only the auth row sends the token.
route_header() { # name
  if [ "$1" = auth ]; then printf 'Authorization: Bearer %s' "$token"; fi
}

check_route() { # name path
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "$(route_header "$1")" "$url$2" || true)
  [ "$code" = 200 ] || die "GET $url$2 answers ${code:-nothing}, not 200: nothing to measure"
}

wrk_run() { # name path seconds -> the BENCH_JSON line (empty when wrk failed)
  local header
  header=$(route_header "$1")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${3}s" --latency -s "$REPO/bench/report.lua" \
    ${header:+-H "$header"} "$url$2" 2>&1 | sed -n 's/^BENCH_JSON //p'
}

while IFS='|' read -r name path _; do check_route "$name" "$path"; done <<<"$ROUTES"

say "warming up (${WARMUP}s per route)"
if [ "$WARMUP" -gt 0 ]; then
  while IFS='|' read -r name path _; do wrk_run "$name" "$path" "$WARMUP" >/dev/null; done <<<"$ROUTES"
fi

jsonl=$out_dir/bench.jsonl
: >"$jsonl"
total=$((ROUNDS * $(wc -l <<<"$ROUTES") * DURATION))
say "measuring: $ROUNDS interleaved rounds x $(wc -l <<<"$ROUTES") routes x ${DURATION}s (about ${total}s)"
for round in $(seq 1 "$ROUNDS"); do
  while IFS='|' read -r name path _; do
    line=$(wrk_run "$name" "$path" "$DURATION")
    [ -n "$line" ] || die "wrk produced no result for $url$path (round $round)"
    printf '{"route":"%s","round":%d,"result":%s}\n' "$name" "$round" "$line" >>"$jsonl"
    say "round $round $name: $(sed 's/.*"rps":\([0-9]*\).*/\1/' <<<"$line") req/s"
  done <<<"$ROUTES"
done

workers="?"; threads="?"
if [ -n "$run_env" ]; then
  workers=$(env_file_get "$run_env" OPS_WORKERS); threads=$(env_file_get "$run_env" OPS_FCGI_THREADS)
fi
header="Opsplane bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  $url  host: $(nproc) CPUs  workers: ${workers:-?} x ${threads:-?} threads
wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency; medians of $ROUNDS interleaved runs after a ${WARMUP}s warm-up per route"

status=0
ROUTES="$ROUTES" python3 - "$jsonl" "$header" >"$out_dir/bench.txt" <<'PY' || status=$?
import json, os, statistics, sys

jsonl, header = sys.argv[1], sys.argv[2]
routes = [line.split("|") for line in os.environ["ROUTES"].splitlines()]
runs = {}
for line in open(jsonl):
    rec = json.loads(line)
    runs.setdefault(rec["route"], []).append(rec["result"])

def med(name, key):
    return statistics.median(r[key] for r in runs[name])

def errors(name):
    return sum(r[k] for r in runs[name]
               for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "status_errors"))

static_rps, hello_rps, hello_p99 = med("static", "rps"), med("hello", "rps"), med("hello", "p99_us")
cols = ["route", "path", "req/s", "spread", "p50 ms", "p99 ms", "rps/hello", "rps/static", "p99/hello", "errors", "what"]
rows = []
for name, path, what in routes:
    rps, p50, p99 = med(name, "rps"), med(name, "p50_us"), med(name, "p99_us")
    all_rps = [r["rps"] for r in runs[name]]
    rows.append([name, path, f"{rps:,.0f}", f"±{(max(all_rps) - min(all_rps)) / 2 / rps * 100:.0f}%",
                 f"{p50 / 1000:.2f}", f"{p99 / 1000:.2f}", f"{rps / hello_rps:.2f}", f"{rps / static_rps:.2f}",
                 f"{p99 / hello_p99:.2f}", str(errors(name)), what])
widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
right = {2, 3, 4, 5, 6, 7, 8, 9}
fmt = lambda cells: "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
print(header)
print()
print(fmt(cols))
print(fmt(["-" * w for w in widths]))
for r in rows:
    print(fmt(r))
bad = [name for name, _, _ in routes if errors(name)]
if bad:
    print(f"\nWARNING: failed requests on {', '.join(bad)} (see bench.jsonl): those numbers are not valid.")
    sys.exit(1)
PY
cat "$out_dir/bench.txt"
say "table saved to $out_dir/bench.txt, raw runs in $jsonl"
exit "$status"
