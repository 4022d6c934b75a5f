"""Monitoring routes on the stack under test (demo data, a running monitor): each answer's shape
and values for rows these tests write with unique names, the 404 of an unknown module, range
and parameter validation, live Postgres figures, and 1,000 services in one health answer.

Rows are written straight into the monitor's tables (see monitor_routes_helpers) and deleted
after each test; totals over the whole stack are checked on the quiet stack instead
(test_monitor_routes_quiet.py)."""

import os
import re
import statistics
import subprocess
import time

import pytest

import helpers
from monitor_routes_helpers import mon, timed_get  # noqa: F401 (fixture)

ISO_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$"


def is_iso(value):
    return isinstance(value, str) and re.match(ISO_Z, value) is not None


# --- /api/monitoring/health ---------------------------------------------------------------------

def test_health_lists_each_active_service_with_its_status_and_open_alerts(mon):
    up, down, new, off = mon.name("up"), mon.name("down"), mon.name("new"), mon.name("off")
    mon.service(up, kind="http")
    mon.status(up, "healthy", response_ms=12.345, error_count=2, trend="improving", anomaly=True, message="HTTP 200")
    mon.service(down, kind="postgres", target="postgresql://ops:pw@127.0.0.1:1/ops")
    mon.status(down, "down", error_count=7, trend="degrading", message="connection refused")
    mon.alert("service_down", down, state="firing")
    mon.alert("db_connections", down, state="acknowledged")
    mon.alert("error_rate", down, state="resolved", resolved_ago_s=5)
    mon.service(new, kind="tcp")
    mon.service(off, kind="tcp", active=False)
    mon.status(off, "down")

    body = mon.get_json("/api/monitoring/health")
    assert set(body) >= {"status", "timestamp", "modules", "counts", "monitor", "warnings"}, body.keys()
    assert is_iso(body["timestamp"]) and body["status"] == "down", "a down service makes the whole down"
    modules = body["modules"]
    assert modules[up] == {"status": "healthy", "response_time_ms": 12.35, "error_count": 2, "kind": "http",
                           "trend": "improving", "anomaly": True, "checked_at": modules[up]["checked_at"],
                           "message": "HTTP 200", "active_alerts": 0}, modules[up]
    assert is_iso(modules[up]["checked_at"]), modules[up]
    assert (modules[down]["status"], modules[down]["error_count"], modules[down]["active_alerts"],
            modules[down]["response_time_ms"]) == ("down", 7, 2, None), \
        f"two open alerts (firing, acknowledged); the resolved one does not count: {modules[down]}"
    assert modules[new] == {"status": "unknown", "response_time_ms": None, "error_count": 0, "kind": "tcp",
                            "trend": None, "anomaly": False, "checked_at": None, "message": None,
                            "active_alerts": 0}, modules[new]
    assert off not in modules, "an inactive service is not listed"
    counts = body["counts"]
    assert sum(counts.values()) == len(modules) and counts["down"] >= 1 and counts["unknown"] >= 1, counts
    assert set(body["monitor"]) == {"active_instance", "heartbeat_at", "age_s", "stale"}, body["monitor"]
    assert any("have no status yet" in w for w in body["warnings"]), body["warnings"]


# --- /api/monitoring/health/module/{name} -------------------------------------------------------

def test_module_detail_has_config_status_raw_series_and_open_alerts(mon):
    name = mon.name("db")
    mon.service(name, kind="postgres", target="postgresql://ops:s3cret@127.0.0.1:5432/ops?sslpassword=x",
                interval_s=30, timeout_ms=2500, thresholds={"degraded_ms": 250})
    mon.status(name, "degraded", response_ms=300, error_count=1, consecutive_failures=1, trend="degrading",
               message="slow", metrics={"connections": 15, "max_connections": 100})
    mon.samples(name, [(600, "healthy", True, 10, None), (300, "down", False, None, None),
                       (60, "degraded", True, 300, None), (2 * 3600, "healthy", True, 20, None)])
    fired = mon.alert("latency_p95", name, state="firing", value=300, threshold=250)
    mon.alert("service_down", name, state="resolved", resolved_ago_s=30)

    body = mon.get_json(f"/api/monitoring/health/module/{name}")
    assert body["name"] == name and body["range"] == "1h" and body["resolution"] == "raw", body
    assert body["config"] == {"kind": "postgres", "target": "postgresql://ops:***@127.0.0.1:5432/ops?sslpassword=***",
                              "interval_s": 30, "timeout_ms": 2500, "thresholds": {"degraded_ms": 250},
                              "active": True, "updated_at": body["config"]["updated_at"]}, body["config"]
    s = body["status"]
    assert (s["status"], s["response_time_ms"], s["error_count"], s["consecutive_failures"], s["trend"], s["message"]) == \
        ("degraded", 300, 1, 1, "degrading", "slow"), s
    assert body["metrics"] == {"connections": 15, "max_connections": 100}, body["metrics"]
    assert [(p["status"], p["ok"], p["response_ms"]) for p in body["series"]] == \
        [("healthy", True, 10), ("down", False, None), ("degraded", True, 300)], "the last hour, oldest first"
    assert all(is_iso(p["ts"]) for p in body["series"]), body["series"]
    assert body["summary"] == {"samples": 3, "failures": 1, "uptime_pct": 66.67, "avg_ms": 155, "max_ms": 300}, body["summary"]
    assert [(a["id"], a["rule"], a["state"], a["value"], a["threshold"]) for a in body["alerts"]] == \
        [(fired, "latency_p95", "firing", 300, 250)], "open alerts only"

    six = mon.get_json(f"/api/monitoring/health/module/{name}", {"range": "6h"})
    assert len(six["series"]) == 4 and six["series"][0]["response_ms"] == 20, six["series"]


def test_module_hourly_series_reads_rollups_and_fills_later_hours_from_raw_samples(mon):
    name = mon.name("api")
    mon.service(name)
    mon.status(name, "healthy", response_ms=5)
    mon.rollups(name, [(5, 240, 0, 10, 40, 20), (4, 240, 12, 11, 41, 21), (3, 240, 0, 12, 42, 22),
                       (30, 240, 240, None, None, None)])
    # One raw sample inside the rolled-up hour 3 (must not count twice), two recent ones.
    mon.samples(name, [(3 * 3600 - 60, "healthy", True, 999, None), (30, "healthy", True, 6, None),
                       (40, "down", False, None, None)])

    body = mon.get_json(f"/api/monitoring/health/module/{name}", {"range": "24h"})
    assert body["resolution"] == "hour", body
    rolled = [p for p in body["series"] if not p["partial"]]
    raw = [p for p in body["series"] if p["partial"]]
    assert [(p["samples"], p["failures"], p["avg_ms"], p["max_ms"], p["p95_ms"]) for p in rolled] == \
        [(240, 0, 10, 40, 20), (240, 12, 11, 41, 21), (240, 0, 12, 42, 22)], "the rollups in range, oldest first"
    assert sum(p["samples"] for p in raw) == 2 and sum(p["failures"] for p in raw) == 1, raw
    assert all(p["max_ms"] != 999 for p in raw), "a raw sample inside a rolled-up hour is not counted again"
    assert [p["ts"] for p in body["series"]] == sorted(p["ts"] for p in body["series"]), "ordered by hour"
    assert body["summary"]["samples"] == 722 and body["summary"]["failures"] == 13, body["summary"]

    week = mon.get_json(f"/api/monitoring/health/module/{name}", {"range": "7d"})
    assert week["summary"]["samples"] == 962, "7d also holds the rollup of 30 h ago"


def test_an_unknown_module_is_404_with_the_known_names(mon):
    a, b = mon.name("a"), mon.name("b")
    mon.service(a)
    mon.service(b)
    resp = mon.get("/api/monitoring/health/module/" + mon.name("missing"))
    err = helpers.assert_error_envelope(resp, 404, "not_found")
    known = err["known"]
    assert known == sorted(known) and 1 <= len(known) <= 50, err
    if len(known) < 50:
        assert a in known and b in known and a in err["message"], err
    else:  # the first 50 names in order: ours are there unless 50 others sort before them
        assert a in known or known[-1] < a, err


@pytest.mark.parametrize("path,params,mentions", [
    ("/api/monitoring/health/module/x", {"range": "2h"}, "1h, 6h, 24h, 7d"),
    ("/api/monitoring/events", {"range": "30d"}, "1h, 6h, 24h, 7d"),
    ("/api/monitoring/events", {"range": ""}, "1h, 6h, 24h, 7d"),
    ("/api/monitoring/events/history", {"limit": "0"}, "1 to 500"),
    ("/api/monitoring/events/history", {"limit": "501"}, "1 to 500"),
    ("/api/monitoring/events/history", {"limit": "ten"}, "1 to 500"),
    ("/operator/system/errors", {"limit": "51"}, "1 to 50"),
    ("/api/monitoring/health", {"verbose": "1"}, "Unknown parameter"),
    ("/api/monitoring/database", {"x": ""}, "Unknown parameter"),
    ("/api/monitoring/cache/stats", {"key": "a"}, "accepted: service"),
    ("/operator/system/metrics", {"period": "5m"}, "Unknown parameter"),
    ("/operator/system/capacity", {"a": "b"}, "Unknown parameter"),
])
def test_bad_query_parameters_are_a_400_naming_what_is_accepted(mon, path, params, mentions):
    resp = mon.get(path, params)
    err = helpers.assert_error_envelope(resp, 400, "invalid_parameter")
    assert mentions in err["message"], err


# --- /operator/system/health --------------------------------------------------------------------

def test_operator_health_carries_each_kinds_figures(mon):
    pg, rd, hb, web = mon.name("pg"), mon.name("redis"), mon.name("queues"), mon.name("web")
    mon.service(pg, kind="postgres")
    mon.status(pg, "healthy", response_ms=2, metrics={"connections": 15, "max_connections": 100, "db_size_bytes": 1310720000})
    mon.service(rd, kind="redis")
    mon.status(rd, "healthy", response_ms=0.5, metrics={"connected_clients": 25, "used_memory_bytes": 2097152})
    mon.service(hb, kind="heartbeat", target="queue")
    mon.status(hb, "degraded", metrics={"components": 3, "stale": 1, "members": [
        {"component": "q1", "metrics": {"depth": 3}}, {"component": "q2", "metrics": {"depth": 4.5}},
        {"component": "q3", "metrics": {"depth": "lots"}}]})
    mon.service(web, kind="http")
    mon.status(web, "down", message="HTTP 503", metrics={"status_code": 503})

    body = mon.get_json("/operator/system/health")
    assert set(body) >= {"status", "components", "checked_at"} and body["status"] == "down", body
    c = body["components"]
    assert (c[pg]["status"], c[pg]["latency_ms"], c[pg]["connections"], c[pg]["max_connections"], c[pg]["db_size_mb"]) == \
        ("healthy", 2, 15, 100, 1250), c[pg]
    assert (c[rd]["connected_clients"], c[rd]["used_memory_mb"]) == (25, 2), c[rd]
    assert (c[hb]["queue_depth"], c[hb]["components"], c[hb]["stale_components"]) == (7.5, 3, 1), \
        f"depth summed over members with a numeric depth: {c[hb]}"
    assert (c[web]["status"], c[web]["status_code"], c[web]["message"]) == ("down", 503, "HTTP 503"), c[web]
    assert "connections" not in c[web] and "queue_depth" not in c[pg], "only the figures of the service's kind"
    assert is_iso(body["checked_at"]), body


# --- /api/monitoring/cache/stats ----------------------------------------------------------------

def test_cache_stats_of_a_named_redis_service(mon):
    name = mon.name("cache")
    mon.service(name, kind="redis", target="redis://:hunter2@127.0.0.1:6379")
    mon.status(name, "healthy", metrics={"hit_rate": 0.9, "keyspace_hits": 900, "keyspace_misses": 100,
                                          "used_memory_bytes": 5 * 1048576, "maxmemory_bytes": 0, "evicted_keys": 50,
                                          "connected_clients": 2, "ops_per_sec": 3})
    mon.samples(name, [(1, "healthy", True, 0.3, {"evicted_keys": 50}), (11, "healthy", True, 0.3, {"evicted_keys": 20})])
    body = mon.get_json("/api/monitoring/cache/stats", {"service": name})
    assert (body["service"], body["hit_rate"], body["miss_rate"], body["size_mb"], body["eviction_rate"]) == \
        (name, 90.0, 10.0, 5.0, 3.0), body
    assert is_iso(body["checked_at"]) and body["top_keys"] == [], body
    err = helpers.assert_error_envelope(mon.get("/api/monitoring/cache/stats", {"service": mon.name("nope")}), 404, "not_found")
    assert name in err["known"], err


# --- /api/monitoring/workers/status -------------------------------------------------------------

def test_workers_status_lists_each_component_with_its_freshness(mon):
    w, q = mon.name("worker"), mon.name("queue")
    mon.heartbeat(w, "worker", "healthy", ago_s=3, metrics={"cpu_pct": 12.5})
    mon.heartbeat(q, "queue", "healthy", ago_s=200, metrics={"depth": 42, "processing_rate": 1.5, "failed": 2})
    body = mon.get_json("/api/monitoring/workers/status")
    workers = {x["component"]: x for x in body["workers"]}
    queues = {x["component"]: x for x in body["queues"]}
    assert (workers[w]["health"], workers[w]["stale"], workers[w]["metrics"]) == ("healthy", False, {"cpu_pct": 12.5}), workers[w]
    assert 2 <= workers[w]["age_s"] < 30 and is_iso(workers[w]["ts"]), workers[w]
    assert (queues[q]["stale"], queues[q]["health"], queues[q]["depth"], queues[q]["processing_rate"], queues[q]["failed"]) == \
        (True, "down", 42, 1.5, 2), queues[q]
    assert body["worker_health"] in ("healthy", "degraded", "down") and body["stale_after_s"] == 90, body


# --- /api/monitoring/events and /events/history -------------------------------------------------

def test_event_types_are_counted_in_the_range_and_history_is_newest_first(mon):
    t1, t2 = mon.name("kind_one"), mon.name("kind_two")
    ids = mon.events([(7200, t1, {"n": 1}), (60, t1, {"n": 2}), (30, t1, {"n": 3}), (10, t2, {"n": 4, "s": "x"})])
    hour = mon.get_json("/api/monitoring/events")["event_types"]
    day = mon.get_json("/api/monitoring/events", {"range": "24h"})["event_types"]
    assert (hour.get(t1), hour.get(t2), day.get(t1)) == (2, 1, 3), (hour, day)

    recent = mon.get_json("/api/monitoring/events/history", {"limit": "500"})["events"]
    mine = [e for e in recent if e["type"] in (t1, t2)]
    assert [e["id"] for e in mine] == list(reversed(ids)), f"newest first: {mine}"
    assert mine[0] == {"id": ids[3], "ts": mine[0]["ts"], "type": t2, "data": {"n": 4, "s": "x"}}, mine[0]
    ids_seen = [e["id"] for e in recent]
    assert ids_seen == sorted(ids_seen, reverse=True) and len(recent) <= 500, "descending ids"
    two = mon.get_json("/api/monitoring/events/history", {"limit": "2"})["events"]
    newest = int(mon.sql("SELECT max(id) FROM ops.events"))
    assert len(two) == 2 and two[0]["id"] <= newest and two[0]["id"] > two[1]["id"], two


# --- /api/monitoring/database and /db/pool ------------------------------------------------------

def test_database_and_pool_see_live_sessions(mon):
    app = mon.name("holder")
    table = "e2e_lock_" + mon.prefix.replace("-", "_").strip("_")
    key = f"public.{table}"
    # 100,000 rows (a few MB): among the 20 largest tables of an empty or a demo database.
    mon.sql(f"CREATE TABLE {key} AS SELECT g AS x FROM generate_series(1, 100000) g; ANALYZE {key};")
    env = {**os.environ, "PGAPPNAME": app}
    holder = waiter = None
    try:
        holder = subprocess.Popen(["psql", mon.db_url, "-X", "-q", "-c",
                                   f"BEGIN; LOCK TABLE {key} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        waiter = subprocess.Popen(["psql", mon.db_url, "-X", "-q", "-c", f"SELECT count(*) FROM {key}"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def seen():
            pool = mon.get_json("/api/monitoring/db/pool")
            mine = [a for a in pool["by_application"] if a["application_name"] == app]
            return pool if mine and mine[0]["count"] == 2 and pool["waiting"] >= 1 else None
        pool = helpers.wait_until(seen, 5, what="both sessions of the test in /db/pool, one waiting for the lock")
        assert pool["total"] == sum(a["count"] for a in pool["by_application"]), pool
        assert pool["active"] >= 2 and pool["max"] >= pool["total"], pool
        assert pool["utilization"] == round(pool["total"] / pool["max"] * 100, 2), pool

        db = mon.get_json("/api/monitoring/database")
        cp = db["connection_pool"]
        assert cp["total"] >= cp["active"] + cp["idle"] + cp["idle_in_transaction"] and cp["active"] >= 2, cp
        assert db["query_performance"]["active_slow_queries"] >= 2, \
            f"the sleeping holder and the blocked reader run for more than 100 ms: {db['query_performance']}"
        assert any("locked" in w for w in db["warnings"]), \
            f"the exclusively locked table makes sizes fall back to estimates, not wait: {db['warnings']}"
        estimated = db["table_stats"].get(key)
        assert estimated and estimated["row_count"] == 100000 and estimated["size_mb"] > 1, db["table_stats"]
        assert db["db_size_mb"] > 0 and 0 < db["cache_hit_ratio"] <= 1, db
        assert isinstance(db["long_running_transactions"], int), db
    finally:
        # Ending the psql clients would leave their server sessions (and the lock) until
        # pg_sleep returns: end the sessions themselves.
        mon.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :'app'", app=app)
        for p in (holder, waiter):
            if p is not None:
                p.wait(10)
    helpers.wait_until(lambda: mon.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = :'app'",
                                       app=app) == "0", 5, what="the test's sessions gone")
    try:
        db = mon.get_json("/api/monitoring/database")
        assert not any("locked" in w for w in db["warnings"]), db["warnings"]
        exact_mb = float(mon.sql(f"SELECT round(pg_total_relation_size('{key}') / 1048576.0, 2)"))
        assert db["table_stats"][key] == {"row_count": 100000, "size_mb": exact_mb}, db["table_stats"][key]
        assert estimated["size_mb"] == pytest.approx(exact_mb, rel=0.1), "the estimate under the lock was close"
        sizes = [t["size_mb"] for t in db["table_stats"].values()]
        assert sizes == sorted(sizes, reverse=True) and len(sizes) <= 20, "largest first, at most 20"
    finally:
        mon.sql(f"DROP TABLE IF EXISTS {key}")


# --- /operator/system/errors --------------------------------------------------------------------

def test_errors_lists_recent_system_errors_and_failing_deliveries(mon):
    svc = mon.name("svc")
    mon.system_error(svc, "probe_failed", "first", ago_s=2)
    mon.system_error(svc, "probe_timeout", "second", ago_s=1)
    mon.outbox(mon.name("outbox"), last_error="HTTP 500", attempts=2, last_status=500)
    body = mon.get_json("/operator/system/errors", {"limit": "50"})
    mine = [e for e in body["errors"] if e["service"] == svc]
    assert [(e["type"], e["message"]) for e in mine] == [("probe_timeout", "second"), ("probe_failed", "first")], mine
    assert all(is_iso(e["timestamp"]) for e in mine), mine
    assert set(body["counts"]) == {"probe_failures_1h", "delivery_failures_1h", "auth_failures_1h",
                                   "ingest_failures_1h", "system_errors_1h"}, body["counts"]
    assert body["counts"]["system_errors_1h"] >= 2, body["counts"]
    assert any(d["last_error"] == "HTTP 500" and d["attempts"] == 2 for d in body["failing_deliveries"]), body


# --- scale ----------------------------------------------------------------------------------------

def test_health_answers_a_thousand_services(mon):
    mon.sql("""
        INSERT INTO ops.monitor_services (name, kind, target, interval_s, timeout_ms)
        SELECT :'p' || lpad(g::text, 4, '0'), 'http', 'http://127.0.0.1:9/' || g, 30, 1000 FROM generate_series(1, 1000) g;
        INSERT INTO ops.service_status (service, status, response_ms, error_count, metrics, checked_at)
        SELECT :'p' || lpad(g::text, 4, '0'),
               CASE WHEN g % 100 = 0 THEN 'down' WHEN g % 10 = 0 THEN 'degraded' ELSE 'healthy' END,
               g / 10.0, g % 3, '{"status_code": 200}', now()
        FROM generate_series(1, 1000) g;
        INSERT INTO ops.alerts (rule, severity, dedupe_key, title, service)
        SELECT 'service_down', 'critical', 'service_down:' || :'p' || lpad(g::text, 4, '0'), 'down', :'p' || lpad(g::text, 4, '0')
        FROM generate_series(100, 1000, 100) g;
        """, p=mon.prefix)
    timings = []
    for _ in range(7):
        resp, ms = timed_get(mon, "/api/monitoring/health")
        assert resp.status_code == 200, helpers.describe(resp)
        timings.append(ms)
    body = resp.json()
    mine = {k: v for k, v in body["modules"].items() if k.startswith(mon.prefix)}
    assert len(mine) == 1000, f"expected all 1,000 services, got {len(mine)}"
    statuses = [v["status"] for v in mine.values()]
    assert (statuses.count("healthy"), statuses.count("degraded"), statuses.count("down")) == (900, 90, 10), \
        "every 10th degraded, every 100th down"
    assert mine[mon.name("0500")]["response_time_ms"] == 50 and mine[mon.name("0500")]["active_alerts"] == 1
    assert mine[mon.name("0501")]["active_alerts"] == 0 and mine[mon.name("0501")]["error_count"] == 0
    assert body["status"] == "down"
    _, op_ms = timed_get(mon, "/operator/system/health")
    print(f"\n/api/monitoring/health with {len(body['modules'])} services: median {statistics.median(timings):.1f} ms "
          f"(min {min(timings):.1f}, max {max(timings):.1f}) through nginx; /operator/system/health {op_ms:.1f} ms")
