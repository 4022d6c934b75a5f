"""Monitoring routes on a stack of their own (no demo data, no monitor, no ticker): first
every route on an empty database (zeros and warnings, never a 500), then the totals and
overall statuses that only an otherwise silent database can pin down exactly.

Each test starts from emptied monitor and ledger tables (the `quiet` fixture)."""

import pytest

import helpers
from activity_helpers import wait_away_from_midnight
from monitor_routes_helpers import quiet_stack, quiet  # noqa: F401 (fixtures)

GIB = 1024 ** 3


def warnings_of(body, what):
    w = body.get("warnings")
    assert isinstance(w, list) and all(isinstance(x, str) and x for x in w), \
        f"{what}: 'warnings' must be a list of strings, got {w!r}"
    return w


def mentions(warnings, *words):
    return any(all(word.lower() in w.lower() for word in words) for w in warnings)


# --- empty database -----------------------------------------------------------------------------

def test_every_route_answers_zeros_and_warnings_on_an_empty_database(quiet):
    health = quiet.get_json("/api/monitoring/health")
    assert health["status"] == "unknown" and health["modules"] == {}, health
    assert health["counts"] == {"healthy": 0, "degraded": 0, "down": 0, "unknown": 0}, health
    assert health["monitor"]["stale"] is True and health["monitor"]["active_instance"] is None, health
    w = warnings_of(health, "health")
    assert mentions(w, "no services") and mentions(w, "monitor"), w

    resp = quiet.get("/api/monitoring/health/module/postgres")
    err = helpers.assert_error_envelope(resp, 404, "not_found")
    assert err.get("known") == [], f"an empty database knows no service: {err}"

    db = quiet.get_json("/api/monitoring/database")
    assert db["connection_pool"]["total"] >= 1 and db["connection_pool"]["max"] > 0, db
    assert db["table_stats"].get("ops.runs", {}).get("row_count") == 0, db["table_stats"]
    # The embedded stack loads pg_stat_statements (deploy/lib-pg.sh): statement figures come from it.
    qp = db["query_performance"]
    assert qp["source"] == "pg_stat_statements" and qp["avg_query_time_ms"] >= 0 and qp["slow_queries"] >= 0, qp
    assert not mentions(warnings_of(db, "database"), "pg_stat_statements"), db["warnings"]

    pool = quiet.get_json("/api/monitoring/db/pool")
    assert pool["total"] >= 1 and pool["max"] > 0, pool
    warnings_of(pool, "db/pool")

    cache = quiet.get_json("/api/monitoring/cache/stats")
    for key in ("hit_rate", "miss_rate", "size_mb", "eviction_rate"):
        assert cache[key] == 0, f"cache {key} without a Redis service: {cache}"
    assert cache["top_keys"] == [] and cache["service"] is None and cache["checked_at"] is None, cache
    assert mentions(warnings_of(cache, "cache"), "no redis"), cache["warnings"]

    workers = quiet.get_json("/api/monitoring/workers/status")
    assert (workers["active_workers"], workers["queue_length"], workers["processing_rate"], workers["failed_tasks"]) == (0, 0, 0, 0), workers
    assert workers["worker_health"] == "unknown" and workers["workers"] == [] and workers["queues"] == [], workers
    w = warnings_of(workers, "workers")
    assert mentions(w, "worker heartbeats") and mentions(w, "queue heartbeats"), w

    events = quiet.get_json("/api/monitoring/events")
    assert (events["events_emitted"], events["events_received"], events["failed_deliveries"]) == (0, 0, 0), events
    assert events["event_types"] == {} and events["tickers"] == [] and events["range"] == "1h", events
    assert events["event_latency_ms"] == {"p50": None, "p95": None, "p99": None, "last_ms": None}, events
    w = warnings_of(events, "events")
    assert mentions(w, "no live ticker") and mentions(w, "no events"), w

    history = quiet.get_json("/api/monitoring/events/history")
    assert history["events"] == [] and warnings_of(history, "history"), history

    oh = quiet.get_json("/operator/system/health")
    assert oh["status"] == "unknown" and oh["components"] == {} and oh["checked_at"] is None, oh
    assert oh["deliveries"] == {"pending": 0, "failing": 0, "oldest_pending_s": None}, oh
    assert mentions(warnings_of(oh, "operator health"), "no services"), oh["warnings"]

    metrics = quiet.get_json("/operator/system/metrics")
    assert all(v == 0 for v in metrics["throughput"].values()), metrics
    assert metrics["latency"] == {"api_p50_ms": None, "api_p95_ms": None, "api_p99_ms": None}, metrics
    assert metrics["period"] == "last_60_seconds", metrics
    assert mentions(warnings_of(metrics, "metrics"), "access log"), metrics["warnings"]

    cap = quiet.get_json("/operator/system/capacity")
    assert cap["disk"]["total_volume_gb"] == 0 and cap["disk"]["directories"] == [], cap
    assert cap["memory"]["total_gb"] == 0 and cap["load"]["load1"] == 0 and cap["sampled_at"] is None, cap
    assert cap["postgres"]["db_size_mb"] > 0 and cap["postgres"]["connections_max"] > 0, cap
    assert mentions(warnings_of(cap, "capacity"), "no capacity sample"), cap["warnings"]

    agg = quiet.get_json("/operator/system/aggregates")
    assert agg["agents"] == {"total": 0, "scheduled": 0}, agg
    assert agg["runs"] == {"today": 0, "running": 0, "queued": 0, "failed_today": 0}, agg
    assert agg["users"] == {"active_24h": 0}, agg
    assert agg["alerts"] == {"open": 0, "acknowledged": 0, "closed_today": 0, "triggered_today": 0}, agg
    assert agg["tokens"]["active"] == 3 and agg["tokens"]["revoked"] == 0, f"the stack's three tokens: {agg}"

    errors = quiet.get_json("/operator/system/errors")
    assert errors["errors"] == [] and errors["failing_deliveries"] == [], errors
    assert all(v == 0 for v in errors["counts"].values()), errors
    assert mentions(warnings_of(errors, "errors"), "no errors"), errors["warnings"]


# --- health: overall status and the monitor's heartbeat -----------------------------------------

def test_overall_status_is_the_worst_known_one_and_unknown_alone_stays_unknown(quiet):
    a, b, c, d = (quiet.name(x) for x in "abcd")
    quiet.service(a)
    quiet.service(b)

    def overall():
        h = quiet.get_json("/api/monitoring/health")
        o = quiet.get_json("/operator/system/health")
        assert o["status"] == h["status"], f"the two health routes disagree: {h['status']} vs {o['status']}"
        return h

    h = overall()
    assert h["status"] == "unknown" and h["counts"]["unknown"] == 2, h
    assert mentions(h["warnings"], "2 of 2"), h["warnings"]

    quiet.status(a, "healthy", response_ms=5)
    h = overall()
    assert h["status"] == "healthy" and h["counts"] == {"healthy": 1, "degraded": 0, "down": 0, "unknown": 1}, h
    assert mentions(h["warnings"], "1 of 2"), h["warnings"]

    quiet.service(c)
    quiet.status(c, "degraded", response_ms=900)
    assert overall()["status"] == "degraded"

    quiet.service(d, active=False)  # an inactive service does not count, even when down
    quiet.status(d, "down")
    h = overall()
    assert h["status"] == "degraded" and d not in h["modules"], h

    quiet.status(b, "down", message="connect: refused")
    h = overall()
    assert h["status"] == "down" and h["counts"] == {"healthy": 1, "degraded": 1, "down": 1, "unknown": 0}, h


def test_the_monitor_is_stale_without_a_fresh_heartbeat_of_an_active_instance(quiet):
    quiet.monitor_instance(quiet.name("standby"), active=False, ago_s=1)
    m = quiet.get_json("/api/monitoring/health")["monitor"]
    assert m["stale"] is True and m["active_instance"] is None, f"a standby alone is no active monitor: {m}"

    quiet.monitor_instance(quiet.name("old"), active=True, ago_s=20)
    h = quiet.get_json("/api/monitoring/health")
    assert h["monitor"]["stale"] is True and h["monitor"]["active_instance"] == quiet.name("old"), h["monitor"]
    assert 19 <= h["monitor"]["age_s"] < 40, h["monitor"]
    assert mentions(h["warnings"], "no active monitor has reported"), h["warnings"]

    quiet.monitor_instance(quiet.name("new"), active=True, ago_s=1)
    h = quiet.get_json("/api/monitoring/health")
    assert h["monitor"]["stale"] is False and h["monitor"]["active_instance"] == quiet.name("new"), h["monitor"]
    assert not mentions(h["warnings"], "no active monitor"), h["warnings"]


# --- workers ------------------------------------------------------------------------------------

def test_worker_and_queue_totals_count_fresh_heartbeats_only(quiet):
    w1, w2, w3 = quiet.name("w1"), quiet.name("w2"), quiet.name("w3")
    quiet.heartbeat(w1, "worker", "healthy", ago_s=2, metrics={"jobs_in_flight": 3})
    quiet.heartbeat(w2, "worker", "degraded", ago_s=5)
    quiet.heartbeat(w3, "worker", "healthy", ago_s=120)
    quiet.heartbeat(quiet.name("q1"), "queue", ago_s=3, metrics={"depth": 10, "processing_rate": 2.5, "failed": 1})
    quiet.heartbeat(quiet.name("q2"), "queue", ago_s=3, metrics={"depth": 5, "processing_rate": 1, "failed": 0})
    quiet.heartbeat(quiet.name("q3"), "queue", ago_s=300, metrics={"depth": 1000, "processing_rate": 50, "failed": 9})
    quiet.heartbeat(quiet.name("m1"), "model", ago_s=1, metrics={"depth": 77})

    body = quiet.get_json("/api/monitoring/workers/status")
    assert body["active_workers"] == 2 and body["total_workers"] == 3, body
    assert body["worker_health"] == "degraded", body
    assert body["queue_length"] == 15 and body["processing_rate"] == 3.5 and body["failed_tasks"] == 1, \
        f"totals over the two fresh queues (the stale one and the model left out): {body}"
    workers = {w["component"]: w for w in body["workers"]}
    assert set(workers) == {w1, w2, w3}, body["workers"]
    assert workers[w1]["health"] == "healthy" and workers[w1]["stale"] is False and workers[w1]["metrics"] == {"jobs_in_flight": 3}
    assert workers[w2]["health"] == "degraded" and workers[w2]["status"] == "degraded"
    assert workers[w3]["stale"] is True and workers[w3]["health"] == "down" and workers[w3]["age_s"] >= 119, workers[w3]
    queues = {q["component"]: q for q in body["queues"]}
    assert queues[quiet.name("q3")]["stale"] is True and queues[quiet.name("q3")]["depth"] == 1000, queues
    assert queues[quiet.name("q1")]["processing_rate"] == 2.5 and queues[quiet.name("q1")]["failed"] == 1, queues
    assert mentions(body["warnings"], "1 worker(s)") and mentions(body["warnings"], "1 queue(s) are stale"), body["warnings"]

    quiet.sql("UPDATE ops.heartbeats SET ts = now() - interval '10 minutes' WHERE component_type = 'worker'")
    assert quiet.get_json("/api/monitoring/workers/status")["worker_health"] == "down"
    quiet.sql("UPDATE ops.heartbeats SET ts = now(), status = 'ok' WHERE component_type = 'worker'")
    body = quiet.get_json("/api/monitoring/workers/status")
    assert body["worker_health"] == "healthy" and body["active_workers"] == 3, body


# --- events -------------------------------------------------------------------------------------

def test_event_counts_per_range_and_what_the_live_ticker_received(quiet):
    ids = quiet.events([(30 * 3600, "agent_created", {"n": 1}),
                        (2 * 3600, "run_failed", {"n": 2}), (3 * 3600, "run_failed", {"n": 3}),
                        (600, "run_started", {"n": 4}), (300, "run_started", {"n": 5}), (60, "run_started", {"n": 6})])
    # A live ticker has read up to the 5th event; a dead one (60 s without an update) is ignored.
    quiet.ticker(quiet.name("live"), ago_s=2, frames_sent=40, frames_dropped=4, slow_disconnects=1,
                 last_event_id=ids[4], lag_ms=7, clients=3)
    quiet.ticker(quiet.name("dead"), ago_s=60, frames_sent=999, frames_dropped=100, slow_disconnects=50,
                 last_event_id=ids[5], lag_ms=5000)

    expected = {"1h": (3, {"run_started": 3}), "6h": (5, {"run_started": 3, "run_failed": 2}),
                "24h": (5, {"run_started": 3, "run_failed": 2}),
                "7d": (6, {"run_started": 3, "run_failed": 2, "agent_created": 1})}
    for rng, (emitted, types) in expected.items():
        body = quiet.get_json("/api/monitoring/events", {"range": rng})
        assert body["range"] == rng and body["events_emitted"] == emitted and body["event_types"] == types, (rng, body)
        assert body["events_received"] == emitted - 1, f"{rng}: the newest event is beyond the live ticker: {body}"
        assert list(body["event_types"].values()) == sorted(types.values(), reverse=True), "types by count, descending"
    body = quiet.get_json("/api/monitoring/events", {"range": "7d"})
    assert body["failed_deliveries"] == 5 and body["frames_sent"] == 40 and body["clients"] == 3, body
    assert body["event_latency_ms"]["last_ms"] == 7, body
    assert [t["instance"] for t in body["tickers"]] == [quiet.name("live")], body["tickers"]
    assert [t["instance"] for t in body["stale_tickers"]] == [quiet.name("dead")], body["stale_tickers"]

    history = quiet.get_json("/api/monitoring/events/history", {"limit": "4"})["events"]
    assert [e["id"] for e in history] == [ids[5], ids[4], ids[3], ids[2]], f"newest (highest id) first: {history}"
    assert history[0]["type"] == "run_started" and history[0]["data"] == {"n": 6}, history[0]
    assert len(quiet.get_json("/api/monitoring/events/history")["events"]) == 6


# --- operator metrics ---------------------------------------------------------------------------

def histogram_bounds():
    """LatencyHistogram.boundsMillis (OpsMonitorCore/Performance/LatencyHistogram.swift)."""
    bounds = [0.25, 0.5, 0.75]
    b = 1.0
    while b <= 60_000:
        bounds.append(round(b * 100) / 100)
        b *= 1.19
    return bounds


def test_throughput_and_latency_over_the_last_minute(quiet):
    quiet.start_early_in_a_minute()
    quiet.sql("""
        INSERT INTO ops.runs (run_id, agent_id, status, created_at)
        SELECT :'p' || 'r' || g, 'a', 'success', now() - interval '10 seconds' FROM generate_series(1, 6) g;
        INSERT INTO ops.runs (run_id, agent_id, status, created_at)
        SELECT :'p' || 'old' || g, 'a', 'success', now() - interval '5 minutes' FROM generate_series(1, 5) g;
        INSERT INTO ops.llm_calls (id, ts, provider, model)
        SELECT :'p' || 'c' || g, now() - interval '5 seconds', 'openai', 'm' FROM generate_series(1, 3) g;
        INSERT INTO ops.heartbeat_samples (component, ts, status)
        SELECT :'p' || 'h', now() - make_interval(secs => g), 'healthy' FROM generate_series(1, 3) g;
        """, p=quiet.prefix)
    quiet.events([(5, "run_started", {})] * 6 + [(600, "run_started", {})] * 3)
    for _ in range(3):
        quiet.alert("error_rate", quiet.name("api"), first_ago_s=10)
    quiet.alert("error_rate", quiet.name("api"), first_ago_s=600)
    for i in range(6):
        quiet.outbox(quiet.name(f"sent{i}"), sent_ago_s=5)
    quiet.outbox(quiet.name("sent-old"), sent_ago_s=300)
    bounds = histogram_bounds()
    bucket = 20  # every request of the minute in one bucket: (bounds[19], bounds[20]] ms
    hist = [0] * (len(bounds) + 1)
    hist[bucket] = 90
    quiet.api_minute(1, "/api/ops/summary", 60, errors=3, latency_hist=hist[:])
    hist30 = [0] * (len(bounds) + 1)
    hist30[bucket] = 30
    quiet.api_minute(1, "/api/ops/top", 30, latency_hist=hist30)
    quiet.api_minute(1, "static", 5000, latency_hist=[0, 5000])
    quiet.api_minute(0, "/api/ops/summary", 777)   # the current, incomplete minute
    quiet.api_minute(2, "/api/ops/summary", 888)
    quiet.access_cursor(ago_s=2)

    body = quiet.get_json("/operator/system/metrics")
    t = body["throughput"]
    assert t["ingest_rate_per_sec"] == pytest.approx(12 / 60, abs=1e-3), f"6 runs + 3 calls + 3 heartbeats in 60 s: {t}"
    assert t["event_rate_per_sec"] == pytest.approx(6 / 60, abs=1e-3), t
    assert t["alert_rate_per_sec"] == pytest.approx(3 / 60, abs=1e-3), t
    assert t["delivery_rate_per_sec"] == pytest.approx(6 / 60, abs=1e-3), t
    assert t["request_rate_per_sec"] == pytest.approx(90 / 60, abs=1e-3), \
        f"90 API requests in the last complete minute (static files, other minutes left out): {t}"
    lower, upper = bounds[bucket - 1], bounds[bucket]
    for key, p in (("api_p50_ms", 0.5), ("api_p95_ms", 0.95), ("api_p99_ms", 0.99)):
        assert body["latency"][key] == pytest.approx(lower + (upper - lower) * p, abs=0.01), (key, body["latency"])
    assert body["errors"] == {"api_5xx": 3, "api_error_rate": pytest.approx(3.33, abs=0.01)}, body["errors"]
    assert not mentions(body["warnings"], "access log"), body["warnings"]

    quiet.sql("UPDATE ops.access_log_cursor SET updated_at = now() - interval '10 minutes'")
    assert mentions(quiet.get_json("/operator/system/metrics")["warnings"], "access-log tail"), "a stalled tail is reported"


# --- operator capacity --------------------------------------------------------------------------

def sample(total_gb, used_gb, pg_gb):
    disk = {"root": {"path": "/", "total_bytes": total_gb * GIB, "used_bytes": used_gb * GIB,
                     "free_bytes": (total_gb - used_gb) * GIB, "used_pct": round(used_gb / total_gb * 100, 2)},
            "directories": [{"name": "postgres", "path": "/var/lib/pg", "total_bytes": total_gb * GIB,
                             "used_bytes": used_gb * GIB, "free_bytes": (total_gb - used_gb) * GIB,
                             "used_pct": round(used_gb / total_gb * 100, 2), "size_bytes": pg_gb * GIB},
                            {"name": "logs", "path": "/var/log/ops", "total_bytes": total_gb * GIB,
                             "used_bytes": used_gb * GIB, "free_bytes": (total_gb - used_gb) * GIB,
                             "used_pct": round(used_gb / total_gb * 100, 2), "size_bytes": GIB // 4}]}
    memory = {"total_bytes": 8 * GIB, "available_bytes": 6 * GIB, "used_bytes": 2 * GIB, "used_pct": 25.0,
              "monitor_rss_bytes": 30 * 1024 * 1024}
    load = {"load1": 1.5, "load5": 1.0, "load15": 0.5, "cpus": 2}
    return disk, memory, load


def test_capacity_reads_the_newest_sample_in_the_seeds_units(quiet):
    quiet.capacity(*sample(100, 90, 50), ago_s=60)
    quiet.capacity(*sample(100, 40, 12.5), ago_s=5)
    body = quiet.get_json("/operator/system/capacity")
    d = body["disk"]
    assert (d["total_volume_gb"], d["used_gb"], d["free_gb"], d["used_pct"]) == (100, 40, 60, 40), d
    assert d["postgres_data_gb"] == 12.5 and d["logs_data_gb"] == 0.25, d
    assert [x["name"] for x in d["directories"]] == ["postgres", "logs"], d["directories"]
    assert body["memory"] == {"total_gb": 8, "used_gb": 2, "available_gb": 6, "used_pct": 25, "monitor_rss_mb": 30}, body
    assert body["load"] == {"load1": 1.5, "load5": 1.0, "load15": 0.5, "cpus": 2, "load1_per_cpu": 0.75}, body
    assert 4 <= body["age_s"] < 30 and body["warnings"] == [], body
    pg = body["postgres"]
    assert pg["connections_used"] >= 1 and pg["connections_max"] > pg["connections_used"] and pg["db_size_mb"] > 0, pg

    quiet.sql("UPDATE ops.capacity_samples SET ts = ts - interval '10 minutes'")
    assert mentions(quiet.get_json("/operator/system/capacity")["warnings"], "s old"), "an old sample is reported"


# --- operator aggregates ------------------------------------------------------------------------

def test_platform_aggregates_count_our_data(quiet):
    wait_away_from_midnight()
    quiet.sql("""
        INSERT INTO ops.agents (agent_id, name, schedule) VALUES ('a1', 'A1', '*/5 * * * *'), ('a2', 'A2', NULL);
        INSERT INTO ops.runs (run_id, agent_id, user_id, status, created_at, started_at, finished_at) VALUES
          ('r1', 'a1', 'u1', 'success', now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '1 minute'),
          ('r2', 'a1', 'u2', 'failed',  now() - interval '2 minutes', now() - interval '2 minutes', now() - interval '1 minute'),
          ('r3', 'a2', 'u2', 'running', now() - interval '1 minute',  now() - interval '1 minute',  NULL),
          ('r4', 'a2', NULL, 'running', now() - interval '2 hours',   NULL, NULL),
          ('r5', 'a2', NULL, 'queued',  now() - interval '30 seconds', NULL, NULL),
          ('r6', 'a2', NULL, 'running', now() - interval '3 days',    NULL, NULL);
        INSERT INTO ops.api_tokens (name, role, token_sha256, revoked_at) VALUES
          (:'p' || 'revoked', 'viewer', decode(md5(random()::text) || md5(random()::text), 'hex'), now());
        INSERT INTO ops.api_tokens (name, role, token_sha256, expires_at) VALUES
          (:'p' || 'expired', 'viewer', decode(md5(random()::text) || md5(random()::text), 'hex'), now() - interval '1 minute');
        SELECT nextval('ops.data_version');
        """, p=quiet.prefix)
    svc = quiet.name("svc")
    quiet.service(svc)
    quiet.alert("service_down", svc, state="firing", first_ago_s=30)
    quiet.alert("latency_p95", svc, state="acknowledged", first_ago_s=60)
    quiet.alert("error_rate", svc, state="resolved", first_ago_s=90, resolved_ago_s=30)
    quiet.sql("UPDATE ops.alerts SET first_fired_at = now() - interval '2 days' WHERE rule = 'latency_p95'")
    quiet.outbox(quiet.name("o1"), sent_ago_s=60)
    quiet.outbox(quiet.name("o2"))

    body = quiet.get_json("/operator/system/aggregates")
    assert body["agents"] == {"total": 2, "scheduled": 1}, body
    assert body["runs"] == {"today": 3, "running": 2, "queued": 1, "failed_today": 1}, \
        f"runs started today r1-r3; running r3, r4 (r6 is older than 24 h); queued r5; failed r2: {body['runs']}"
    assert body["users"] == {"active_24h": 2}, body
    assert body["alerts"] == {"open": 2, "acknowledged": 1, "closed_today": 1, "triggered_today": 2}, body["alerts"]
    assert body["tokens"] == {"active": 3, "revoked": 1, "expired": 1}, body["tokens"]
    assert body["integrations"]["notifications_sent_24h"] == 1 and body["integrations"]["notifications_pending"] == 1, body
    assert body["integrations"]["discord_enabled"] is False, "the quiet stack has no Discord webhook"
    assert body["services"] == {"monitored": 1}, body
    quiet.sql("DELETE FROM ops.api_tokens WHERE name LIKE :'p'", p=quiet.prefix + "%")


# --- operator errors ----------------------------------------------------------------------------

def test_errors_list_and_hourly_counts(quiet):
    svc = quiet.name("api")
    quiet.system_error(svc, "probe_failed", "old", ago_s=7200)
    quiet.system_error("discord", "delivery_failed", "HTTP 500", ago_s=300)
    quiet.system_error("discord", "delivery_timeout", "timed out", ago_s=200)
    quiet.system_error(svc, "probe_failed", "connect: refused", ago_s=100)
    quiet.samples(svc, [(60, "down", False, None, None), (120, "down", False, None, None),
                        (180, "healthy", True, 4, None), (7200, "down", False, None, None)])
    quiet.api_minute(5, "/api/ops/summary", 10, auth_failures=3)
    quiet.api_minute(10, "/api/ops/tokens", 10, auth_failures=4)
    quiet.api_minute(120, "/api/ops/tokens", 10, auth_failures=100)
    quiet.api_minute(3, "/api/ops/ingest", 50, errors=2, client_errors=3)
    quiet.access_cursor()
    quiet.outbox(quiet.name("failing"), last_error="HTTP 429", attempts=3, last_status=429)

    body = quiet.get_json("/operator/system/errors", {"limit": "2"})
    assert [(e["service"], e["type"], e["message"]) for e in body["errors"]] == [
        (svc, "probe_failed", "connect: refused"), ("discord", "delivery_timeout", "timed out")], body["errors"]
    newest = body["errors"][0]["timestamp"]
    assert isinstance(newest, str) and newest.endswith("Z"), body["errors"][0]
    assert body["counts"] == {"probe_failures_1h": 2, "delivery_failures_1h": 2, "auth_failures_1h": 7,
                              "ingest_failures_1h": 5, "system_errors_1h": 3}, body["counts"]
    assert [(d["kind"], d["attempts"], d["last_status"], d["last_error"]) for d in body["failing_deliveries"]] == \
        [("alert", 3, 429, "HTTP 429")], body["failing_deliveries"]
    assert len(quiet.get_json("/operator/system/errors")["errors"]) == 4


# --- cache --------------------------------------------------------------------------------------

def test_cache_stats_come_from_the_newest_probed_redis_service(quiet):
    r1, r2, r3 = quiet.name("redis-a"), quiet.name("redis-b"), quiet.name("redis-c")
    for name in (r1, r2, r3):
        quiet.service(name, kind="redis", target="127.0.0.1:6379")
    quiet.status(r1, "healthy", metrics={"keyspace_hits": 1, "keyspace_misses": 1, "used_memory_bytes": 1}, checked_ago_s=30)
    metrics = {"hit_rate": 0.75, "keyspace_hits": 300, "keyspace_misses": 100, "used_memory_bytes": 3 * 1048576,
               "maxmemory_bytes": 64 * 1048576, "evicted_keys": 130, "connected_clients": 4, "ops_per_sec": 12}
    quiet.status(r2, "healthy", response_ms=0.4, metrics=metrics, checked_ago_s=2)
    quiet.samples(r2, [(2, "healthy", True, 0.4, {"evicted_keys": 130}), (17, "healthy", True, 0.5, {"evicted_keys": 100}),
                       (32, "healthy", True, 0.5, {"evicted_keys": 0})])

    body = quiet.get_json("/api/monitoring/cache/stats")
    assert body["service"] == r2 and body["status"] == "healthy", body
    assert (body["hit_rate"], body["miss_rate"], body["size_mb"]) == (75.0, 25.0, 3.0), body
    assert body["eviction_rate"] == 2.0, f"30 keys evicted in the 15 s between the last two probes: {body}"
    assert (body["connected_clients"], body["used_memory_bytes"], body["maxmemory_bytes"], body["ops_per_sec"]) == \
        (4, 3 * 1048576, 64 * 1048576, 12), body
    assert body["top_keys"] == [] and mentions(body["warnings"], "per-key"), body

    assert quiet.get_json("/api/monitoring/cache/stats", {"service": r1})["service"] == r1
    never = quiet.get_json("/api/monitoring/cache/stats", {"service": r3})
    assert never["status"] == "unknown" and never["hit_rate"] == 0 and mentions(never["warnings"], "not been probed"), never
    quiet.status(r3, "healthy", metrics={"keyspace_hits": 0, "keyspace_misses": 0, "used_memory_bytes": 1048576})
    idle = quiet.get_json("/api/monitoring/cache/stats", {"service": r3})
    assert idle["hit_rate"] is None and idle["miss_rate"] is None and mentions(idle["warnings"], "no key lookups"), idle

    resp = quiet.get("/api/monitoring/cache/stats", {"service": "nope"})
    err = helpers.assert_error_envelope(resp, 404, "not_found")
    assert err["known"] == sorted([r1, r2, r3]), err
