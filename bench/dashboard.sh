#!/usr/bin/env bash
# The dashboard's benchmark (issue 8): its own stack with the demo data, headless Chromium.
#   1. first load of /admin/ops/ with an empty cache: total transfer (HTML, JS, CSS, first API
#      answers; target < 150 KB) and time to a fully drawn dashboard (every panel has drawn its
#      first data; target < 1 s), next to the sign-in page's load in the same run (a static
#      page: the ceiling) — see bench/dashboard_bench.py;
#   2. TV mode (?tv=1, 1920x1080) for DASH_TV_MINUTES minutes while 20 events/s reach the
#      ticker: JS heap after a forced GC at start and end (target: growth < 10 MB).
#
# Environment: DASH_TV_MINUTES (10; 0 skips the TV run), BENCH_TV_EVENTS_PER_S (20),
# BENCH_DASHBOARD_LOADS (5), BENCH_DASHBOARD_PORT (a free port), OPSPLANE_BIN (as stack.sh).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
cd "$REPO"

export STATE=$REPO/.opsplane-bench-dashboard
export PORT=${BENCH_DASHBOARD_PORT:-$(pick_free_port)}
export DEMO=1
export DEMO_RATE=${DEMO_RATE:-1}
TV_MINUTES=${DASH_TV_MINUTES:-10}

teardown() { deploy/stack.sh down >/dev/null 2>&1 || true; }
trap teardown EXIT
deploy/stack.sh up >/dev/null 2>&1 || { echo "dashboard bench: the stack did not start (see $STATE/logs)" >&2; exit 1; }
set -a; . "$STATE/run.env"; set +a

python3 bench/dashboard_bench.py load
if [ "$TV_MINUTES" != 0 ]; then
  DASH_TV_MINUTES=$TV_MINUTES python3 bench/dashboard_bench.py tv
fi
