"""Helpers and fixtures for the activity-ledger end-to-end tests (issue 4).

The test modules import the fixtures they use from here (`from activity_helpers import ops`),
so conftest.py stays untouched. What is here:

- `Ops`: one stack seen from outside: ingest/budget requests with the ingest token, admin GETs
  with the admin token, and `psql` against its database for what only the database shows
  (ops.events rows, pricing rows, truncation).
- record builders (`agent`, `run`, `message`, `llm_call`, `heartbeat`) and UTC time helpers.
- `eventually`: the lead may cache expensive answers for up to 2 s, so reads that check
  exact numbers retry for up to 3 s instead of sleeping.
- fixtures: `ops` (the stack under test), `clean` (empty activity tables, clock away from
  midnight) and `budget_ops` (a second stack of our own with budget limits, module-scoped,
  always taken down).
"""

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

import helpers

REPO = helpers.REPO
UTC = dt.timezone.utc
STACK_SH = REPO / "deploy" / "stack.sh"

# Activity tables, emptied before every test that checks exact numbers.
ACTIVITY_TABLES = ["agents", "runs", "messages", "llm_calls", "heartbeats", "events",
                   "api_cache", "pricing", "heartbeat_samples"]
# These must exist: without them the contract cannot be implemented.
REQUIRED_TABLES = {"agents", "runs", "messages", "llm_calls", "heartbeats", "events", "pricing"}

UTC_OUT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
ERROR_CODES = {"invalid_json", "invalid_record", "unknown_kind", "missing_field", "invalid_field",
               "unknown_field", "invalid_timestamp", "out_of_range"}


# --- time -----------------------------------------------------------------------------------

def now():
    return dt.datetime.now(UTC)


def today_start():
    n = now()
    return dt.datetime(n.year, n.month, n.day, tzinfo=UTC)


def today_at(seconds):
    """Today 00:00:00 UTC + seconds. With the `clean` fixture's clock guard (now >= 00:03 UTC),
    anything up to 170 s after midnight is already in the past."""
    assert seconds < 170, "today_at() is only safe for the first 170 s of the day"
    return today_start() + dt.timedelta(seconds=seconds)


def today_ago(minutes=0, seconds=0, seconds_into_day=60):
    """`minutes`/`seconds` ago, but not before today 00:00 UTC + seconds_into_day: data meant
    to be "today's" stays today's at any time of day (with wait_away_from_midnight() keeping
    now >= 00:03 UTC, the default is already in the past)."""
    return max(ago(seconds=seconds, minutes=minutes), today_start() + dt.timedelta(seconds=seconds_into_day))


def ago(seconds=0, minutes=0, hours=0, days=0):
    return now() - dt.timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)


def iso(t, offset=None):
    """RFC 3339 as the host app sends it: Z, or the given offset (a timedelta)."""
    t = t.astimezone(UTC)
    if offset is None:
        frac = f".{t.microsecond // 1000:03d}" if t.microsecond else ""
        return t.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    local = t + offset
    sign = "+" if offset >= dt.timedelta(0) else "-"
    total = abs(int(offset.total_seconds())) // 60
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{total // 60:02d}:{total % 60:02d}"


def parse_out_ts(value, what="timestamp"):
    """Parse an output timestamp, asserting the UTC `YYYY-MM-DDTHH:MM:SS(.fff)Z` form."""
    assert isinstance(value, str) and UTC_OUT_RE.match(value), \
        f"{what} {value!r} is not UTC 'YYYY-MM-DDTHH:MM:SS(.fff)Z'"
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_away_from_midnight():
    """Tests place data at 'today 00:00:xx' and 'N minutes ago': keep at least 3 minutes
    between now and either side of midnight UTC (waits at most ~6 minutes)."""
    n = now()
    seconds_into_day = n.hour * 3600 + n.minute * 60 + n.second
    if seconds_into_day >= 24 * 3600 - 180:          # 23:57 or later: wait for 00:03 tomorrow
        time.sleep(24 * 3600 - seconds_into_day + 181)
    elif seconds_into_day < 181:                      # before 00:03: wait for it
        time.sleep(181 - seconds_into_day)


# --- record builders ------------------------------------------------------------------------

def _drop_none(d, keep_null=()):
    return {k: v for k, v in d.items() if v is not None or k in keep_null}


def agent(agent_id, name=None, **fields):
    rec = {"kind": "agent", "agent_id": agent_id, "name": name if name is not None else f"Agent {agent_id}"}
    rec.update(fields)
    return rec


def run(run_id, agent_id, status, created_at, **fields):
    """A run record. Datetime values are converted to RFC 3339 Z strings; other values as given
    (pass cost_usd=None explicitly to send a JSON null)."""
    rec = {"kind": "run", "run_id": run_id, "agent_id": agent_id, "status": status,
           "created_at": created_at}
    rec.update(fields)
    return {k: (iso(v) if isinstance(v, dt.datetime) else v) for k, v in rec.items()}


def finished_run(run_id, agent_id, started, finished, status="success", **fields):
    """A run that started and finished: created = started, duration from the two times unless
    given."""
    fields.setdefault("duration_ms", int((finished - started).total_seconds() * 1000))
    return run(run_id, agent_id, status, started, started_at=started, finished_at=finished, **fields)


def message(message_id, thread_id, created_at, **fields):
    rec = {"kind": "message", "message_id": message_id, "thread_id": thread_id, "created_at": created_at}
    rec.update(fields)
    return {k: (iso(v) if isinstance(v, dt.datetime) else v) for k, v in rec.items()}


def llm_call(call_id, ts, provider, model, **fields):
    rec = {"kind": "llm_call", "id": call_id, "ts": ts, "provider": provider, "model": model}
    rec.update(fields)
    return {k: (iso(v) if isinstance(v, dt.datetime) else v) for k, v in rec.items()}


def heartbeat(component, component_type, status, ts, **fields):
    rec = {"kind": "heartbeat", "component": component, "component_type": component_type,
           "status": status, "ts": ts}
    rec.update(fields)
    return {k: (iso(v) if isinstance(v, dt.datetime) else v) for k, v in rec.items()}


# --- retries --------------------------------------------------------------------------------

def eventually(check, timeout=3.0, interval=0.2):
    """Run check() (which asserts) until it passes; after `timeout` s re-raise its last failure.
    Answers may be cached for up to 2 s; with small data they should be fresh at once."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        time.sleep(interval)


# --- the stack ------------------------------------------------------------------------------

class Ops:
    """A stack as seen by the host app (ingest token), an admin (admin token) and psql."""

    def __init__(self, env):
        self.env = env
        self.url = env["OPS_URL"].rstrip("/")
        self.admin_token = env.get("OPS_ADMIN_TOKEN", "")
        self.ingest_token = env.get("OPS_INGEST_TOKEN", "")
        self.viewer_token = env.get("OPS_VIEWER_TOKEN", "")
        self.db_url = env["OPS_DATABASE_URL"]
        self.http = requests.Session()

    # HTTP ------------------------------------------------------------------------------------
    @staticmethod
    def bearer(token):
        return {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path, body, content_type="application/json", token=..., timeout=60):
        token = self.ingest_token if token is ... else token
        headers = {"Content-Type": content_type, **self.bearer(token)}
        return self.http.post(self.url + path, data=body, headers=headers, timeout=timeout)

    def ingest(self, records, fmt="json", token=...):
        """POST records as a JSON array (fmt='json') or NDJSON (fmt='ndjson')."""
        if fmt == "json":
            body = json.dumps(records).encode()
            ctype = "application/json"
        else:
            body = "".join(json.dumps(r) + "\n" for r in records).encode()
            ctype = "application/x-ndjson"
        return self.post("/api/ops/ingest", body, ctype, token=token)

    def ingest_ok(self, records, fmt="json"):
        """Ingest records that must all be accepted; returns the parsed answer."""
        resp = self.ingest(records, fmt)
        body = expect_json(resp, 200, f"ingest of {len(records)} record(s)")
        assert body.get("rejected") == 0 and body.get("accepted") == len(records), (
            f"ingest of {len(records)} good record(s) answered {body!r}")
        return body

    def get(self, path, params=None, token=...):
        token = self.admin_token if token is ... else token
        return self.http.get(self.url + path, params=params, headers=self.bearer(token),
                             timeout=helpers.TIMEOUT)

    def get_json(self, path, params=None):
        resp = self.get(path, params)
        return expect_json(resp, 200, f"GET {path} {params or ''}")

    def summary(self):
        return self.get_json("/api/ops/summary")

    def timeseries(self, metric, window="today"):
        return self.get_json("/api/ops/timeseries", {"metric": metric, "window": window})

    def top(self, kind, window="today", limit=None):
        params = {"kind": kind, "window": window}
        if limit is not None:
            params["limit"] = str(limit)
        return self.get_json("/api/ops/top", params)

    def overview(self, period=None):
        return self.get_json("/api/v1/ops/overview", {"period": period} if period else None)

    def queue(self):
        return self.get_json("/api/v1/ops/queue")

    def budget_check(self, user_id, is_admin=None, token=...):
        body = {"user_id": user_id}
        if is_admin is not None:
            body["is_admin"] = is_admin
        return self.post("/api/ops/budget/check", json.dumps(body).encode(), token=token)

    # psql ------------------------------------------------------------------------------------
    def sql(self, query, **variables):
        """Run SQL through psql (read from stdin so that :'name' psql variables interpolate
        as quoted literals); returns stdout, unaligned and tuples-only."""
        cmd = ["psql", self.db_url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
        for k, v in variables.items():
            cmd += ["-v", f"{k}={v}"]
        proc = subprocess.run(cmd + ["-f", "-"], input=query, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, f"psql failed ({proc.returncode}) on {query!r}: {proc.stderr}"
        return proc.stdout.strip()

    def existing_tables(self):
        out = self.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'ops';")
        return set(out.split())

    def truncate(self):
        have = self.existing_tables()
        missing = REQUIRED_TABLES - have
        assert not missing, (f"ops schema lacks the activity tables {sorted(missing)} "
                             f"(has {sorted(have)}): is the issue-4 migration applied?")
        names = ", ".join(f"ops.{t}" for t in ACTIVITY_TABLES if t in have)
        self.sql(f"TRUNCATE {names};")

    def max_event_id(self):
        return int(self.sql("SELECT coalesce(max(id), 0) FROM ops.events;"))

    def events_since(self, event_id):
        out = self.sql(
            "SELECT coalesce(json_agg(json_build_object('id', id, 'type', type, 'data', data) "
            "ORDER BY id), '[]') FROM ops.events WHERE id > :'since';", since=str(event_id))
        return json.loads(out)

    def event_types_since(self, event_id):
        return [e["type"] for e in self.events_since(event_id)]

    def add_price(self, provider, model, valid_from, prompt, completion, cached=0):
        self.sql("INSERT INTO ops.pricing (provider, model, valid_from, usd_per_m_prompt, "
                 "usd_per_m_completion, usd_per_m_cached) "
                 "VALUES (:'provider', :'model', :'valid_from', :'p', :'c', :'cached');",
                 provider=provider, model=model, valid_from=iso(valid_from),
                 p=str(prompt), c=str(completion), cached=str(cached))

    def count(self, table):
        assert table in ACTIVITY_TABLES, table
        return int(self.sql(f"SELECT count(*) FROM ops.{table};"))


def expect_json(resp, status, what):
    assert resp.status_code == status, f"{what}: expected HTTP {status}, the client saw {helpers.describe(resp)}"
    return helpers.parse_json(resp)


def assert_ingest_error(body, index, code, what=""):
    """The ingest answer lists exactly one error for `index`, with `code` and a message."""
    errs = [e for e in body.get("errors", []) if e.get("index") == index]
    assert len(errs) == 1, f"{what}: expected one error for record {index} ({code}), answer {body!r}"
    assert errs[0].get("code") == code, f"{what}: record {index} should be {code!r}, answer {body!r}"
    assert isinstance(errs[0].get("message"), str) and errs[0]["message"].strip(), \
        f"{what}: error for record {index} has no human message: {body!r}"


def assert_rate(actual, fraction, what):
    """A rate the contract does not scale: accept the fraction (0.25) or the percentage (25.0)."""
    assert actual is not None, f"{what} is null, expected {fraction} (or {fraction * 100} %)"
    assert actual == pytest.approx(fraction, abs=1e-6) or actual == pytest.approx(fraction * 100, abs=1e-4), \
        f"{what} is {actual!r}, expected {fraction} (as a fraction) or {fraction * 100} (as a percentage)"


def percentile(values, p):
    """Linear interpolation between closest ranks, k = (n-1)·p/100."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the run aggregates (migrations 0014, 0016) against ops.runs --------------------------

# Rows of ops.run_rollup_now (folded + pending, summed) that differ from ops.runs recomputed, in
# either direction. Zero rows on both sides are equal to no row.
RUN_ROLLUP_DIFF_SQL = """
WITH raw AS (
  SELECT 's'::"char" AS axis, date_trunc('hour', started_at, 'UTC') AS bucket, agent_id AS key,
         count(*) AS runs, 0::bigint AS failed, coalesce(sum(cost_usd), 0) AS cost, count(cost_usd) AS costs,
         0::numeric AS duration_sum, 0::bigint AS durations
  FROM ops.runs WHERE started_at IS NOT NULL GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'u'::"char", date_trunc('day', started_at, 'UTC'), user_id, count(*), 0, coalesce(sum(cost_usd), 0), count(cost_usd), 0, 0
  FROM ops.runs WHERE started_at IS NOT NULL AND user_id IS NOT NULL GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'h'::"char", date_trunc('hour', started_at, 'UTC'), user_id, count(*), 0, 0, 0, 0, 0
  FROM ops.runs WHERE started_at IS NOT NULL AND user_id IS NOT NULL GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'f'::"char", date_trunc('hour', finished_at, 'UTC'), '', 0, count(*) FILTER (WHERE status = 'failed'),
         coalesce(sum(cost_usd), 0), count(cost_usd), 0, 0
  FROM ops.runs WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'c'::"char", date_trunc('day', finished_at, 'UTC'), user_id, 0, 0, sum(cost_usd), count(*), 0, 0
  FROM ops.runs WHERE finished_at IS NOT NULL AND user_id IS NOT NULL AND cost_usd IS NOT NULL GROUP BY 1, 2, 3
  UNION ALL
  SELECT 'o'::"char", date_trunc('hour', created_at, 'UTC'), status, count(*), 0, 0, 0,
         coalesce(sum(duration_ms) FILTER (WHERE status = 'success'), 0), count(duration_ms) FILTER (WHERE status = 'success')
  FROM ops.runs GROUP BY 1, 2, 3
), agg AS (
  SELECT axis, bucket, key, sum(runs) AS runs, sum(failed) AS failed, sum(cost) AS cost, sum(costs) AS costs,
         sum(duration_sum) AS duration_sum, sum(durations) AS durations
  FROM ops.run_rollup_now GROUP BY 1, 2, 3
)
SELECT json_agg(d) FROM (
  (SELECT 'missing' AS side, * FROM (SELECT * FROM raw WHERE runs <> 0 OR failed <> 0 OR cost <> 0 OR costs <> 0
                                      OR duration_sum <> 0 OR durations <> 0
                                      EXCEPT SELECT * FROM agg) m)
  UNION ALL
  (SELECT 'extra', * FROM (SELECT * FROM agg WHERE runs <> 0 OR failed <> 0 OR cost <> 0 OR costs <> 0
                           OR duration_sum <> 0 OR durations <> 0
                           EXCEPT SELECT * FROM raw) e)
) d;
"""


def assert_rollup_matches(o, what):
    diff = o.sql(RUN_ROLLUP_DIFF_SQL)
    assert diff == "", f"after {what}, ops.run_rollup_now differs from ops.runs: {diff}"


def assert_rollup_not_empty(o):
    # A comparison of two empty sides cannot fail: make sure there was something to compare.
    n = int(o.sql("SELECT count(*) FROM ops.run_rollup_now;"))
    assert n > 0, "ops.run_rollup_now has no rows although runs were written"


def hold_in_second_session(o, statement, app, lock_filter):
    """Runs `statement` (BEGIN; take a lock; pg_sleep(...); COMMIT) in a second psql session named
    `app` and returns its process once a lock matching `lock_filter` (SQL on pg_locks l) is
    granted to it. The caller waits for the process."""
    holder = subprocess.Popen(["psql", o.db_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
                              env=dict(os.environ, PGAPPNAME=app),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def granted():
        assert holder.poll() is None, f"the lock holder exited: {holder.stderr.read()}"
        n = o.sql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                  f"WHERE a.application_name = :'app' AND l.granted AND ({lock_filter});", app=app)
        assert n == "1", f"{app} does not hold its lock yet"
    eventually(granted, timeout=5.0, interval=0.1)
    return holder


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def ops(stack):
    """The stack under test (from conftest's `stack`)."""
    o = Ops(stack.env)
    yield o
    o.http.close()


@pytest.fixture
def clean(ops):
    """Empty activity tables and a clock at least 3 minutes away from midnight UTC."""
    wait_away_from_midnight()
    ops.truncate()
    return ops


BUDGET_LIMITS = {"DAILY_COST_PER_USER_CENTS": "100", "DAILY_COST_GLOBAL_CENTS": "1000",
                 "DAILY_RUNS_PER_USER": "3"}


@pytest.fixture(scope="module")
def budget_stack(stack):
    """A stack of our own with budget limits: $1.00 per user, $10.00 global, 3 runs per user.
    Started once per module and always taken down (same STATE). Its STATE is the stack under
    test's plus `-budget` (e.g. .opsplane-test-budget), so two test runs on two stacks never
    share one; OPS_BUDGET_STATE overrides it."""
    state = Path(os.environ.get("OPS_BUDGET_STATE") or f"{stack.state}-budget")
    scratch = None
    if len(str(state)) > 80:   # stack.sh's limit (unix socket paths): a short scratch STATE
        scratch = state = Path(tempfile.mkdtemp(prefix="ops-budget-", dir="/tmp"))
        state.chmod(0o755)   # Postgres runs as its own user and must enter it
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPS_", "DAILY_")) or k == "OPS_PG_BIN"}
    env.update(STATE=str(state), PORT=str(free_port()), DEMO="0", OPS_WORKERS="1", **BUDGET_LIMITS)
    if os.environ.get("OPSPLANE_BIN"):
        env["OPSPLANE_BIN"] = os.environ["OPSPLANE_BIN"]
    try:
        # A fresh cluster every time (as deploy/test.sh does): a leftover stack in this STATE is
        # stopped first, and only what stack.sh creates is removed. Alerts and their de-bounce
        # state from an earlier run must not leak into this one.
        subprocess.run([str(STACK_SH), "down"], env=env, cwd=REPO, capture_output=True, text=True,
                       timeout=120)
        for sub in ("pg", "run", "logs", "nginx"):
            shutil.rmtree(state / sub, ignore_errors=True)
        (state / "run.env").unlink(missing_ok=True)
        proc = subprocess.run([str(STACK_SH), "up"], env=env, cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (f"could not start the budget stack (STATE={state}): exit "
                                      f"{proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        run_env = helpers.parse_env_file(state / "run.env")
        o = Ops(run_env)
        yield o
        o.http.close()
    finally:
        subprocess.run([str(STACK_SH), "down"], env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=120)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def budget_ops(budget_stack):
    wait_away_from_midnight()
    budget_stack.truncate()
    return budget_stack
