"""The monitor's probes against real targets (issue 6): Postgres, HTTP (healthy, slow, failing,
timing out, recovering), TCP, Redis, pushed heartbeats; host capacity; the registered service
list. One monitor of our own (own lock, own configuration) probes every target each second;
results are read from the tables it writes.

API assertions for the lead to add once the monitoring routes are merged:
- GET /api/monitoring/health lists hc-* services with the statuses asserted here
  (modules[name].status, response_time_ms, error_count); /health/module/<name> answers trend,
  anomaly, metrics; /health/module/nope → 404.
- /api/monitoring/database shows pg metrics (connections, max, table_stats),
  /api/monitoring/cache/stats the redis hit_rate, /api/monitoring/workers/status the heartbeats.
- /api/operator/system/capacity shows the capacity row's directories by name.
- /api/operator/system/errors lists the probe_failed / timeout / stale rows asserted here.
"""

import datetime as dt
import os
import subprocess
import time

import pytest

from activity_helpers import Ops, heartbeat
from monitor_health_helpers import (Redis, db, eventually, forget_services, free_port,  # noqa: F401
                                    http_service, monitors, name_with_late_start, target, unique,
                                    wait_active, wait_status)

UTC = dt.timezone.utc
PG_KEYS = {"connections", "max_connections", "connections_pct", "db_size_bytes", "cache_hit_ratio",
           "long_running_transactions", "longest_transaction_s", "largest_tables", "slow_statements"}
REDIS_KEYS = {"hit_rate", "keyspace_hits", "keyspace_misses", "used_memory_bytes", "maxmemory_bytes",
              "evicted_keys", "connected_clients", "ops_per_sec"}


class World:
    """Names of everything the module's monitor probes."""


@pytest.fixture(scope="module")
def long_transaction(db):
    """A session that sits in an open transaction (psql reading a pipe we keep open)."""
    proc = subprocess.Popen(["psql", db.url, "-X", "-q"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    proc.stdin.write("BEGIN; SELECT txid_current();\n")
    proc.stdin.flush()
    started = time.monotonic()
    yield started
    proc.stdin.close()
    proc.wait(10)


@pytest.fixture(scope="module")
def world(stack, db, monitors, target, tmp_path_factory, long_transaction):
    w = World()
    w.tag = unique("hc")
    work = tmp_path_factory.mktemp("health-world")
    w.redis = Redis(work)
    w.closed_port = free_port()
    n = lambda s: f"{w.tag}-{s}"  # noqa: E731
    for key in ["pg_ok", "pg_closed", "http_ok", "http_slow", "http_500", "http_timeout", "http_flip",
                "http_401", "tcp_open", "tcp_closed", "redis_svc", "hb_fresh", "hb_stale", "hb_degraded", "hb_none"]:
        setattr(w, key, n(key.replace("_", "-")))
    w.late = name_with_late_start(f"{w.tag}-late", 3600)
    w.components = {k: f"{w.tag}-comp-{k}" for k in ("fresh", "stale", "degraded", "nobody")}
    w.password = "pw-" + unique("secret")
    target.set("/ok", "ok")
    target.set("/slow", "slow", 0.3)
    target.set("/fail", "status", 500)
    target.set("/hang", "hang", 3)
    target.set("/flip", "status", 503)
    target.set("/auth", "status", 401)
    # A data directory with 1 MiB in it, and one that does not exist.
    w.data_dir = work / "data"
    w.data_dir.mkdir()
    (w.data_dir / "blob").write_bytes(os.urandom(1 << 20))
    w.dir_name, w.missing_dir_name = n("dir"), n("missing")
    services = [
        {"name": w.pg_ok, "kind": "postgres", "target": stack.env["OPS_DATABASE_URL"], "interval_s": 1, "timeout_ms": 3000},
        {"name": w.pg_closed, "kind": "postgres", "interval_s": 1, "timeout_ms": 2000,
         "target": f"postgresql://opsplane:{w.password}@127.0.0.1:{w.closed_port}/opsplane"},
        http_service(w.http_ok, target.url("/ok")),
        http_service(w.http_slow, target.url("/slow"), timeout_ms=2000, thresholds={"degraded_ms": 100}),
        http_service(w.http_500, target.url("/fail")),
        http_service(w.http_timeout, target.url("/hang"), timeout_ms=300),
        http_service(w.http_flip, target.url("/flip")),
        http_service(w.http_401, target.url("/auth"), thresholds={"expect_status": [401]}),
        {"name": w.tcp_open, "kind": "tcp", "target": f"127.0.0.1:{target.port}", "interval_s": 1, "timeout_ms": 500},
        {"name": w.tcp_closed, "kind": "tcp", "target": f"127.0.0.1:{w.closed_port}", "interval_s": 1, "timeout_ms": 500},
        {"name": w.redis_svc, "kind": "redis", "target": f"127.0.0.1:{w.redis.port}", "interval_s": 1, "timeout_ms": 500},
        {"name": w.hb_fresh, "kind": "heartbeat", "target": w.components["fresh"], "interval_s": 1},
        {"name": w.hb_stale, "kind": "heartbeat", "target": w.components["stale"], "interval_s": 1,
         "thresholds": {"stale_s": 30}},
        {"name": w.hb_degraded, "kind": "heartbeat", "target": w.components["degraded"], "interval_s": 1},
        {"name": w.hb_none, "kind": "heartbeat", "target": w.components["nobody"], "interval_s": 1},
        {"name": w.late, "kind": "tcp", "target": f"127.0.0.1:{target.port}", "interval_s": 3600, "timeout_ms": 500},
    ]
    w.services = services
    w.monitor = monitors.start(services, data_directories=[
        {"name": w.dir_name, "path": str(w.data_dir)},
        {"name": w.missing_dir_name, "path": str(work / "does-not-exist")}])
    wait_active(db, w.monitor)
    yield w
    w.redis.stop()
    w.monitor.stop()
    forget_services(db, w.tag + "-%")
    db.run("DELETE FROM ops.heartbeats WHERE component LIKE :'p'; DELETE FROM ops.heartbeat_samples WHERE component LIKE :'p';",
           p=w.tag + "-%")


def samples(db, service):
    return db.rows("SELECT status, ok, response_ms, message, metrics FROM ops.probe_samples "
                   "WHERE service = :'s' ORDER BY ts", s=service)


def system_errors(db, service):
    return db.rows("SELECT type, message FROM ops.system_errors WHERE service = :'s' ORDER BY ts", s=service)


def test_services_registered_redacted_and_unknown_until_probed(world, db):
    def registered():
        rows = {r["name"]: r for r in db.rows(
            "SELECT name, kind, target, interval_s, timeout_ms, thresholds, active FROM ops.monitor_services "
            "WHERE name LIKE :'p'", p=world.tag + "-%")}
        assert len(rows) == len(world.services), f"registered: {sorted(rows)}"
        return rows
    rows = eventually(registered, timeout=10)
    closed = rows[world.pg_closed]
    assert world.password not in closed["target"] and ":***@" in closed["target"], closed
    assert all(r["active"] for r in rows.values())
    assert rows[world.http_slow]["thresholds"]["degraded_ms"] == 100
    assert rows[world.hb_stale]["thresholds"]["stale_s"] == 30
    assert rows[world.http_401]["thresholds"]["expect_status"] == [401]
    # Its first check is at least 25 s after activation: until then it is unknown, never checked.
    late = db.status(world.late)
    assert late is not None and late["status"] == "unknown" and late["checked_at"] is None, late
    # The configuration file's password never reaches the database or the log.
    assert world.password not in db.run("SELECT string_agg(target, ' ') FROM ops.monitor_services")
    assert world.password not in world.monitor.log_path.read_text()


def test_postgres_healthy_with_database_figures(world, db):
    r = wait_status(db, world.pg_ok, "healthy", monitor=world.monitor)
    m = r["metrics"]
    assert PG_KEYS <= set(m), f"missing {PG_KEYS - set(m)}: {m}"
    assert m["connections"] >= 1 and m["max_connections"] >= m["connections"]
    assert 0 < m["connections_pct"] <= 100
    assert m["db_size_bytes"] > 1_000_000
    assert m["cache_hit_ratio"] is None or 0 <= m["cache_hit_ratio"] <= 1
    tables = {t["table"]: t for t in m["largest_tables"]}
    assert 1 <= len(tables) <= 10 and all(t["total_bytes"] >= 0 and t["rows"] >= 0 for t in tables.values())
    sizes = [t["total_bytes"] for t in m["largest_tables"]]
    assert sizes == sorted(sizes, reverse=True)
    # The embedded stack loads pg_stat_statements: the slowest statements by mean time.
    slow = m["slow_statements"]
    assert isinstance(slow, list) and 1 <= len(slow) <= 10, slow
    assert all(isinstance(x["query"], str) and x["calls"] >= 1 and x["mean_ms"] >= 0 for x in slow), slow
    means = [x["mean_ms"] for x in slow]
    assert means == sorted(means, reverse=True), means
    assert r["response_ms"] is not None and r["response_ms"] > 0


def test_postgres_down_on_closed_port(world, db):
    r = wait_status(db, world.pg_closed, "down", monitor=world.monitor)
    assert "postgres" in r["message"] and world.password not in r["message"], r
    assert r["consecutive_failures"] >= 1 and r["error_count"] >= 1
    errors = system_errors(db, world.pg_closed)
    # One row for the change to down, not one per failed probe.
    assert [e["type"] for e in errors] == ["probe_failed"], errors
    time.sleep(2.5)
    assert len(system_errors(db, world.pg_closed)) == 1


def test_http_healthy_degraded_down_and_timeout(world, db, target):
    ok = wait_status(db, world.http_ok, "healthy", monitor=world.monitor)
    assert ok["metrics"] == {"status_code": 200} and ok["response_ms"] > 0
    slow = wait_status(db, world.http_slow, "degraded", monitor=world.monitor)
    assert slow["response_ms"] >= 300 and slow["message"].startswith("slow:"), slow
    failing = wait_status(db, world.http_500, "down", monitor=world.monitor)
    assert failing["message"] == "HTTP 500" and failing["metrics"] == {"status_code": 500}
    hung = wait_status(db, world.http_timeout, "down", monitor=world.monitor)
    assert "300 ms" in hung["message"], hung
    assert [e["type"] for e in system_errors(db, world.http_timeout)] == ["timeout"]
    assert [e["type"] for e in system_errors(db, world.http_500)] == ["probe_failed"]
    # expect_status: 401 is what this endpoint should answer.
    assert wait_status(db, world.http_401, "healthy", monitor=world.monitor)["metrics"] == {"status_code": 401}


def test_http_recovers(world, db, target):
    down = wait_status(db, world.http_flip, "down", monitor=world.monitor)
    assert down["message"] == "HTTP 503"
    target.set("/flip", "ok")
    up = wait_status(db, world.http_flip, "healthy", monitor=world.monitor)
    assert up["consecutive_failures"] == 0 and up["error_count"] >= 1, up
    assert up["status_since"] > down["checked_at"], (down, up)
    statuses = [s["status"] for s in samples(db, world.http_flip)]
    assert "down" in statuses and statuses[-1] == "healthy", statuses
    assert statuses.index("healthy") > statuses.index("down")


def test_tcp_open_and_closed(world, db):
    assert wait_status(db, world.tcp_open, "healthy", monitor=world.monitor)["metrics"] == {}
    closed = wait_status(db, world.tcp_closed, "down", monitor=world.monitor)
    assert "refused" in closed["message"].lower(), closed


def test_redis_healthy_with_cache_figures_then_down_when_stopped(world, db):
    world.redis.command("SET", "k", "v")
    world.redis.command("GET", "k")        # a hit
    world.redis.command("GET", "missing")  # a miss

    def figures():
        r = wait_status(db, world.redis_svc, "healthy", monitor=world.monitor)
        m = r["metrics"]
        assert REDIS_KEYS <= set(m), f"missing {REDIS_KEYS - set(m)}: {m}"
        assert m["keyspace_hits"] >= 1 and m["keyspace_misses"] >= 1, m
        return m
    m = eventually(figures)
    assert 0 < m["hit_rate"] < 1
    assert m["maxmemory_bytes"] == 16 * 1024 * 1024 and m["used_memory_bytes"] > 0
    assert m["connected_clients"] >= 1
    world.redis.stop()
    down = wait_status(db, world.redis_svc, "down", monitor=world.monitor)
    assert "redis" in down["message"], down


def test_heartbeats_fresh_stale_degraded_and_none(world, db, stack):
    ops = Ops(stack.env)
    now = dt.datetime.now(UTC)
    ops.ingest_ok([
        heartbeat(world.components["fresh"], "worker", "healthy", now, metrics={"jobs_in_flight": 2}),
        heartbeat(world.components["stale"], "queue", "healthy", now - dt.timedelta(seconds=300), metrics={"depth": 7}),
        heartbeat(world.components["degraded"], "model", "degraded", now),
    ])
    fresh = wait_status(db, world.hb_fresh, "healthy", monitor=world.monitor)
    m = fresh["metrics"]
    assert m["components"] == 1 and m["stale"] == 0 and m["stale_after_s"] == 90
    assert m["members"][0]["component"] == world.components["fresh"]
    assert m["members"][0]["metrics"] == {"jobs_in_flight": 2}
    assert fresh["response_ms"] is None

    stale = wait_status(db, world.hb_stale, "down", monitor=world.monitor)
    assert stale["metrics"]["stale"] == 1 and stale["metrics"]["oldest_age_s"] >= 300
    assert "no heartbeat" in stale["message"] and "stale after 30 s" in stale["message"], stale
    assert [e["type"] for e in system_errors(db, world.hb_stale)] == ["stale"]

    assert wait_status(db, world.hb_degraded, "degraded", monitor=world.monitor)["message"] == "1 of 1 degraded"
    none = wait_status(db, world.hb_none, "unknown", monitor=world.monitor)
    assert none["message"] == "no heartbeats received yet"

    # A fresh heartbeat brings the stale component back.
    ops.ingest_ok([heartbeat(world.components["stale"], "queue", "healthy", dt.datetime.now(UTC))])
    assert wait_status(db, world.hb_stale, "healthy", monitor=world.monitor)["metrics"]["stale"] == 0


def test_samples_are_stored_per_check(world, db):
    rows = samples(db, world.http_ok)
    assert len(rows) >= 2 and all(r["ok"] and r["status"] == "healthy" for r in rows)
    assert all(r["metrics"] == {"status_code": 200} for r in rows)
    down = samples(db, world.http_500)
    assert down and all((not r["ok"]) and r["status"] == "down" and r["message"] == "HTTP 500" for r in down)


def test_capacity_rows(world, db):
    def row():
        r = db.row("SELECT disk, memory, load FROM ops.capacity_samples WHERE disk::text LIKE :'p' "
                   "ORDER BY ts DESC LIMIT 1", p=f"%{world.dir_name}%")
        assert r is not None, "no capacity sample with our data directory yet"
        return r
    r = eventually(row)
    root = r["disk"]["root"]
    assert root["path"] == "/" and root["total_bytes"] > 0 and 0 <= root["used_pct"] <= 100
    dirs = {d["name"]: d for d in r["disk"]["directories"]}
    ours = dirs[world.dir_name]
    assert ours["path"] == str(world.data_dir) and ours["size_bytes"] >= 1 << 20, ours
    assert ours["total_bytes"] > 0 and ours["free_bytes"] >= 0 and 0 <= ours["used_pct"] <= 100
    missing = dirs[world.missing_dir_name]
    assert missing["total_bytes"] is None and missing["size_bytes"] is None and "cannot stat" in missing["error"]
    mem = r["memory"]
    assert mem["total_bytes"] > 0 and 0 < mem["available_bytes"] <= mem["total_bytes"]
    assert mem["monitor_rss_bytes"] > 1_000_000
    assert r["load"]["cpus"] >= 1 and r["load"]["load1"] >= 0


def test_scheduler_figures_in_monitor_state(world, db):
    def state():
        r = db.row("SELECT value FROM ops.monitor_state WHERE key = :'k'", k=f"scheduler:{world.monitor.lock}")
        assert r is not None and r["value"]["instance"].endswith(f":{world.monitor.pid}"), r
        return r["value"]
    v = eventually(state, timeout=20)
    assert v["services"] == len(world.services) and v["threads"] == 4
    assert v["checks"] > 0 and v["late_p50_ms"] is not None and v["late_p99_ms"] >= v["late_p50_ms"]


def test_postgres_reports_long_running_transaction(world, db, long_transaction):
    # The transaction opened when this module started must pass 60 s first.
    time.sleep(max(0.0, 62 - (time.monotonic() - long_transaction)))

    def counted():
        r = wait_status(db, world.pg_ok, "healthy", monitor=world.monitor)
        assert r["metrics"]["long_running_transactions"] >= 1, r["metrics"]
        return r["metrics"]
    m = eventually(counted, timeout=15)
    assert m["longest_transaction_s"] >= 60
