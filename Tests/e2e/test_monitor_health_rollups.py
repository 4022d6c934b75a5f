"""Rollups and retention (issue 6): probe samples fold into hourly and daily rows with exact
figures; old rows of every time series are deleted (raw series after 7 days / 48 h, the rest
after OPS_RETENTION_DAYS), recent ones kept. Our monitor runs with OPS_RETENTION_DAYS=80 and the
old rows are 85 days old: the stack's own monitor (90 days by default) leaves them alone, so the
deletions are this monitor's (its log says what it deleted). Kept rows are 75 days old.

API assertions for the lead to add later: /api/monitoring/health/module/<name>?range=7d (or the
performance history) reads probe_rollups for the synthetic service below.
"""

from monitor_health_helpers import db, eventually, monitors, unique  # noqa: F401

RETENTION_DAYS = 80
OLD = "now() - interval '85 days'"
KEEP = "now() - interval '75 days'"


def seed(db, tag):
    """Synthetic rows: `tag`-old must go, `tag`-keep must stay."""
    db.run(f"""
    INSERT INTO ops.probe_samples (service, ts, status, ok, response_ms)
        SELECT :'tag' || '-synthetic', date_trunc('hour', now()) - interval '1 hour' + i * interval '1 minute',
               CASE WHEN i IN (3, 7) THEN 'down' ELSE 'healthy' END, i NOT IN (3, 7),
               CASE WHEN i IN (3, 7) THEN NULL ELSE i END
        FROM generate_series(1, 10) i;
    INSERT INTO ops.probe_samples (service, ts, status, ok) VALUES
        (:'tag' || '-old', now() - interval '8 days', 'healthy', true),
        (:'tag' || '-keep', now() - interval '6 days', 'healthy', true);
    INSERT INTO ops.capacity_samples (ts, disk, memory, load) VALUES
        (now() - interval '8 days' - random() * interval '1 hour', jsonb_build_object('tag', :'tag' || '-old'), '{{}}', '{{}}'),
        (now() - interval '6 days' - random() * interval '1 hour', jsonb_build_object('tag', :'tag' || '-keep'), '{{}}', '{{}}');
    INSERT INTO ops.api_minutes (minute, route_group, requests, errors, client_errors, auth_failures, latency_sum_ms, latency_hist)
    VALUES (date_trunc('minute', now() - interval '3 days'), :'tag' || '-old', 1, 0, 0, 0, 1, '{{1}}'),
           (date_trunc('minute', now() - interval '1 day'), :'tag' || '-keep', 1, 0, 0, 0, 1, '{{1}}');
    INSERT INTO ops.api_rollups (grain, bucket, route_group, requests, errors, client_errors, auth_failures, latency_sum_ms, latency_hist)
    VALUES ('day', date_trunc('day', {OLD}), :'tag' || '-old', 1, 0, 0, 0, 1, '{{1}}'),
           ('day', date_trunc('day', {KEEP}), :'tag' || '-keep', 1, 0, 0, 0, 1, '{{1}}');
    INSERT INTO ops.probe_rollups (grain, service, bucket, samples, failures) VALUES
        ('day', :'tag' || '-old', date_trunc('day', {OLD}), 1, 0),
        ('day', :'tag' || '-keep', date_trunc('day', {KEEP}), 1, 0);
    INSERT INTO ops.system_errors (ts, service, type, message) VALUES
        ({OLD}, :'tag' || '-old', 'probe_failed', 'x'), ({KEEP}, :'tag' || '-keep', 'probe_failed', 'x');
    INSERT INTO ops.heartbeat_samples (component, ts, status) VALUES
        (:'tag' || '-old', {OLD}, 'ok'), (:'tag' || '-keep', {KEEP}, 'ok');
    INSERT INTO ops.notification_outbox (webhook, kind, payload, created_at, sent_at) VALUES
        (:'tag' || '-old', 'test', '{{}}', {OLD}, {OLD}),
        (:'tag' || '-keep', 'test', '{{}}', {OLD}, NULL);  -- never sent: kept whatever its age
    WITH a AS (
        INSERT INTO ops.alerts (rule, severity, state, dedupe_key, title, first_fired_at, last_fired_at, resolved_at)
        VALUES ('hc_test', 'info', 'resolved', :'tag' || '-old', 'x', {OLD}, {OLD}, {OLD}),
               ('hc_test', 'info', 'firing', :'tag' || '-keep', 'x', {OLD}, {OLD}, NULL)
        RETURNING id)
    INSERT INTO ops.alert_history (alert_id, ts, event) SELECT id, {OLD}, 'fired' FROM a;
    INSERT INTO ops.runs (run_id, agent_id, status, created_at) VALUES
        (:'tag' || '-old', 'hc-agent', 'success', {OLD}), (:'tag' || '-keep', 'hc-agent', 'success', {KEEP});
    -- Run and LLM call aggregates are kept two days longer than runs (their buckets trail created_at).
    INSERT INTO ops.run_rollup (axis, bucket, key, runs, failed, cost, costs) VALUES
        ('s', now() - interval '83 days', :'tag' || '-old', 0, 0, 0, 0),
        ('s', now() - interval '81 days', :'tag' || '-keep', 0, 0, 0, 0),
        -- Users by hour serve only the last 24 h: kept two days whatever the retention.
        ('h', now() - interval '3 days', :'tag' || '-hold', 1, 0, 0, 0),
        ('h', now() - interval '1 day', :'tag' || '-hkeep', 1, 0, 0, 0);
    INSERT INTO ops.llm_rollup (bucket, provider, model, calls, prompt_tokens, completion_tokens, latency_sum,
                                latencies, errors, cost, costs) VALUES
        (now() - interval '83 days', :'tag' || '-old', 'hc', 0, 0, 0, 0, 0, 0, 0, 0),
        (now() - interval '81 days', :'tag' || '-keep', 'hc', 0, 0, 0, 0, 0, 0, 0, 0);
    INSERT INTO ops.messages (message_id, thread_id, created_at) VALUES
        (:'tag' || '-old', 'hc-thread', {OLD}), (:'tag' || '-keep', 'hc-thread', {KEEP});
    INSERT INTO ops.llm_calls (id, ts, provider, model) VALUES
        (:'tag' || '-old', {OLD}, 'hc', 'hc'), (:'tag' || '-keep', {KEEP}, 'hc', 'hc');
    """, tag=tag)


# (table, column that holds the tag)
TAGGED = [("ops.probe_samples", "service"), ("ops.capacity_samples", "disk->>'tag'"),
          ("ops.api_minutes", "route_group"), ("ops.api_rollups", "route_group"),
          ("ops.probe_rollups", "service"), ("ops.system_errors", "service"),
          ("ops.heartbeat_samples", "component"), ("ops.notification_outbox", "webhook"),
          ("ops.alerts", "dedupe_key"), ("ops.runs", "run_id"), ("ops.run_rollup", "key"), ("ops.llm_rollup", "provider"),
          ("ops.messages", "message_id"),
          ("ops.llm_calls", "id")]


def remaining(db, tag):
    out = {}
    for table, column in TAGGED:
        rows = db.rows(f"SELECT {column} AS tag FROM {table} WHERE {column} IN (:'o', :'k')", o=f"{tag}-old", k=f"{tag}-keep")
        out[table] = sorted(r["tag"].rsplit("-", 1)[1] for r in rows)
    return out


def test_rollups_and_retention(db, monitors):
    tag = unique("hc-ret")
    try:
        seed(db, tag)
        check_rollups_and_retention(db, monitors, tag)
    finally:
        for table, column in TAGGED:
            db.run(f"DELETE FROM {table} WHERE {column} IN (:'o', :'k', :'s')",
                   o=f"{tag}-old", k=f"{tag}-keep", s=f"{tag}-synthetic")
        db.run("DELETE FROM ops.run_rollup WHERE key IN (:'o', :'k')", o=f"{tag}-hold", k=f"{tag}-hkeep")


def check_rollups_and_retention(db, monitors, tag):
    assert all(v == ["keep", "old"] for v in remaining(db, tag).values()), remaining(db, tag)
    history = db.row("SELECT count(*) AS n FROM ops.alert_history h JOIN ops.alerts a ON a.id = h.alert_id "
                     "WHERE a.dedupe_key = :'k'", k=f"{tag}-old")["n"]
    assert history == 1
    version_before = int(db.row("SELECT last_value AS v FROM ops.data_version")["v"])
    m = monitors.start([], extra_env={"OPS_RETENTION_DAYS": str(RETENTION_DAYS)})

    def deleted():
        assert m.alive(), m.log()
        left = remaining(db, tag)
        assert all(v == ["keep"] for v in left.values()), left
    eventually(deleted, timeout=60)
    # The users-by-hour rule runs before the run aggregates' general one, so it has run too.
    h = db.rows("SELECT key FROM ops.run_rollup WHERE axis = 'h' AND key IN (:'o', :'k')",
                o=f"{tag}-hold", k=f"{tag}-hkeep")
    assert [r["key"] for r in h] == [f"{tag}-hkeep"], h

    # Ledger rows gone change cached answers as new ones do: the data version moved on.
    def version_moved():
        v = int(db.row("SELECT last_value AS v FROM ops.data_version")["v"])
        assert v > version_before, f"ops.data_version stayed at {v} after retention deleted ledger rows"
    eventually(version_moved, timeout=10)
    # The resolved alert's history went with it (ON DELETE CASCADE).
    assert db.row("SELECT count(*) AS n FROM ops.alert_history h LEFT JOIN ops.alerts a ON a.id = h.alert_id "
                  "WHERE a.id IS NULL")["n"] == 0
    log = m.log_path.read_text()
    # Rows older than OPS_RETENTION_DAYS but younger than the stack monitor's 90 days: ours.
    assert "retention deleted old rows" in log, m.log()
    for table in ("ops.runs", "ops.messages", "ops.llm_calls", "ops.alerts", "ops.system_errors"):
        assert f'"{table}":' in log, f"{table} not in the retention log line:\n{m.log()}"

    # The previous hour's 10 samples (2 down; response times 1..10 without 3 and 7).
    def rolled():
        r = db.row("SELECT samples, failures, avg_ms, max_ms, p95_ms FROM ops.probe_rollups "
                   "WHERE grain = 'hour' AND service = :'s'", s=f"{tag}-synthetic")
        assert r is not None, "no hourly rollup yet"
        return r
    hour = eventually(rolled, timeout=30)
    values = [1, 2, 4, 5, 6, 8, 9, 10]
    assert hour["samples"] == 10 and hour["failures"] == 2
    assert abs(hour["avg_ms"] - sum(values) / len(values)) < 1e-9 and hour["max_ms"] == 10
    # percentile_cont(0.95) over 8 values: rank 6.65 → 9 + 0.65 × (10 − 9).
    assert abs(hour["p95_ms"] - 9.65) < 1e-9
    day = db.row("SELECT samples, failures FROM ops.probe_rollups WHERE grain = 'day' AND service = :'s'",
                 s=f"{tag}-synthetic")
    assert day is not None and day["samples"] >= 1
    assert "probe rollups updated" in m.log_path.read_text()
