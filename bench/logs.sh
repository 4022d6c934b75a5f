#!/usr/bin/env bash
# Log tails (issue 7, "Performance"): GET /api/ops/logs?tail=200 on a 1 GiB log file, next to
# GNU `tail -n 200` on the same file, and the same client's hello-world request (the
# transport floor), medians of BENCH_LOGS_RUNS sequential requests. Also a 1 MiB file, to
# show the time does not depend on the file's size.
#
# Its own stack (STATE=.opsplane-bench-logs, DEMO=0, MONITOR=0): with no demo running, the
# allowlisted `demo` service's file (logs/demo.log) is free to hold the big file.
# Knobs: BENCH_LOGS_SIZE_MB (1024), BENCH_LOGS_RUNS (50).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
say() { printf 'bench-logs: %s\n' "$*" >&2; }
die() { printf 'bench-logs: error: %s\n' "$*" >&2; exit 1; }
SIZE_MB=${BENCH_LOGS_SIZE_MB:-1024}
RUNS=${BENCH_LOGS_RUNS:-50}

export STATE=${BENCH_LOGS_STATE:-$REPO/.opsplane-bench-logs}
export PORT=${BENCH_LOGS_PORT:-$(pick_free_port)}
export DEMO=0 MONITOR=0
trap 'say "stopping the bench stack"; "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || true; rm -f "$STATE/logs/demo.log"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$STATE"
say "starting a stack: STATE=$STATE PORT=$PORT"
"$REPO/deploy/stack.sh" up 2>"$STATE/bench-up.log" || { cat "$STATE/bench-up.log" >&2; die "deploy/stack.sh up failed"; }

python3 - "$STATE" "$SIZE_MB" "$RUNS" <<'PY'
import json, os, statistics, subprocess, sys, time
import urllib.request
state, size_mb, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(state, "run.env")) if "=" in l and not l.startswith("#"))
url, token = env["OPS_URL"], env["OPS_ADMIN_TOKEN"]
path = os.path.join(state, "logs", "demo.log")

def write_file(mb):
    line = ('{"ts":"2026-11-22T03:%02d:%02d.%03dZ","level":"info","msg":"request","component":"fcgi",'
            '"request_id":"d4335d3595ad21170c68890bfdad131c","method":"GET","path":"/api/ops/summary","status":200,"dur_ms":1.25}\n')
    block = "".join(line % (i // 60 % 60, i % 60, i % 1000) for i in range(4000)).encode()
    t0 = time.time()
    with open(path, "wb") as f:
        written = 0
        while written < mb << 20:
            f.write(block); written += len(block)
    return os.path.getsize(path), time.time() - t0

import http.client
conn = http.client.HTTPConnection(url.split("//")[1])
def get(p, auth=True):
    t0 = time.perf_counter()
    conn.request("GET", p, headers={"Authorization": "Bearer " + token} if auth else {})
    r = conn.getresponse(); body = r.read()
    assert r.status == 200, (p, r.status, body[:200])
    return time.perf_counter() - t0, body

def med(f):
    for _ in range(3): f()   # warm-up
    return statistics.median(f() for _ in range(runs)) * 1000

def tail_cmd():
    t0 = time.perf_counter()
    out = subprocess.run(["tail", "-n", "200", path], capture_output=True, check=True).stdout
    return time.perf_counter() - t0

rows = []
for mb in (1, size_mb):
    size, secs = write_file(mb)
    subprocess.run(["sync"])
    # Same lines as tail?
    _, plain = get("/api/ops/logs?service=demo&tail=200&format=plain")
    expected = subprocess.run(["tail", "-n", "200", path], capture_output=True, check=True).stdout
    assert plain == expected, "the API's plain tail differs from GNU tail"
    rows.append((f"{size / (1 << 20):,.0f} MiB", med(tail_cmd),
                 med(lambda: get("/api/ops/logs?service=demo&tail=200&format=plain")[0]),
                 med(lambda: get("/api/ops/logs?service=demo&tail=200")[0]),
                 med(lambda: get("/api/ops/ping", auth=False)[0]),
                 med(lambda: get("/api/ops/whoami")[0])))
print(f"Log tail bench: 200 lines, medians of {runs} sequential requests (one keep-alive client), ms")
print(f"{'file':>10} {'GNU tail':>9} {'API plain':>10} {'API json':>9} {'plain/tail':>11} {'hello':>7} {'gated hello':>12}")
for name, t, p, j, h, w in rows:
    print(f"{name:>10} {t:9.2f} {p:10.2f} {j:9.2f} {p / t:11.2f} {h:7.2f} {w:12.2f}")
print("target: API plain within 2x of GNU tail; 'gated hello' (whoami: auth_request + FastCGI) is the floor every admin route pays")
PY
