"""The dashboard's benchmark (issue 8), driven by bench/dashboard.sh against a stack with demo
data, in headless Chromium (Debian's chromium + chromedriver, selenium):

  load  first load of /admin/ops/ with an empty cache, BENCH_DASHBOARD_LOADS times (5):
        - total transfer: every response of the load until the dashboard is fully drawn (HTML,
          JS, CSS, API answers), bytes on the wire incl. headers (CDP Network.loadingFinished
          encodedDataLength), split by kind; the Resource Timing API's transferSize as a check;
        - time to fully drawn: the `ops-dashboard-drawn` performance mark app.js sets when every
          panel has drawn its first data (body[data-drawn=1]), from navigation start;
        - the ceiling of the same run: the sign-in page (static HTML+CSS+JS, no API) loaded the
          same way (its load event), and the slowest API answer of the load.
  tv    ?tv=1 at 1920x1080 for DASH_TV_MINUTES (10) while this script ingests runs so that the
        ticker gets BENCH_TV_EVENTS_PER_S (20) events/s on top of the demo's live activity; JS
        heap after a forced GC at start and end (CDP Runtime.getHeapUsage), DOM nodes and event
        listeners (CDP Memory.getDOMCounters), target growth < 10 MB.

usage: dashboard_bench.py load|tv   (environment: run.env of the stack)
"""

import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "e2e"))
from browser_helpers import new_browser, sign_in  # noqa: E402

URL = os.environ["OPS_URL"].rstrip("/")
ADMIN = os.environ["OPS_ADMIN_TOKEN"]
INGEST = os.environ["OPS_INGEST_TOKEN"]
KB = 1024.0
TARGET_BYTES = 150 * 1024
TARGET_DRAWN_MS = 1000
TARGET_HEAP_GROWTH = 10 * 1024 * 1024


def perf_log(driver):
    out = []
    for entry in driver.get_log("performance"):
        try:
            out.append(json.loads(entry["message"])["message"])
        except (KeyError, ValueError):
            pass
    return out


def wait_drawn(driver, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        mark = driver.execute_script(
            "const m = performance.getEntriesByName('ops-dashboard-drawn'); return m.length ? m[0].startTime : null")
        if mark is not None:
            return mark
        time.sleep(0.02)
    raise SystemExit(f"the dashboard was not fully drawn within {timeout} s (body[data-drawn] never set)")


def kind_of(url, rtype):
    if "/api/" in url:
        return "api"
    if rtype in ("Document", "Script", "Stylesheet"):
        return rtype.lower()
    return "other"


def cold_load(driver, path, drawn=True):
    """Loads path with an empty cache; returns (ms to drawn or load, {kind: bytes}, requests,
    resource-timing bytes, slowest API ms)."""
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    perf_log(driver)  # drop what came before
    driver.get(URL + path)
    if drawn:
        t = wait_drawn(driver)
    else:
        t = driver.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd")
    time.sleep(0.3)  # the last loadingFinished events of the drawn round
    reqs = {}
    for m in perf_log(driver):
        p = m.get("params", {})
        if m.get("method") == "Network.responseReceived":
            r = p["response"]
            reqs.setdefault(p["requestId"], {})["url"] = r["url"]
            reqs[p["requestId"]]["type"] = p.get("type", "")
            reqs[p["requestId"]]["ms"] = (r.get("timing") or {}).get("receiveHeadersEnd")
        elif m.get("method") == "Network.loadingFinished":
            reqs.setdefault(p["requestId"], {})["bytes"] = p.get("encodedDataLength", 0)
    by_kind = {}
    api_ms = []
    for r in reqs.values():
        if "bytes" not in r or "url" not in r or "/api/ws" in r["url"]:
            continue
        k = kind_of(r["url"], r.get("type", ""))
        by_kind[k] = by_kind.get(k, 0) + r["bytes"]
        if k == "api" and r.get("ms") is not None:
            api_ms.append(r["ms"])
    rt = driver.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        return (nav ? nav.transferSize : 0) + performance.getEntriesByType('resource')
          .filter(e => e.startTime <= (performance.getEntriesByName('ops-dashboard-drawn')[0] || {startTime: 1e12}).startTime + 1)
          .reduce((a, e) => a + e.transferSize, 0)""")
    if drawn:
        marks = driver.execute_script("return performance.getEntriesByType('mark')"
                                      ".filter(m => m.name.startsWith('ops-')).map(m => [m.name.replace('ops-panel-drawn:', ''), m.startTime])")
        by_kind["_panels"] = marks
    return t, by_kind, len([r for r in reqs.values() if "bytes" in r]), rt, (max(api_ms) if api_ms else None)


def bench_load():
    loads = int(os.environ.get("BENCH_DASHBOARD_LOADS", "5"))
    with new_browser(1440, 900, perf_log=True) as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        sign_in(driver, URL, ADMIN)
        rows, ceilings = [], []
        for i in range(loads):
            # Interleaved, so a slow moment of the machine hits both alike.
            ceilings.append(cold_load(driver, "/admin/ops/login", drawn=False)[0])
            rows.append(cold_load(driver, "/admin/ops/"))
        panels = [r[1].pop("_panels") for r in rows]
        drawn = [r[0] for r in rows]
        total = [sum(r[1].values()) for r in rows]
        med = statistics.median
        last = rows[-1][1]
        print("dashboard first load (empty cache, headless Chromium, demo data), "
              f"median of {loads} loads:")
        print(f"  total transfer   {med(total) / KB:8.1f} KB   target < {TARGET_BYTES / KB:.0f} KB   "
              f"({'ok' if med(total) < TARGET_BYTES else 'OVER'}; ratio {med(total) / TARGET_BYTES:.2f})")
        print("    by kind        " + ", ".join(f"{k} {v / KB:.1f} KB" for k, v in sorted(last.items())) +
              f"; {rows[-1][2]} responses; Resource Timing transferSize {rows[-1][3] / KB:.1f} KB")
        print(f"  fully drawn      {med(drawn):8.0f} ms   target < {TARGET_DRAWN_MS} ms   "
              f"({'ok' if med(drawn) < TARGET_DRAWN_MS else 'OVER'}; min {min(drawn):.0f}, max {max(drawn):.0f})")
        slow = [r[4] for r in rows if r[4] is not None]
        names = [n for n, _ in panels[-1]]
        per_panel = {n: med([dict(p).get(n, 0) for p in panels]) for n in names}
        print("    panels drawn at (median ms) " + ", ".join(f"{n} {v:.0f}" for n, v in per_panel.items()))
        print(f"  ceiling (same run): sign-in page (static, no API) load {med(ceilings):.0f} ms "
              f"-> drawn/static {med(drawn) / max(med(ceilings), 1):.1f}x; slowest API answer of a load "
              f"{med(slow):.0f} ms (median)" if slow else "")


# TV mode -------------------------------------------------------------------------------------

class Ingester(threading.Thread):
    """Posts runs so that the ticker gets `rate` events a second: each tick starts rate/2 runs
    (run_started) and finishes the ones started in the previous tick (run_success/run_failed)."""

    def __init__(self, rate):
        super().__init__(daemon=True)
        self.rate = rate
        self.stop = threading.Event()
        self.sent_events = 0
        self.errors = 0
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"})

    def run(self):
        tick = 0.5
        per_tick = max(1, int(round(self.rate * tick / 2)))
        prev = []
        prefix = "tvbench-" + uuid.uuid4().hex[:6]
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            now = datetime.now(timezone.utc)
            iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # noqa: E731
            recs = []
            for run_id, started in prev:
                status = "failed" if n % 17 == 0 else "success"
                recs.append({"kind": "run", "run_id": run_id, "agent_id": f"agent-{n % 36 + 1}", "status": status,
                             "created_at": iso(started), "started_at": iso(started), "finished_at": iso(now),
                             "duration_ms": int((now - started).total_seconds() * 1000), "cost_usd": 0.001,
                             "user_id": f"user-{n % 60 + 1}"})
            prev = []
            for _ in range(per_tick):
                n += 1
                run_id = f"{prefix}-{n}"
                prev.append((run_id, now))
                recs.append({"kind": "run", "run_id": run_id, "agent_id": f"agent-{n % 36 + 1}", "status": "running",
                             "created_at": iso(now), "started_at": iso(now), "user_id": f"user-{n % 60 + 1}"})
            try:
                r = self.http.post(URL + "/api/ops/ingest", data=json.dumps(recs), timeout=10)
                if r.status_code == 200:
                    self.sent_events += len(recs)
                else:
                    self.errors += 1
            except requests.RequestException:
                self.errors += 1
            next_at += tick
            self.stop.wait(max(0, next_at - time.monotonic()))


def heap(driver):
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    used = driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"]
    counters = driver.execute_cdp_cmd("Memory.getDOMCounters", {})
    rows = driver.execute_script("return document.querySelectorAll('#panel-ticker li').length")
    return used, counters, rows


def max_event_id():
    r = requests.get(URL + "/api/monitoring/events/history?limit=1", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    ev = r.json().get("events") or []
    return ev[0]["id"] if ev else 0


def bench_tv():
    minutes = float(os.environ.get("DASH_TV_MINUTES", "10"))
    rate = float(os.environ.get("BENCH_TV_EVENTS_PER_S", "20"))
    with new_browser(1920, 1080) as driver:
        sign_in(driver, URL, ADMIN)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
        driver.get(URL + "/admin/ops/?tv=1")
        wait_drawn(driver)
        driver.execute_cdp_cmd("HeapProfiler.enable", {})
        ingester = Ingester(rate)
        ingester.start()
        # Let the ticker fill to its cap before the first sample: the start is the steady state's floor.
        time.sleep(20)
        start_id = max_event_id()
        t0 = time.time()
        h0 = heap(driver)
        print(f"dashboard TV mode, {minutes:g} min, {rate:g} events/s ingested by the bench "
              "(plus the demo's live activity):")
        print(f"  start  heap {h0[0] / 1048576:7.2f} MB  nodes {h0[1]['nodes']:6d}  listeners "
              f"{h0[1]['jsEventListeners']:5d}  ticker rows {h0[2]}")
        samples = [h0[0]]
        end = t0 + minutes * 60
        while time.time() < end:
            time.sleep(min(60, max(0, end - time.time())))
            h = heap(driver)
            samples.append(h[0])
            print(f"  {int((time.time() - t0) / 60):3d} min heap {h[0] / 1048576:7.2f} MB  nodes {h[1]['nodes']:6d}  "
                  f"listeners {h[1]['jsEventListeners']:5d}  ticker rows {h[2]}", flush=True)
        ingester.stop.set()
        ingester.join(5)
        h1 = heap(driver)
        events = max_event_id() - start_id
        secs = time.time() - t0
        growth = h1[0] - h0[0]
        drawn = driver.execute_script("return document.body.dataset.live")
        print(f"  end    heap {h1[0] / 1048576:7.2f} MB  nodes {h1[1]['nodes']:6d}  listeners "
              f"{h1[1]['jsEventListeners']:5d}  ticker rows {h1[2]}")
        print(f"  heap growth {growth / 1048576:+.2f} MB   target < {TARGET_HEAP_GROWTH / 1048576:.0f} MB   "
              f"({'ok' if growth < TARGET_HEAP_GROWTH else 'OVER'}); peak {max(samples) / 1048576:.2f} MB")
        print(f"  events in the window: {events} ({events / secs:.1f}/s, all sources); bench ingest errors "
              f"{ingester.errors}; WebSocket state at the end: {drawn}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "load"
    if what == "load":
        bench_load()
    elif what == "tv":
        bench_tv()
    else:
        raise SystemExit(__doc__)
