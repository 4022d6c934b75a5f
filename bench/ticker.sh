#!/usr/bin/env bash
# The live ticker's benchmark (issue 5): 200 subscribed WebSocket clients, 1,000 events/s for
# 30 s, through nginx; the same against the ticker directly is the ceiling (what nginx's
# WebSocket proxy costs). Prints the NOTIFY-to-receipt delay (p50/p99), frames lost by clients
# that keep up, and the ticker's peak memory (VmHWM). Its own stack, torn down at the end.
#
# Environment: BENCH_TICKER_CLIENTS (200), BENCH_TICKER_RATE (1000 events/s),
# BENCH_TICKER_SECONDS (30), BENCH_TICKER_ROUNDS (1: rounds per row; the median is printed).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
cd "$REPO"

CLIENTS=${BENCH_TICKER_CLIENTS:-200}
RATE=${BENCH_TICKER_RATE:-1000}
SECONDS_PER_RUN=${BENCH_TICKER_SECONDS:-30}
ROUNDS=${BENCH_TICKER_ROUNDS:-1}
export STATE=$REPO/.opsplane-bench-ticker
export PORT=${BENCH_TICKER_PORT:-$(pick_free_port)}
export DEMO=0

swift build -c release --product ticker-bench >/dev/null
BENCH_BIN=$REPO/.build/release/ticker-bench

teardown() { deploy/stack.sh down >/dev/null 2>&1 || true; }
trap teardown EXIT
deploy/stack.sh up >/dev/null 2>&1 || { echo "ticker bench: the stack did not start (see $STATE/logs)" >&2; exit 1; }
set -a; . "$STATE/run.env"; set +a
TICKER_PID=$(cat "$STATE/run/ticker.pid")

OUT=$STATE/bench-ticker.jsonl
: >"$OUT"
for round in $(seq 1 "$ROUNDS"); do
  for row in nginx direct; do
    echo "ticker bench: round $round/$ROUNDS, $row: $CLIENTS clients, $RATE events/s for ${SECONDS_PER_RUN}s" >&2
    if [ "$row" = nginx ]; then
      args=(--port "$OPS_PORT" --token "$OPS_ADMIN_TOKEN")
    else
      args=(--port "$OPS_TICKER_PORT" --direct-role admin)
    fi
    line=$("$BENCH_BIN" "${args[@]}" --database-url "$OPS_DATABASE_URL" --clients "$CLIENTS" --rate "$RATE" \
             --seconds "$SECONDS_PER_RUN" --ticker-pid "$TICKER_PID")
    echo "{\"row\":\"$row\",\"result\":$line}" >>"$OUT"
  done
done

python3 - "$OUT" "$CLIENTS" "$RATE" "$SECONDS_PER_RUN" <<'PY' | tee "$STATE/bench-ticker.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
clients, rate, secs = sys.argv[2:5]
def med(row, key):
    vals = [r["result"][key] for r in rows if r["row"] == row]
    return statistics.median(vals)
print(f"Opsplane ticker bench: {clients} clients, {rate} events/s, {secs} s per run, medians of {len(rows)//2} round(s)")
print()
print(f"{'row':<8}{'events/s':>10}{'frames':>12}{'lost':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99/direct':>12}{'ticker RSS MB':>15}  what")
d99 = med("direct", "p99_ms")
for row, what in (("direct", "clients on the ticker's port (ceiling: no proxy)"),
                  ("nginx", "clients through nginx /api/ws (auth_request + proxy), the product path")):
    print(f"{row:<8}{med(row,'rate'):>10.0f}{med(row,'frames_received'):>12,.0f}{med(row,'frames_lost'):>8,.0f}"
          f"{med(row,'p50_ms'):>9.2f}{med(row,'p99_ms'):>9.2f}{med(row,'max_ms'):>9.1f}"
          f"{med(row,'p99_ms')/d99:>12.2f}{med(row,'ticker_peak_rss_kb')/1024:>15.1f}  {what}")
print()
n99 = med("nginx", "p99_ms")
lost = med("nginx", "frames_lost")
print(f"target: p99 <= 50 ms through nginx -> {n99:.1f} ms ({'met' if n99 <= 50 else 'NOT met'}); "
      f"frames lost by clients that keep up: target 0 -> {lost:.0f}")
print("delay = receipt time at the client - clock_timestamp() inside the INSERT … NOTIFY statement (one clock, same machine)")
PY
lost=$(python3 -c "import json,sys; print(sum(json.loads(l)['result']['frames_lost'] for l in open('$OUT')))")
[ "$lost" = 0 ] || { echo "ticker bench: $lost frames lost" >&2; exit 1; }
