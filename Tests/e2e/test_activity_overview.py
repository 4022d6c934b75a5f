"""GET /api/v1/ops/overview (rolling 24h/7d) and GET /api/v1/ops/queue (from queue heartbeats)."""

import datetime as dt

import pytest

import helpers
from activity_helpers import (agent, ago, assert_rate, clean, eventually, finished_run, heartbeat, iso,  # noqa: F401
                              llm_call, now, ops, parse_out_ts, run)

STATES = ("queued", "running", "success", "failed", "canceled")


def overview_where(ops, period, check_fn):
    def check():
        o = ops.overview(period)
        check_fn(o)
        return o
    return eventually(check)


def test_empty_overview_has_the_documented_shape_and_nulls(clean):
    def check(o):
        assert o["period"] == "24h", f"default period is 24h: {o!r}"
        r = o["runs"]
        assert r["total"] == 0 and r["by_state"] == {s: 0 for s in STATES}, f"empty runs: {r!r}"
        assert r["success_rate"] is None and r["avg_runtime_ms"] is None, f"no runs: rates null: {r!r}"
        llm = o["llm"]
        assert (llm["calls"], llm["prompt_tokens"], llm["completion_tokens"], llm["total_tokens"]) == (0, 0, 0, 0), llm
        assert llm["error_rate"] is None and llm["cost_usd"] is None and llm["by_model"] == [], llm
        assert o["recent_failures"] == [], o
    overview_where(clean, None, check)


def test_runs_by_state_counts_runs_created_in_the_rolling_window(clean):
    ops = clean
    t = ago(hours=2)
    recs = [
        run("r-q", "ag-1", "queued", t),
        run("r-r", "ag-1", "running", t, started_at=t),
        finished_run("r-s1", "ag-1", t, t + dt.timedelta(seconds=1)),
        finished_run("r-s2", "ag-1", t, t + dt.timedelta(seconds=3)),
        finished_run("r-f", "ag-1", t, t + dt.timedelta(seconds=2), status="failed", error="x"),
        run("r-c", "ag-1", "canceled", t),
        finished_run("r-30h", "ag-1", ago(hours=30), ago(hours=29)),       # 7d only
        finished_run("r-3d", "ag-1", ago(days=3), ago(days=3) + dt.timedelta(seconds=5)),  # 7d only
        finished_run("r-8d", "ag-1", ago(days=8), ago(days=8) + dt.timedelta(seconds=5)),  # neither
    ]
    ops.ingest_ok(recs)

    def check24(o):
        assert o["period"] == "24h"
        assert o["runs"]["by_state"] == {"queued": 1, "running": 1, "success": 2, "failed": 1, "canceled": 1}, \
            f"24h by_state: {o['runs']['by_state']!r}"
        assert o["runs"]["total"] == 6, f"24h total: {o['runs']!r}"
    overview_where(ops, "24h", check24)

    def check7d(o):
        assert o["period"] == "7d"
        assert o["runs"]["by_state"]["success"] == 4 and o["runs"]["total"] == 8, \
            f"7d should add the runs created 30 h and 3 days ago, not 8 days ago: {o['runs']!r}"
    overview_where(ops, "7d", check7d)


def test_success_rate_and_average_runtime(clean):
    ops = clean
    t = ago(hours=1)
    ops.ingest_ok([
        finished_run("r-1", "ag-1", t, t + dt.timedelta(seconds=1), duration_ms=1000),
        finished_run("r-2", "ag-1", t, t + dt.timedelta(seconds=2), duration_ms=2000),
        finished_run("r-3", "ag-1", t, t + dt.timedelta(seconds=3), duration_ms=3000),
        run("r-4", "ag-1", "failed", t, finished_at=t + dt.timedelta(seconds=4), error="boom"),
    ])

    def check(o):
        assert_rate(o["runs"]["success_rate"], 0.75, "success_rate of 3 success + 1 failed")
        assert o["runs"]["avg_runtime_ms"] == pytest.approx(2000), \
            f"average runtime of the success runs (1, 2, 3 s) is 2000 ms: {o['runs']!r}"
    overview_where(ops, "24h", check)


def test_llm_usage_totals_error_rate_and_by_model(clean):
    ops = clean
    t = ago(minutes=30)
    ops.ingest_ok([
        llm_call("c-1", t, "openai", "gpt-x", prompt_tokens=100, completion_tokens=50, latency_ms=100,
                 status="ok", cost_usd=0.01),
        llm_call("c-2", t, "openai", "gpt-x", prompt_tokens=300, completion_tokens=150, latency_ms=300,
                 status="error", error_code="timeout", cost_usd=None),
        llm_call("c-3", t, "anthropic", "claude-y", prompt_tokens=10, completion_tokens=5, latency_ms=50,
                 status="ok", cost_usd=None),
        # status ok but an error_code: an error too.
        llm_call("c-4", t, "anthropic", "claude-y", prompt_tokens=10, completion_tokens=5, latency_ms=150,
                 status="ok", error_code="content_filter", cost_usd=None),
        llm_call("c-old", ago(hours=30), "openai", "gpt-x", prompt_tokens=9999, completion_tokens=1,
                 status="ok", cost_usd=5.0),
    ])

    def check(o):
        llm = o["llm"]
        assert (llm["calls"], llm["prompt_tokens"], llm["completion_tokens"], llm["total_tokens"]) == \
            (4, 420, 210, 630), f"24h llm totals: {llm!r}"
        assert_rate(llm["error_rate"], 0.5, "llm error_rate (2 of 4 calls: status != ok or error_code)")
        assert llm["cost_usd"] == pytest.approx(0.01), f"known llm cost in 24h is 0.01: {llm!r}"
        by = {(m["provider"], m["model"]): m for m in llm["by_model"]}
        assert set(by) == {("openai", "gpt-x"), ("anthropic", "claude-y")}, llm["by_model"]
        g = by[("openai", "gpt-x")]
        assert (g["calls"], g["prompt_tokens"], g["completion_tokens"], g["total_tokens"]) == (2, 400, 200, 600), g
        assert g["avg_latency_ms"] == pytest.approx(200), g
        assert_rate(g["error_rate"], 0.5, "gpt-x error_rate")
        assert g["cost_usd"] == pytest.approx(0.01), g
        c = by[("anthropic", "claude-y")]
        assert c["avg_latency_ms"] == pytest.approx(100), c
        assert_rate(c["error_rate"], 0.5, "claude-y error_rate (one call has an error_code)")
        assert c["cost_usd"] is None, f"claude-y has only unknown costs: cost_usd null: {c!r}"
    overview_where(ops, "24h", check)

    def check7d(o):
        assert o["llm"]["calls"] == 5 and o["llm"]["cost_usd"] == pytest.approx(5.01), o["llm"]
    overview_where(ops, "7d", check7d)


def test_recent_failures_are_the_last_10_newest_first(clean):
    ops = clean
    recs = [agent("ag-1", "Failing <agent>")]
    for i in range(12):
        start = ago(minutes=50 - i)
        recs.append(finished_run(f"r-{i:02d}", "ag-1", start, start + dt.timedelta(seconds=30),
                                 status="failed", error=f"error number {i}"))
    recs.append(finished_run("r-ok", "ag-1", ago(minutes=5), ago(minutes=4)))
    ops.ingest_ok(recs)

    def check(o):
        rf = o["recent_failures"]
        assert [f["run_id"] for f in rf] == [f"r-{i:02d}" for i in range(11, 1, -1)], \
            f"the last 10 failures, newest first: {[f['run_id'] for f in rf]}"
        first = rf[0]
        assert first["agent_id"] == "ag-1" and first["agent_name"] == "Failing <agent>", first
        assert first["error"] == "error number 11", first
        finished = parse_out_ts(first["finished_at"], "recent_failures[0].finished_at")
        want = ago(minutes=39) + dt.timedelta(seconds=30)
        assert abs((finished - want).total_seconds()) < 90, f"finished_at {first['finished_at']} is not {iso(want)}"
    overview_where(ops, "24h", check)


def test_recent_failure_finished_at_is_normalised_to_utc(clean):
    ops = clean
    fin = ago(minutes=10).replace(microsecond=0)
    ops.ingest_ok([run("r-1", "ag-1", "failed", ago(minutes=20),
                       finished_at=iso(fin, offset=dt.timedelta(hours=5, minutes=30)), error="tz")])

    def check(o):
        rf = o["recent_failures"]
        assert len(rf) == 1, rf
        got = parse_out_ts(rf[0]["finished_at"], "finished_at")
        assert got == fin, f"finished_at sent as {iso(fin, offset=dt.timedelta(hours=5, minutes=30))} " \
                           f"should read {iso(fin)}, got {rf[0]['finished_at']}"
    overview_where(ops, "24h", check)


@pytest.mark.parametrize("period", ["30d", "1h", "24", "", "7D"])
def test_unknown_period_is_400_listing_the_periods(ops, period):
    resp = ops.get("/api/v1/ops/overview", {"period": period})
    err = helpers.assert_error_envelope(resp, 400, "invalid_parameter")
    assert "24h" in err["message"] and "7d" in err["message"], \
        f"period={period!r}: the message should list 24h and 7d: {err['message']!r}"


def test_unknown_query_parameter_on_overview_is_400(ops):
    helpers.assert_error_envelope(ops.get("/api/v1/ops/overview", {"period": "24h", "org": "x"}), 400,
                                  "invalid_parameter")


# --- queue ----------------------------------------------------------------------------------

def test_queue_lists_the_latest_heartbeat_of_each_queue_sorted_by_component(clean):
    ops = clean
    t_old, t_new = ago(seconds=120).replace(microsecond=0), ago(seconds=10).replace(microsecond=0)
    ops.ingest_ok([
        heartbeat("q-mail", "queue", "ok", t_old, metrics={"depth": 50, "processing_rate": 1.0, "failed": 9}),
        heartbeat("q-runs", "queue", "degraded", t_old, metrics={"depth": 7, "processing_rate": 3.5, "failed": 1}),
        heartbeat("worker-1", "worker", "ok", t_new, metrics={"depth": 1000}),
    ])
    ops.ingest_ok([
        heartbeat("q-mail", "queue", "ok", t_new, metrics={"depth": 5, "processing_rate": 12.5, "failed": 2}),
    ])

    def check():
        q = ops.queue()
        names = [x["component"] for x in q["queues"]]
        assert names == ["q-mail", "q-runs"], f"queue components only, sorted by name: {names}"
        mail, runs = q["queues"]
        assert (mail["status"], mail["depth"], mail["processing_rate"], mail["failed"]) == ("ok", 5, 12.5, 2), \
            f"q-mail should show its latest heartbeat: {mail!r}"
        assert (runs["status"], runs["depth"], runs["processing_rate"], runs["failed"]) == ("degraded", 7, 3.5, 1), runs
        assert parse_out_ts(mail["ts"], "q-mail ts") == t_new, mail
        assert abs(mail["age_s"] - (now() - t_new).total_seconds()) < 15, f"age_s of a 10 s old heartbeat: {mail!r}"
        assert abs(runs["age_s"] - (now() - t_old).total_seconds()) < 15, f"age_s of a 120 s old heartbeat: {runs!r}"
        assert q["total_depth"] == 12, f"total_depth = 5 + 7 (worker heartbeats excluded): {q!r}"
    eventually(check)


def test_a_late_older_heartbeat_does_not_replace_the_newer_one(clean):
    ops = clean
    t_old, t_new = ago(seconds=120).replace(microsecond=0), ago(seconds=10).replace(microsecond=0)
    ops.ingest_ok([heartbeat("q-1", "queue", "ok", t_new, metrics={"depth": 3, "processing_rate": 1.0, "failed": 0})])
    ops.ingest_ok([heartbeat("q-1", "queue", "down", t_old, metrics={"depth": 99, "processing_rate": 0.0,
                                                                     "failed": 9})])

    def check():
        q = ops.queue()
        assert [(x["status"], x["depth"]) for x in q["queues"]] == [("ok", 3)], \
            f"a heartbeat from 2 minutes ago arriving after one from 10 s ago replaced it: {q!r}"
    eventually(check)


def test_output_timestamps_have_at_most_milliseconds(clean):
    ops = clean
    ts = ago(seconds=30)
    sent = ts.strftime("%Y-%m-%dT%H:%M:%S") + ".123456Z"
    ops.ingest_ok([heartbeat("q-1", "queue", "ok", sent, metrics={"depth": 1, "processing_rate": 1, "failed": 0}),
                   run("r-1", "ag-1", "failed", ago(seconds=60), finished_at=sent, error="x")])

    def check():
        q = ops.queue()["queues"][0]
        got = parse_out_ts(q["ts"], "queue ts")
        assert got.replace(microsecond=0) == ts.replace(microsecond=0), f"{sent} came back as {q['ts']}"
        f = ops.overview("24h")["recent_failures"][0]
        parse_out_ts(f["finished_at"], "recent_failures finished_at")
    eventually(check)


def test_empty_queue_answer(clean):
    def check():
        q = clean.queue()
        assert q == {"queues": [], "total_depth": 0}, f"no heartbeats: {q!r}"
    eventually(check)


def test_unknown_query_parameter_on_queue_is_400(ops):
    helpers.assert_error_envelope(ops.get("/api/v1/ops/queue", {"component": "x"}), 400, "invalid_parameter")
