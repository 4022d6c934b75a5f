"""The run aggregates (migrations 0014 and 0016, README "Freshness"): ops.run_rollup and its pending rows,
kept by statement triggers on ops.runs and folded by the refresher.

Summary, timeseries and top read their counts and costs from them, so a divergence would be a
wrong number on the dashboard. Each test writes through a different path (ingest batches that
move runs queued -> running -> success/failed, concurrent batches on the same runs, SQL UPDATE
and DELETE as retention does, TRUNCATE) and then compares every aggregate row with the same
numbers recomputed from ops.runs.
"""

import concurrent.futures
import json
import subprocess
import time

from activity_helpers import (clean, ops, eventually, run, finished_run, ago, today_ago, today_start,  # noqa: F401
                              assert_rollup_matches, assert_rollup_not_empty)
import datetime as dt


def pending(o):
    return int(o.sql("SELECT count(*) FROM ops.run_rollup_pending;"))


def test_runs_moving_through_states_keep_the_aggregates_exact(clean):
    o = clean
    t = ago(minutes=50)
    yesterday_late = today_start() - dt.timedelta(minutes=30)
    # queued, then running, then finished: each step moves the run between axes and buckets.
    o.ingest_ok([run(f"r-move-{i}", f"ag-{i % 3}", "queued", t, user_id=f"u-{i % 4}") for i in range(12)]
                + [run("r-nouser", "ag-9", "queued", t)])
    assert_rollup_matches(o, "queued runs")
    o.ingest_ok([run(f"r-move-{i}", f"ag-{i % 3}", "running", t, started_at=t, user_id=f"u-{i % 4}")
                 for i in range(12)]
                + [run("r-nouser", "ag-9", "running", t, started_at=t)])
    assert_rollup_matches(o, "runs started")
    finished = []
    for i in range(12):
        status = "failed" if i % 5 == 0 else "success"
        # Known, unknown (null) and zero costs.
        cost = None if i % 4 == 0 else (0.0 if i % 4 == 1 else 0.0125 * i)
        finished.append(finished_run(f"r-move-{i}", f"ag-{i % 3}", t, ago(minutes=40 - i), status=status,
                                     user_id=f"u-{i % 4}", cost_usd=cost))
    finished.append(finished_run("r-nouser", "ag-9", t, ago(minutes=30), cost_usd=1.5))
    # Alone in its finish hour with no cost and no failure: that hour's 'f' row is all zeros,
    # which the triggers do not write (zeros and no row are the same).
    finished.append(finished_run("r-nocost", "ag-2", ago(hours=5, minutes=10), ago(hours=5), cost_usd=None))
    # A run started yesterday at 23:30 that finished today counts by start in yesterday's
    # bucket and by finish in today's.
    finished.append(finished_run("r-midnight", "ag-1", yesterday_late, today_start() + dt.timedelta(minutes=5),
                                 user_id="u-1", cost_usd=0.25))
    o.ingest_ok(finished)
    assert_rollup_matches(o, "runs finished")
    # A replay changes nothing.
    o.ingest_ok(finished)
    assert_rollup_matches(o, "a replayed batch")
    assert_rollup_not_empty(o)
    # And the answers read the aggregates: runs started today (all of them started at t, which
    # is yesterday in the first 50 minutes of a day; r-midnight always is).
    top = {a["agent_id"]: a["runs"] for a in o.top("agents", limit=10)}
    expected = (4, 4, 1) if t >= today_start() else (0, 0, 0)
    assert (top.get("ag-0", 0), top.get("ag-1", 0), top.get("ag-9", 0)) == expected, top


def test_concurrent_batches_on_the_same_runs_keep_the_aggregates_exact(clean):
    o = clean
    t = ago(minutes=20)
    ids = [f"r-race-{i}" for i in range(200)]

    def batch(status, k):
        recs = []
        for n, run_id in enumerate(ids):
            if status == "queued":
                recs.append(run(run_id, f"ag-{n % 7}", "queued", t, user_id=f"u-{n % 11}"))
            elif status == "running":
                recs.append(run(run_id, f"ag-{n % 7}", "running", t, started_at=t, user_id=f"u-{n % 11}"))
            else:
                recs.append(finished_run(run_id, f"ag-{n % 7}", t, ago(minutes=k % 10 + 1),
                                         status="failed" if n % 9 == 0 else "success",
                                         user_id=f"u-{n % 11}", cost_usd=0.001 * (n % 13)))
        return o.ingest(recs)

    # Every state of the same 200 runs, 12 batches at once: the merge decides the final state,
    # the triggers must count exactly what it wrote.
    jobs = [("queued", k) for k in range(4)] + [("running", k) for k in range(4)] + [("success", k) for k in range(4)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda j: batch(*j), jobs))
    assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers]
    assert_rollup_not_empty(o)
    assert_rollup_matches(o, "12 concurrent batches on the same 200 runs")


def test_sql_updates_deletes_and_truncate_keep_the_aggregates_exact(clean):
    o = clean
    t = ago(hours=2)
    o.ingest_ok([finished_run(f"r-sql-{i}", f"ag-{i % 2}", t, ago(hours=1), user_id=f"u-{i % 3}",
                              cost_usd=0.5, status="failed" if i % 3 == 0 else "success") for i in range(30)])
    # What an operator or retention does by hand.
    o.sql("UPDATE ops.runs SET cost_usd = NULL WHERE run_id IN ('r-sql-1', 'r-sql-2');"
          "UPDATE ops.runs SET agent_id = 'ag-moved', user_id = NULL WHERE run_id = 'r-sql-3';"
          "DELETE FROM ops.runs WHERE run_id IN ('r-sql-4', 'r-sql-5', 'r-sql-6');")
    assert_rollup_not_empty(o)
    assert_rollup_matches(o, "SQL updates and deletes")
    o.sql("TRUNCATE ops.runs;")
    assert o.sql("SELECT count(*) FROM ops.run_rollup_now;") == "0", "TRUNCATE ops.runs left aggregates behind"
    assert o.summary()["runs_today"] == 0


def test_truncate_while_an_answer_reads_the_aggregates_does_not_deadlock(clean):
    o = clean
    o.ingest_ok([finished_run("r-lock-1", "ag-l", ago(minutes=9), ago(minutes=8), user_id="u-l")])
    # An answer being computed reads the aggregates first and ops.runs after, in one
    # transaction; a TRUNCATE of ops.runs in between must neither fail nor make it fail.
    reader = subprocess.Popen(["psql", o.db_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                               "BEGIN; SELECT count(*) FROM ops.run_rollup_now; SELECT pg_sleep(1.5); "
                               "SELECT count(*) FROM ops.runs; COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        o.sql("TRUNCATE ops.runs;")
    finally:
        reader.wait(timeout=15)
    assert reader.returncode == 0, f"the reading transaction failed: {reader.stderr.read()}"
    assert o.sql("SELECT count(*) FROM ops.run_rollup_now;") == "0", "the TRUNCATE left aggregates behind"


def test_pending_rows_count_in_answers_and_the_refresher_folds_them(clean):
    o = clean
    t = today_ago(30)
    # Hold the fold's lock (ops.fold_run_rollup skips while another holds it) so that the rows
    # are seen pending first; the answers must count them all the same.
    holder = subprocess.Popen(["psql", o.db_url, "-X", "-q", "-c",
                               "BEGIN; SELECT pg_advisory_xact_lock(7286412098153); SELECT pg_sleep(4); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        o.ingest_ok([finished_run(f"r-fold-{i}", "ag-f", t, today_ago(10, 90), user_id="u-f", cost_usd=0.1)
                     for i in range(5)])
        time.sleep(0.5)  # several refresher rounds
        assert pending(o) > 0, "the pending rows were folded although the fold's lock was held"
        body = o.summary()
        assert body["runs_today"] == 5 and body["cost_today_usd"] == 0.5, body
        assert_rollup_matches(o, "an ingest whose rows are pending")
    finally:
        holder.wait(timeout=15)
    assert holder.returncode == 0, holder.stderr.read()

    def folded():
        assert pending(o) == 0, f"{pending(o)} pending aggregate rows were not folded"
    eventually(folded, timeout=5.0)
    folded_rows = int(o.sql("SELECT count(*) FROM ops.run_rollup WHERE key IN ('ag-f', 'u-f');"))
    assert folded_rows >= 3, f"the fold moved nothing into ops.run_rollup ({folded_rows} rows)"
    assert_rollup_matches(o, "the fold")
    body = o.summary()
    assert body["runs_today"] == 5 and body["cost_today_usd"] == 0.5, body


def test_active_users_count_whole_hours_from_the_aggregates_and_the_ends_from_runs(clean):
    o = clean
    o.ingest_ok([
        # The first, partial hour of the 24 h (read from ops.runs): in by a minute, out by 30 s.
        run("r-edge-in", "ag-1", "running", ago(hours=23, minutes=59), started_at=ago(hours=23, minutes=59),
            user_id="u-edge-in"),
        run("r-edge-out", "ag-1", "running", ago(hours=24, seconds=30), started_at=ago(hours=24, seconds=30),
            user_id="u-edge-out"),
        # Whole hours (the aggregates), the current hour (ops.runs), twice the same user.
        run("r-mid", "ag-1", "running", ago(hours=12), started_at=ago(hours=12), user_id="u-mid"),
        run("r-mid-2", "ag-2", "running", ago(hours=3), started_at=ago(hours=3), user_id="u-mid"),
        run("r-now", "ag-1", "running", ago(seconds=5), started_at=ago(seconds=5), user_id="u-now"),
        # A clock ahead: started "in 20 s" (inside the current hour unless it is about to end)
        # is not in the last 24 h; nor for u-now, whose other run counts once.
        run("r-ahead", "ag-1", "running", ago(seconds=-20), started_at=ago(seconds=-20), user_id="u-ahead"),
        run("r-now-ahead", "ag-1", "running", ago(seconds=-20), started_at=ago(seconds=-20), user_id="u-now"),
        # Never started: not active. Started, then deleted: not active any more.
        run("r-queued", "ag-1", "queued", ago(hours=6), user_id="u-queued"),
        run("r-gone", "ag-1", "running", ago(hours=8), started_at=ago(hours=8), user_id="u-gone"),
    ])
    o.sql("DELETE FROM ops.runs WHERE run_id = 'r-gone';")
    assert_rollup_matches(o, "runs around the 24 h window")

    def three():
        got = o.summary()["active_users_24h"]
        assert got == 3, f"active_users_24h is {got}; u-edge-in, u-mid and u-now were active (not u-ahead)"
    eventually(three)


# --- the refresher's duration histograms (migration 0014) -------------------------------------

SQL_PERCENTILES = """
SELECT json_build_object(
  'p50', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM ops.runs
          WHERE status = 'success' AND finished_at >= date_trunc('day', now(), 'UTC')
            AND finished_at < date_trunc('day', now(), 'UTC') + interval '1 day'),
  'p95', (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM ops.runs
          WHERE status = 'success' AND finished_at >= date_trunc('day', now(), 'UTC')
            AND finished_at < date_trunc('day', now(), 'UTC') + interval '1 day'),
  'agents', (SELECT json_object_agg(agent_id, p95) FROM (
      SELECT agent_id, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95 FROM ops.runs
      WHERE started_at >= date_trunc('day', now(), 'UTC') AND started_at < date_trunc('day', now(), 'UTC') + interval '1 day'
      GROUP BY agent_id) a));
"""


def _summary_stamp(o):
    return o.sql("SELECT extract(epoch FROM computed_at)::text FROM ops.api_cache WHERE key LIKE 'summary:%';")


def _refreshed_summary(o, what):
    """Mark the cached summary expensive, so that only the refresher (which uses the histograms)
    recomputes it, change nothing else, and return its next answer as the refresher stored it."""
    o.summary()
    eventually(lambda: _assert(_summary_stamp(o) != "", "summary not cached"))
    stamp = o.sql("UPDATE ops.api_cache SET compute_ms = 900, last_read_at = clock_timestamp() "
                  "WHERE key LIKE 'summary:%' RETURNING extract(epoch FROM computed_at)::text;")
    o.sql("SELECT nextval('ops.data_version');")  # data changed: the refresher recomputes it at once

    def recomputed():
        assert _summary_stamp(o) != stamp, f"the refresher did not recompute the summary after {what}"
    eventually(recomputed, timeout=10.0, interval=0.25)
    return json.loads(o.sql("SELECT body FROM ops.api_cache WHERE key LIKE 'summary:%';"))


def _assert(cond, message):
    assert cond, message


def _as_served(v):
    """A float as the API prints it (15 significant digits, JSON_REAL_PRECISION(15))."""
    return None if v is None else float(f"{v:.15g}")


def _assert_percentiles_match_sql(o, body, what):
    want = json.loads(o.sql(SQL_PERCENTILES))
    assert want["p50"] is not None, f"no successful run today to compare after {what}"
    expected = {"p50": _as_served(want["p50"]), "p95": _as_served(want["p95"])}
    assert body["latency_ms"] == expected, (
        f"after {what}, the refresher's latency {body['latency_ms']} is not percentile_cont's {expected}")
    for a in body["top_agents_today"]:
        assert a["p95_ms"] == _as_served(want["agents"][a["agent_id"]]), (
            f"after {what}, {a['agent_id']} p95_ms {a['p95_ms']} is not percentile_cont's {want['agents'][a['agent_id']]}")
    assert body["top_agents_today"], f"no top agents to compare after {what}"


def test_the_refreshers_percentiles_equal_percentile_cont_through_changes(clean):
    o = clean
    t = today_ago(40)  # finished by t + 61 s: today, and in the past
    # Durations with repeats (ranks fall between equal and unequal neighbours) on 3 agents.
    durations = [120, 120, 340, 980, 1500, 1500, 1500, 2200, 4100, 9000, 15000, 61000, 7, 7, 30000]
    o.ingest_ok([finished_run(f"r-pct-{i}", f"ag-{i % 3}", t, t + dt.timedelta(milliseconds=d), duration_ms=d)
                 for i, d in enumerate(durations)])
    _assert_percentiles_match_sql(o, _refreshed_summary(o, "the first batch"), "the first batch")
    # Runs that move: a queued run starting and succeeding, a success replaced by a failure
    # (it leaves the latency histogram), a run deleted by hand, one more agent.
    o.ingest_ok([run("r-pct-q", "ag-3", "queued", ago(minutes=5))])
    o.ingest_ok([finished_run("r-pct-q", "ag-3", ago(minutes=4), ago(minutes=3), duration_ms=777),
                 finished_run("r-pct-1", "ag-1", t, t + dt.timedelta(milliseconds=121000), status="failed",
                              duration_ms=121000)])
    o.sql("DELETE FROM ops.runs WHERE run_id = 'r-pct-11';")
    _assert_percentiles_match_sql(o, _refreshed_summary(o, "moves and a delete"), "moves and a delete")
    # A TRUNCATE (the refresher builds its histograms again) and new data.
    o.sql("TRUNCATE ops.runs;")
    o.ingest_ok([finished_run(f"r-pct-new-{i}", "ag-new", t, t + dt.timedelta(milliseconds=d), duration_ms=d)
                 for i, d in enumerate([50, 60, 70])])
    body = _refreshed_summary(o, "a TRUNCATE")
    _assert_percentiles_match_sql(o, body, "a TRUNCATE")
    assert body["runs_today"] == 3 and body["latency_ms"]["p50"] == 60, body
