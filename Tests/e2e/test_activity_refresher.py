"""The answer refresher (README "Freshness"), through the real workers and Postgres.

An expensive answer (one whose computation took more than OPS_CACHE_CHEAP_MS) is only ever
recomputed by the refresher. With small test data every answer is cheap, so these tests mark
the cached summary expensive by hand (compute_ms in ops.api_cache) and watch when the
refresher replaces it (computed_at moves):

- data changed: once it is as old as its last computation took (at once for a quick one);
- data unchanged: not before twice its computation time (only its rolling windows move), and
  then it is: an idle dashboard at 1M runs no longer keeps a core busy recomputing the same
  numbers every 1.5 s;
- slow answers that do not read today's duration histograms (top agents over 7 or 30 days) are
  refreshed by a second lane with its own lock, also while the main lane is held up.
"""

import os
import time

import pytest

from activity_helpers import clean, ops, eventually, finished_run, ago, hold_in_second_session  # noqa: F401

SUMMARY = "summary:%"


def _computed_at(o, key=SUMMARY):
    """A cached answer's computed_at (epoch seconds, as text), or '' when not cached."""
    return o.sql("SELECT extract(epoch FROM computed_at)::text FROM ops.api_cache WHERE key LIKE :'k';", k=key)


def _mark_expensive(o, compute_ms, key=SUMMARY, ended_s_ago=0):
    """Pretend the last computation took compute_ms and ended ended_s_ago seconds ago;
    returns its stamp."""
    out = o.sql("UPDATE ops.api_cache SET compute_ms = :'ms', "
                "computed_at = clock_timestamp() - make_interval(secs => :'ago'), "
                "last_read_at = clock_timestamp() WHERE key LIKE :'k' "
                "RETURNING extract(epoch FROM computed_at)::text;", k=key, ms=compute_ms, ago=ended_s_ago)
    assert out, f"{key} was not cached after a GET"
    return out


def _cached_summary(o):
    o.ingest_ok([finished_run("r-refresh-1", "ag-1", ago(minutes=2), ago(minutes=1))])
    o.summary()
    eventually(lambda: _assert(_computed_at(o) != "", "summary not cached"))


def _assert(cond, message):
    assert cond, message


def _assert_kept_then_refreshed(o, stamp, kept_s, timeout, too_soon, never):
    """The summary cached under `stamp` is still the same after kept_s seconds, then replaced
    within `timeout` seconds."""
    t0 = time.monotonic()
    time.sleep(kept_s)
    assert _computed_at(o) == stamp, f"{too_soon} ({time.monotonic() - t0:.1f} s)"

    def refreshed():
        assert _computed_at(o) != stamp, never
    eventually(refreshed, timeout=timeout, interval=0.2)


def test_unchanged_data_waits_twice_the_computation_then_is_refreshed(clean):
    o = clean
    _cached_summary(o)
    stamp = _mark_expensive(o, 2500)  # due again 5 s after it ended, not at 1.5 s
    _assert_kept_then_refreshed(o, stamp, 3.0, 15.0,
                                "the refresher recomputed an expensive answer of unchanged data before twice "
                                "its computation time (5 s) had passed",
                                "the refresher never recomputed the answer of unchanged data")


def test_changed_data_is_refreshed_at_once(clean):
    o = clean
    _cached_summary(o)
    # Its last computation (8 s) ended 8 s ago; unchanged, it would wait 10 s (the ceiling).
    stamp = _mark_expensive(o, 8000, ended_s_ago=8)
    o.ingest_ok([finished_run("r-refresh-2", "ag-1", ago(seconds=90), ago(seconds=30))])

    def refreshed():
        assert _computed_at(o) != stamp, "an expensive answer was not recomputed after its data changed"
    eventually(refreshed, timeout=6.0, interval=0.2)
    runs = o.sql("SELECT body::json->>'runs_today' FROM ops.api_cache WHERE key LIKE :'k';", k=SUMMARY)
    assert runs == "2", f"the refreshed summary should count both runs, has runs_today={runs!r}"


def test_changed_data_waits_as_long_as_the_last_computation_took(clean):
    """Under steady writes the data changes every round: a slow answer recomputed back to back
    would keep a refresher busy for as long as someone reads it."""
    o = clean
    _cached_summary(o)
    stamp = _mark_expensive(o, 4000)  # 4 s, ended just now
    o.ingest_ok([finished_run("r-refresh-5", "ag-1", ago(seconds=90), ago(seconds=30))])
    _assert_kept_then_refreshed(o, stamp, 2.5, 10.0,
                                "the refresher recomputed a 4 s answer of changed data before it was 4 s old",
                                "the refresher never recomputed the answer of changed data")


def _request_ms(o, key=SUMMARY):
    return o.sql("SELECT coalesce(request_ms::text, 'null') FROM ops.api_cache WHERE key LIKE :'k';", k=key)


def test_an_answer_a_request_found_expensive_stays_the_refreshers(clean):
    """The refresher computes the summary from its histograms in a fraction of what a request
    takes with percentile_cont (19 ms against 2.7 s for top agents at 1M runs): its quick time
    must not hand the answer back to the requests, which would each compute it for seconds."""
    o = clean
    _cached_summary(o)
    assert _request_ms(o) != "null", "the request that computed the summary did not record its time"
    # As after a refresher's quick computation of an answer a request took 3 s for.
    o.sql("UPDATE ops.api_cache SET compute_ms = 5, request_ms = 3000, last_read_at = clock_timestamp() "
          "WHERE key LIKE :'k';", k=SUMMARY)
    stamp = _computed_at(o)
    o.ingest_ok([finished_run("r-refresh-7", "ag-1", ago(seconds=90), ago(seconds=30))])
    o.summary()

    def refreshed_by_the_refresher():
        assert _computed_at(o) != stamp, "the summary was not recomputed after its data changed"
        assert _request_ms(o) == "3000", "a request recomputed an answer it had found expensive"
    eventually(refreshed_by_the_refresher, timeout=6.0, interval=0.2)
    runs = o.sql("SELECT body::json->>'runs_today' FROM ops.api_cache WHERE key LIKE :'k';", k=SUMMARY)
    assert runs == "2", f"the refreshed summary should count both runs, has runs_today={runs!r}"

    # Without a request's time a quick answer is the requests' again: recomputed in the read.
    o.sql("UPDATE ops.api_cache SET compute_ms = 5, request_ms = NULL WHERE key LIKE :'k';", k=SUMMARY)
    o.ingest_ok([finished_run("r-refresh-8", "ag-1", ago(seconds=90), ago(seconds=30))])
    assert o.summary()["runs_today"] == 3, "a cheap answer was not recomputed in the request"
    assert _request_ms(o) != "null", "the request's computation did not record its time"


TOP7 = "top:agents:7d:5:%"
MAIN_LANE_APP = "opsplane-refresher"
LOCK_HOLDER_APP = "e2e-refresher-lock"


def _lock_table(o, table, seconds):
    """A second session holding `table` exclusively for `seconds`; returns once it holds it."""
    return hold_in_second_session(o, f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({seconds}); COMMIT;",
                                  LOCK_HOLDER_APP, "l.mode = 'AccessExclusiveLock'")


def test_slow_answers_are_refreshed_while_the_main_lane_is_held_up(clean):
    """Top agents over 7 days marked slow (2 s) is refreshed by the slow lane while the main
    lane waits for a lock; the summary, which reads today's histograms, stays in the main lane
    and waits with it."""
    o = clean
    _cached_summary(o)
    o.top("agents", "7d", 5)
    eventually(lambda: _assert(_computed_at(o, TOP7) != "", "top agents 7d not cached"))
    # Both lanes are running, each holding its own advisory lock.
    lanes = o.sql("SELECT string_agg(a.application_name, ',' ORDER BY a.application_name) FROM pg_locks l "
                  "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                  "AND ((l.classid::bigint << 32) | l.objid::bigint) IN (7286412098152, 7286412098154);")
    assert lanes == "opsplane-refresher,opsplane-refresher-slow", f"refresher lanes holding their locks: {lanes!r}"
    o.ingest_ok([finished_run("r-refresh-6", "ag-1", ago(seconds=90), ago(seconds=30))])
    # Hold the main lane up: each round it first takes the pending duration rows.
    holder = _lock_table(o, "ops.run_duration_pending", 8)
    try:
        def main_lane_waits():
            assert holder.poll() is None, f"the lock holder exited: {holder.stderr.read()}"
            waiting = o.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = :'app' "
                            "AND wait_event_type = 'Lock';", app=MAIN_LANE_APP)
            assert waiting == "1", "the main lane is not waiting for the lock yet"
        eventually(main_lane_waits, timeout=5.0, interval=0.1)
        summary_stamp = _mark_expensive(o, 2000, ended_s_ago=3)
        top_stamp = _mark_expensive(o, 2000, key=TOP7, ended_s_ago=3)

        def top_refreshed():
            assert _computed_at(o, TOP7) != top_stamp, "the slow lane did not refresh top agents 7d"
        eventually(top_refreshed, timeout=4.0, interval=0.2)
        assert _computed_at(o) == summary_stamp, "the summary was refreshed while the main lane was held up"
    finally:
        holder.wait(timeout=20)

    def summary_refreshed():
        assert _computed_at(o) != summary_stamp, "the main lane did not refresh the summary after the lock went"
    eventually(summary_refreshed, timeout=10.0, interval=0.2)


def test_an_answer_slower_than_the_statement_timeout_is_handed_to_the_refresher(clean):
    """A cold answer that outlasts the request's statement timeout (5 s on the test stack) is
    not lost: the request answers 503 answer_computing with Retry-After, and the refresher,
    which has no timeout, computes it; the next read gets it. Made slow here by holding the
    run aggregates' table for 7 s."""
    o = clean
    timeout_s = int(os.environ.get("OPS_DB_STATEMENT_TIMEOUT_MS", "5000")) / 1000
    if timeout_s == 0:
        pytest.skip("the stack runs without a statement timeout (OPS_DB_STATEMENT_TIMEOUT_MS=0)")
    o.ingest_ok([finished_run("r-refresh-9", "ag-1", ago(seconds=90), ago(seconds=30))])
    holder = _lock_table(o, "ops.run_rollup", timeout_s + 2)
    try:
        t0 = time.monotonic()
        r = o.get("/api/ops/top", {"kind": "agents", "window": "7d", "limit": "5"})
        waited = time.monotonic() - t0
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.json()["error"]["code"] == "answer_computing", r.text
        assert r.headers.get("Retry-After") == "5", r.headers
        assert waited >= timeout_s - 1, f"answered after {waited:.1f} s: the statement timeout did not apply"
        # The refresher's computation waits for the table too: the placeholder is still there.
        placeholder = o.sql("SELECT body = '' FROM ops.api_cache WHERE key LIKE :'k';", k=TOP7)
        assert placeholder == "t", f"no placeholder was left for the refresher: {placeholder!r}"
    finally:
        holder.wait(timeout=20)

    def computed_by_the_refresher():
        r = o.get("/api/ops/top", {"kind": "agents", "window": "7d", "limit": "5"})
        assert r.status_code == 200, (r.status_code, r.text)
        assert [a["agent_id"] for a in r.json()] == ["ag-1"], r.text
    eventually(computed_by_the_refresher, timeout=15.0, interval=0.5)


TOP = "top:agents:today:5:%"


def test_an_answer_without_a_rolling_window_is_not_recomputed_while_data_is_unchanged(clean):
    """Top agents of today cover a whole calendar day named in the key: while no data changes
    the cached answer is exact at any age, so neither the refresher nor a request recomputes
    it (the summary, with its rolling windows, would be recomputed after 1.5 s here)."""
    o = clean
    o.ingest_ok([finished_run("r-refresh-3", "ag-1", ago(minutes=2), ago(minutes=1))])
    o.top("agents", limit=5)
    eventually(lambda: _assert(_computed_at(o, TOP) != "", "top not cached"))
    stamp = _mark_expensive(o, 2500, key=TOP, ended_s_ago=40)
    # Older than the request path's 30 s limit and the refresher's 10 s ceiling: still served.
    top = o.top("agents", limit=5)
    assert [a["runs"] for a in top] == [1], top
    time.sleep(2.5)
    assert _computed_at(o, TOP) == stamp, "an answer of unchanged data without a rolling window was recomputed"

    o.ingest_ok([finished_run("r-refresh-4", "ag-1", ago(seconds=90), ago(seconds=30))])

    def refreshed():
        assert _computed_at(o, TOP) != stamp, "the top answer was not recomputed after its data changed"
    eventually(refreshed, timeout=6.0, interval=0.2)
    eventually(lambda: _assert([a["runs"] for a in o.top("agents", limit=5)] == [2],
                               "the refreshed top answer does not count the new run"), timeout=6.0, interval=0.2)
