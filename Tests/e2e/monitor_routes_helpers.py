"""Helpers for the monitoring-route end-to-end tests (issue 6, routes).

The routes read what the monitor stores. These tests do not wait for a monitor to probe
anything: they write the monitor's tables directly with psql (the rows the monitor would
write, per 0007_monitor.sql and CONTRACT.md) and check every answer against them.

- `Mon`: a stack seen by an admin (GET with the admin token) and by psql, with one insert
  helper per table the routes read. Every service, component, instance and error the tests
  write carries the unique `prefix`, and `cleanup()` deletes exactly those rows.
- `quiet_stack`: a stack of our own with no demo data and no monitor (DEMO=0 MONITOR=0),
  started once per module and always taken down, for answers that must be exact (totals,
  overall status) or empty (zeros and warnings).
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

import helpers
from activity_helpers import free_port

REPO = helpers.REPO
STACK_SH = REPO / "deploy" / "stack.sh"

# Every route these tests cover (the performance route belongs to another helper).
MONITORING_ROUTES = [
    "/api/monitoring/health",
    "/api/monitoring/health/module/{name}",
    "/api/monitoring/database",
    "/api/monitoring/db/pool",
    "/api/monitoring/cache/stats",
    "/api/monitoring/workers/status",
    "/api/monitoring/events",
    "/api/monitoring/events/history",
    "/operator/system/health",
    "/operator/system/metrics",
    "/operator/system/capacity",
    "/operator/system/aggregates",
    "/operator/system/errors",
]

# Tables the monitor writes and these tests fill; `reset()` empties them on the quiet stack.
MONITOR_TABLES = ["monitor_services", "service_status", "probe_samples", "probe_rollups", "capacity_samples",
                  "api_minutes", "api_rollups", "access_log_cursor", "alert_history", "alerts", "notification_outbox",
                  "monitor_instances", "system_errors", "ticker_stats", "heartbeats", "heartbeat_samples", "events",
                  "runs", "llm_calls", "messages", "agents", "api_cache"]


class Mon:
    """A stack seen by an admin and by psql."""

    def __init__(self, env):
        self.env = env
        self.url = env["OPS_URL"].rstrip("/")
        self.db_url = env["OPS_DATABASE_URL"]
        self.tokens = {role: env.get(f"OPS_{role.upper()}_TOKEN", "") for role in ("admin", "viewer", "ingest")}
        for t in self.tokens.values():
            helpers.remember_secret(t)
        self.prefix = f"e2e-mr-{secrets.token_hex(3)}-"
        self.http = requests.Session()

    # HTTP --------------------------------------------------------------------------------------
    def get(self, path, params=None, role="admin"):
        token = self.tokens.get(role) if role else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.get(self.url + path, params=params, headers=headers, timeout=helpers.TIMEOUT)

    def get_json(self, path, params=None):
        resp = self.get(path, params)
        assert resp.status_code == 200, f"GET {path} {params or ''}: expected 200, the client saw {helpers.describe(resp)}"
        body = helpers.parse_json(resp)
        assert isinstance(body, dict), f"GET {path}: expected a JSON object, got {body!r}"
        return body

    # psql --------------------------------------------------------------------------------------
    def sql(self, query, **variables):
        """Run SQL through psql (from stdin, so :'name' variables are quoted literals)."""
        cmd = ["psql", self.db_url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        proc = subprocess.run(cmd + ["-f", "-"], input=query, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"psql failed ({proc.returncode}) on {query!r}: {proc.stderr}"
        return proc.stdout.strip()

    def name(self, suffix):
        return self.prefix + suffix

    # inserts, one per table the routes read ------------------------------------------------------
    def service(self, name, kind="http", target="http://127.0.0.1:9/health", interval_s=15, timeout_ms=1000,
                thresholds=None, active=True):
        self.sql("INSERT INTO ops.monitor_services (name, kind, target, interval_s, timeout_ms, thresholds, active) "
                 "VALUES (:'name', :'kind', :'target', :'interval', :'timeout', :'thresholds'::jsonb, :'active')",
                 name=name, kind=kind, target=target, interval=str(interval_s), timeout=str(timeout_ms),
                 thresholds=json.dumps(thresholds or {}), active="true" if active else "false")

    def status(self, name, status, response_ms=None, error_count=0, trend="stable", anomaly=False, message=None,
               metrics=None, checked_ago_s=1, consecutive_failures=0):
        self.sql("INSERT INTO ops.service_status (service, status, response_ms, error_count, consecutive_failures, trend, "
                 "anomaly, message, metrics, checked_at, status_since) VALUES (:'name', :'status', "
                 "nullif(:'ms', '')::double precision, :'errors', :'cf', :'trend', :'anomaly', nullif(:'message', ''), "
                 ":'metrics'::jsonb, now() - make_interval(secs => :'ago'), now() - interval '10 minutes')",
                 name=name, status=status, ms="" if response_ms is None else str(response_ms), errors=str(error_count),
                 cf=str(consecutive_failures), trend=trend, anomaly="true" if anomaly else "false",
                 message=message or "", metrics=json.dumps(metrics or {}), ago=str(checked_ago_s))

    def samples(self, name, rows):
        """rows: [(seconds_ago, status, ok, response_ms, metrics or None)]"""
        values = [{"ago": a, "status": s, "ok": ok, "ms": ms, "metrics": m or {}} for a, s, ok, ms, m in rows]
        self.sql("INSERT INTO ops.probe_samples (service, ts, status, ok, response_ms, metrics) "
                 "SELECT :'name', now() - make_interval(secs => (v->>'ago')::double precision), v->>'status', "
                 "(v->>'ok')::boolean, (v->>'ms')::double precision, v->'metrics' "
                 "FROM jsonb_array_elements(:'rows'::jsonb) v", name=name, rows=json.dumps(values))

    def rollups(self, name, rows):
        """rows: [(hours_ago (bucket = date_trunc('hour', now()) - hours), samples, failures, avg, max, p95)]"""
        values = [{"h": h, "n": n, "f": f, "avg": a, "max": mx, "p95": p} for h, n, f, a, mx, p in rows]
        self.sql("INSERT INTO ops.probe_rollups (grain, service, bucket, samples, failures, avg_ms, max_ms, p95_ms) "
                 "SELECT 'hour', :'name', date_trunc('hour', now()) - make_interval(hours => (v->>'h')::int), "
                 "(v->>'n')::int, (v->>'f')::int, (v->>'avg')::float8, (v->>'max')::float8, (v->>'p95')::float8 "
                 "FROM jsonb_array_elements(:'rows'::jsonb) v", name=name, rows=json.dumps(values))

    def alert(self, rule, service, state="firing", severity="warning", value=None, threshold=None, title=None,
              first_ago_s=60, resolved_ago_s=None):
        return int(self.sql(
            "INSERT INTO ops.alerts (rule, severity, state, dedupe_key, title, service, value, threshold, "
            "first_fired_at, last_fired_at, resolved_at) VALUES (:'rule', :'severity', :'state', :'key', :'title', "
            "nullif(:'service', ''), nullif(:'value', '')::float8, nullif(:'threshold', '')::float8, "
            "now() - make_interval(secs => :'first'), now() - make_interval(secs => :'first'), "
            "CASE WHEN :'resolved' = '' THEN NULL ELSE now() - make_interval(secs => nullif(:'resolved', '')::float8) END) "
            "RETURNING id",
            rule=rule, severity=severity, state=state, key=f"{rule}:{service}:{secrets.token_hex(3)}",
            title=title or f"{rule} on {service}", service=service or "",
            value="" if value is None else str(value), threshold="" if threshold is None else str(threshold),
            first=str(first_ago_s), resolved="" if resolved_ago_s is None else str(resolved_ago_s)))

    def heartbeat(self, component, component_type, status="healthy", ago_s=1, metrics=None):
        self.sql("INSERT INTO ops.heartbeats (component, component_type, status, ts, metrics) VALUES "
                 "(:'c', :'t', :'s', now() - make_interval(secs => :'ago'), :'m'::jsonb)",
                 c=component, t=component_type, s=status, ago=str(ago_s), m=json.dumps(metrics or {}))

    def ticker(self, instance, ago_s=1, frames_sent=0, frames_dropped=0, slow_disconnects=0, last_event_id=0,
               lag_ms=0, clients=0):
        self.sql("INSERT INTO ops.ticker_stats (instance, pid, clients, subscribers, frames_sent, frames_dropped, "
                 "slow_disconnects, last_event_id, last_event_lag_ms, db_reconnects, updated_at) VALUES "
                 "(:'i', 1, :'clients', :'clients', :'sent', :'dropped', :'slow', :'last', :'lag', 0, "
                 "now() - make_interval(secs => :'ago'))",
                 i=instance, clients=str(clients), sent=str(frames_sent), dropped=str(frames_dropped),
                 slow=str(slow_disconnects), last=str(last_event_id), lag=str(lag_ms), ago=str(ago_s))

    def events(self, rows):
        """rows: [(seconds_ago, type, data)] inserted in order; returns their ids."""
        values = [{"ago": a, "type": t, "data": d} for a, t, d in rows]
        out = self.sql("INSERT INTO ops.events (ts, type, data) SELECT now() - make_interval(secs => (v->>'ago')::float8), "
                       "v->>'type', v->'data' FROM jsonb_array_elements(:'rows'::jsonb) WITH ORDINALITY AS e(v, n) "
                       "ORDER BY n RETURNING id", rows=json.dumps(values))
        return [int(x) for x in out.split()]

    def monitor_instance(self, instance, active=True, ago_s=1):
        self.sql("INSERT INTO ops.monitor_instances (instance, pid, host, active, started_at, heartbeat_at) VALUES "
                 "(:'i', 1, 'e2e', :'a', now() - interval '1 hour', now() - make_interval(secs => :'ago'))",
                 i=instance, a="true" if active else "false", ago=str(ago_s))

    def system_error(self, service, type_, message, ago_s=1):
        self.sql("INSERT INTO ops.system_errors (ts, service, type, message) VALUES "
                 "(now() - make_interval(secs => :'ago'), :'s', :'t', :'m')", s=service, t=type_, m=message, ago=str(ago_s))

    def outbox(self, key, sent_ago_s=None, last_error=None, attempts=0, last_status=None):
        self.sql("INSERT INTO ops.notification_outbox (webhook, kind, dedupe_key, payload, attempts, sent_at, "
                 "last_error, last_status) VALUES ('e2e-hash', 'alert', :'k', '{}', :'att', "
                 "CASE WHEN :'sent' = '' THEN NULL ELSE now() - make_interval(secs => nullif(:'sent', '')::float8) END, "
                 "nullif(:'err', ''), nullif(:'st', '')::int)",
                 k=key, att=str(attempts), sent="" if sent_ago_s is None else str(sent_ago_s),
                 err=last_error or "", st="" if last_status is None else str(last_status))

    def capacity(self, disk, memory, load, ago_s=1):
        self.sql("INSERT INTO ops.capacity_samples (ts, disk, memory, load) VALUES "
                 "(now() - make_interval(secs => :'ago'), :'d'::jsonb, :'m'::jsonb, :'l'::jsonb)",
                 d=json.dumps(disk), m=json.dumps(memory), l=json.dumps(load), ago=str(ago_s))

    def start_early_in_a_minute(self, margin_s=20):
        """Waits past the next minute boundary when fewer than `margin_s` seconds of the current
        minute are left: a test that writes rows relative to "the current minute" and then reads
        "the last complete minute" must do both in the same minute (a loaded CI machine can take
        several seconds between them)."""
        left = 60 - (time.time() % 60)
        if left < margin_s:
            time.sleep(left + 0.5)

    def api_minute(self, minutes_ago, route_group, requests_, errors=0, client_errors=0, auth_failures=0,
                   latency_hist=None):
        """A row for the minute `minutes_ago` whole minutes before the current one."""
        hist = latency_hist or [0]
        self.sql("INSERT INTO ops.api_minutes (minute, route_group, requests, errors, client_errors, auth_failures, "
                 "latency_sum_ms, latency_hist) VALUES (date_trunc('minute', now()) - make_interval(mins => :'ago'), "
                 ":'g', :'r', :'e', :'ce', :'af', 0, :'h'::int[])",
                 ago=str(minutes_ago), g=route_group, r=str(requests_), e=str(errors), ce=str(client_errors),
                 af=str(auth_failures), h="{" + ",".join(str(x) for x in hist) + "}")

    def access_cursor(self, ago_s=1):
        self.sql("INSERT INTO ops.access_log_cursor (path, device, inode, byte_offset, updated_at) VALUES "
                 "(:'p', 1, 1, 0, now() - make_interval(secs => :'ago')) ON CONFLICT (path) DO UPDATE SET "
                 "updated_at = EXCLUDED.updated_at", p=f"/tmp/{self.prefix}access.log", ago=str(ago_s))

    # cleanup -------------------------------------------------------------------------------------
    def cleanup(self):
        """Deletes every row this Mon wrote (all of them carry its prefix)."""
        like = self.prefix + "%"
        self.sql("""
            DELETE FROM ops.alerts WHERE service LIKE :'p' OR dedupe_key LIKE '%' || :'p';
            DELETE FROM ops.probe_samples WHERE service LIKE :'p';
            DELETE FROM ops.probe_rollups WHERE service LIKE :'p';
            DELETE FROM ops.service_status WHERE service LIKE :'p';
            DELETE FROM ops.monitor_services WHERE name LIKE :'p';
            DELETE FROM ops.heartbeats WHERE component LIKE :'p';
            DELETE FROM ops.ticker_stats WHERE instance LIKE :'p';
            DELETE FROM ops.monitor_instances WHERE instance LIKE :'p';
            DELETE FROM ops.system_errors WHERE service LIKE :'p';
            DELETE FROM ops.notification_outbox WHERE dedupe_key LIKE :'p';
            DELETE FROM ops.events WHERE type LIKE :'p';
            DELETE FROM ops.access_log_cursor WHERE path LIKE '/tmp/' || :'p';
            """, p=like)

    def reset(self):
        """Empties every table the routes read (quiet stack only: nobody else writes there)."""
        self.sql("TRUNCATE " + ", ".join(f"ops.{t}" for t in MONITOR_TABLES) + ";")


def wait_for(probe, timeout=10.0, interval=0.2, what="condition"):
    return helpers.wait_until(probe, timeout, interval=interval, what=what)


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def mon(stack):
    """The stack under test; rows written through it are deleted after the test."""
    m = Mon(stack.env)
    yield m
    m.cleanup()
    m.http.close()


@pytest.fixture(scope="module")
def quiet_stack(stack):
    """A fresh stack of our own: no demo data, no monitor. Its STATE is the stack under test's
    plus `-monquiet`; a leftover one is taken down and its cluster removed first."""
    state = Path(os.environ.get("OPS_MONQUIET_STATE") or f"{stack.state}-monquiet")
    scratch = None
    if len(str(state)) > 80:  # stack.sh's limit for unix socket paths
        scratch = state = Path(tempfile.mkdtemp(prefix="ops-monq-", dir="/tmp"))
        state.chmod(0o755)  # Postgres runs as its own user and must enter it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPS_", "DAILY_", "DISCORD_")) or k == "OPS_PG_BIN"}
    env.update(STATE=str(state), PORT=str(free_port()), DEMO="0", MONITOR="0", OPS_WORKERS="1")
    if os.environ.get("OPSPLANE_BIN"):
        env["OPSPLANE_BIN"] = os.environ["OPSPLANE_BIN"]
    try:
        subprocess.run([str(STACK_SH), "down"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        for sub in ("pg", "run", "logs", "nginx"):
            shutil.rmtree(state / sub, ignore_errors=True)
        (state / "run.env").unlink(missing_ok=True)
        proc = subprocess.run([str(STACK_SH), "up"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (f"could not start the quiet stack (STATE={state}): exit {proc.returncode}\n"
                                      f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        stop_ticker(state)
        m = Mon(helpers.parse_env_file(state / "run.env"))
        yield m
        m.http.close()
    finally:
        subprocess.run([str(STACK_SH), "down"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def stop_ticker(state):
    """Stops the quiet stack's ticker (which this fixture started), so that ops.ticker_stats
    holds only the rows the tests write; its own row is emptied by reset()."""
    pidfile = state / "run" / "ticker.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip() or 0)
    if pid and helpers.process_alive(pid):
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not helpers.process_alive(pid), 15, what=f"the quiet stack's ticker (pid {pid}) stopping")


@pytest.fixture
def quiet(quiet_stack):
    """The quiet stack with every table the routes read emptied."""
    quiet_stack.reset()
    yield quiet_stack
    quiet_stack.reset()


def timed_get(mon, path, params=None):
    start = time.perf_counter()
    resp = mon.get(path, params)
    return resp, (time.perf_counter() - start) * 1000
