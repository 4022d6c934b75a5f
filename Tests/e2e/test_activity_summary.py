"""GET /api/ops/summary: every KPI's semantics on small, exactly known data (UTC days).

Each test starts from empty activity tables (`clean`) with the clock at least 3 minutes away
from midnight UTC, places data at 'today 00:00:xx', 'N minutes ago' or on yesterday, and
reads the summary the way the dashboard does (retrying up to 3 s for a cached answer).
"""

import datetime as dt

import pytest

import helpers
from activity_helpers import (agent, ago, clean, eventually, finished_run, iso, message, now, ops,  # noqa: F401
                              parse_out_ts, percentile, run, today_at, today_start)

SUMMARY_KEYS = {"runs_today", "cost_today_usd", "budget_user", "budget_global", "active_users_24h",
                "agents_total", "agents_scheduled", "latency_ms", "errors_last_hour",
                "top_agents_today", "generated_at"}


def yesterday_at(hour, minute=0):
    return today_start() - dt.timedelta(days=1) + dt.timedelta(hours=hour, minutes=minute)


def summary_where(ops, **expected):
    """The summary once every `key=value` in `expected` holds (retries up to 3 s)."""
    def check():
        s = ops.summary()
        for key, want in expected.items():
            got = s[key]
            if isinstance(want, float) and got is not None:
                assert got == pytest.approx(want), f"summary {key} = {got!r}, expected {want!r}"
            else:
                assert got == want, f"summary {key} = {got!r}, expected {want!r}"
        return s
    return eventually(check)


# --- shape ----------------------------------------------------------------------------------

def test_empty_summary_has_every_key_with_nulls_and_zeros(clean):
    s = summary_where(clean, runs_today=0)
    assert SUMMARY_KEYS <= set(s), f"summary lacks {sorted(SUMMARY_KEYS - set(s))}: {s!r}"
    assert s["cost_today_usd"] is None, f"no run today: cost_today_usd should be null, got {s['cost_today_usd']!r}"
    assert s["latency_ms"] == {"p50": None, "p95": None}, f"no success run today: latency_ms {s['latency_ms']!r}"
    assert (s["active_users_24h"], s["agents_total"], s["agents_scheduled"], s["errors_last_hour"]) == (0, 0, 0, 0), s
    assert s["top_agents_today"] == [], f"no runs: top_agents_today should be []: {s['top_agents_today']!r}"
    assert s["budget_user"]["user_id"] is None, f"nobody spent today: budget_user {s['budget_user']!r}"
    for key in ("budget_user", "budget_global"):
        assert {"limit_cents", "used_usd", "percent"} <= set(s[key]), f"{key} lacks fields: {s[key]!r}"


def test_generated_at_is_now_in_utc_with_at_most_milliseconds(clean):
    s = clean.summary()
    stamp = parse_out_ts(s["generated_at"], "generated_at")
    assert abs((stamp - now()).total_seconds()) < 60, f"generated_at {s['generated_at']} is not now"


def test_unknown_query_parameter_on_summary_is_400(ops):
    helpers.assert_error_envelope(ops.get("/api/ops/summary", {"window": "7d"}), 400, "invalid_parameter")


# --- runs_today and UTC day boundaries ------------------------------------------------------

def test_run_started_at_2330_utc_yesterday_is_not_in_runs_today(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-late", "ag-1", yesterday_at(23, 30), yesterday_at(23, 40)),
        finished_run("r-today", "ag-1", today_at(1), today_at(20)),
    ])
    summary_where(ops, runs_today=1)


def test_run_started_just_after_midnight_utc_is_in_runs_today(clean):
    ops = clean
    ops.ingest_ok([run("r-1", "ag-1", "running", today_at(1), started_at=today_at(1))])
    summary_where(ops, runs_today=1)


def test_runs_today_counts_started_runs_only(clean):
    ops = clean
    # Created today but never started (still queued): not a run started today.
    ops.ingest_ok([run("r-q", "ag-1", "queued", today_at(5)),
                   run("r-s", "ag-1", "running", today_at(5), started_at=today_at(6))])
    summary_where(ops, runs_today=1)


def test_offset_timestamp_counts_on_its_utc_day(clean):
    ops = clean
    minus2 = dt.timedelta(hours=-2)
    plus2 = dt.timedelta(hours=2)
    # Yesterday 22:00:30 at -02:00 is today 00:00:30 UTC: today.
    # Today 01:30 at +02:00 is yesterday 23:30 UTC: not today.
    ops.ingest_ok([
        run("r-west", "ag-1", "running", iso(today_at(30), minus2), started_at=iso(today_at(30), minus2)),
        run("r-east", "ag-1", "running", iso(yesterday_at(23, 30), plus2),
            started_at=iso(yesterday_at(23, 30), plus2)),
    ])
    summary_where(ops, runs_today=1)


# --- cost_today_usd: null versus 0.0 --------------------------------------------------------

def test_cost_today_is_null_when_no_run_finished_today_has_a_known_cost(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(10), cost_usd=None),
        finished_run("r-2", "ag-1", today_at(2), today_at(11)),       # no cost field at all
        finished_run("r-y", "ag-1", yesterday_at(10), yesterday_at(11), cost_usd=3.0),  # known, but yesterday
    ])
    s = summary_where(ops, runs_today=2)
    assert s["cost_today_usd"] is None, \
        f"only unknown costs finished today: cost_today_usd should be null, got {s['cost_today_usd']!r}"


def test_cost_today_is_zero_not_null_when_the_known_costs_are_zero(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(10), cost_usd=0.0),
        finished_run("r-2", "ag-1", today_at(2), today_at(11), cost_usd=None),
    ])
    s = summary_where(ops, runs_today=2)
    assert s["cost_today_usd"] is not None and s["cost_today_usd"] == 0, \
        f"a known cost of 0.0 finished today: cost_today_usd should be 0.0, got {s['cost_today_usd']!r}"


def test_cost_today_sums_known_costs_by_finish_time(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(10), cost_usd=0.25),
        finished_run("r-2", "ag-1", today_at(2), today_at(11), cost_usd=0.5),
        finished_run("r-3", "ag-1", today_at(3), today_at(12), cost_usd=None),
        # Started yesterday, finished today: today's cost (cost uses the finish time).
        finished_run("r-4", "ag-1", yesterday_at(23, 50), today_at(13), cost_usd=1.0),
        # Finished yesterday: not today's.
        finished_run("r-5", "ag-1", yesterday_at(23, 0), yesterday_at(23, 59), cost_usd=9.0),
        # Still running today: no finish time, no cost today.
        run("r-6", "ag-1", "running", today_at(4), started_at=today_at(4), cost_usd=5.0),
    ])
    summary_where(ops, runs_today=4, cost_today_usd=1.75)


# --- errors_last_hour -----------------------------------------------------------------------

def test_errors_last_hour_counts_failed_runs_finished_in_the_last_60_minutes(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-f1", "ag-1", ago(minutes=40), ago(minutes=30), status="failed", error="x"),
        finished_run("r-f2", "ag-1", ago(minutes=3), ago(minutes=2), status="failed", error="y"),
        finished_run("r-old", "ag-1", ago(minutes=100), ago(minutes=75), status="failed", error="z"),
        finished_run("r-ok", "ag-1", ago(minutes=10), ago(minutes=5), status="success"),
        finished_run("r-c", "ag-1", ago(minutes=10), ago(minutes=5), status="canceled"),
        run("r-run", "ag-1", "running", ago(minutes=20), started_at=ago(minutes=20)),
    ])
    summary_where(ops, errors_last_hour=2)


# --- active_users_24h -----------------------------------------------------------------------

def test_active_users_are_distinct_users_with_a_run_or_message_in_24h(clean):
    ops = clean
    ops.ingest_ok([
        run("r-1", "ag-1", "running", ago(hours=23), started_at=ago(hours=23), user_id="u-run"),
        run("r-2", "ag-1", "running", ago(minutes=5), started_at=ago(minutes=5), user_id="u-run"),
        message("m-1", "th-1", ago(hours=1), user_id="u-msg"),
        message("m-2", "th-1", ago(minutes=2), user_id="u-msg"),
        message("m-3", "th-2", ago(minutes=2), user_id="u-run"),       # both a run and a message: once
        run("r-3", "ag-1", "running", ago(hours=25), started_at=ago(hours=25), user_id="u-old"),
        message("m-4", "th-3", ago(hours=26), user_id="u-old2"),
        run("r-4", "ag-1", "running", ago(minutes=5), started_at=ago(minutes=5)),  # no user
    ])
    summary_where(ops, active_users_24h=2)


# --- agents ---------------------------------------------------------------------------------

def test_agents_total_and_scheduled_follow_the_schedule_field(clean):
    ops = clean
    ops.ingest_ok([agent("ag-cron", "Cron", schedule="0 * * * *"),
                   agent("ag-null", "Null", schedule=None),
                   agent("ag-none", "No field")])
    summary_where(ops, agents_total=3, agents_scheduled=1)
    ops.ingest_ok([agent("ag-cron", "Cron", schedule=None), agent("ag-none", "No field", schedule="5 4 * * *")])
    summary_where(ops, agents_total=3, agents_scheduled=1)
    ops.ingest_ok([agent("ag-null", "Null", schedule="*/10 * * * *")])
    summary_where(ops, agents_total=3, agents_scheduled=2)


# --- latency --------------------------------------------------------------------------------

def test_latency_percentiles_of_success_runs_finished_today_interpolate_linearly(clean):
    ops = clean
    durations = [100, 200, 300, 400]
    recs = [finished_run(f"r-{d}", "ag-1", today_at(1), today_at(20), duration_ms=d) for d in durations]
    recs += [
        finished_run("r-fail", "ag-1", today_at(1), today_at(20), status="failed", duration_ms=99999),
        finished_run("r-yday", "ag-1", yesterday_at(20), yesterday_at(21), duration_ms=50000),
    ]
    ops.ingest_ok(recs)
    s = summary_where(ops, runs_today=5)
    assert s["latency_ms"]["p50"] == pytest.approx(250), f"p50 of 100,200,300,400 is 250: {s['latency_ms']!r}"
    assert s["latency_ms"]["p95"] == pytest.approx(385), f"p95 of 100,200,300,400 is 385: {s['latency_ms']!r}"


def test_latency_of_a_single_success_run_is_its_duration(clean):
    ops = clean
    ops.ingest_ok([finished_run("r-1", "ag-1", today_at(1), today_at(20), duration_ms=1234)])
    s = summary_where(ops, runs_today=1)
    assert s["latency_ms"] == {"p50": pytest.approx(1234), "p95": pytest.approx(1234)}, s["latency_ms"]


def test_latency_is_null_without_success_runs_today(clean):
    ops = clean
    ops.ingest_ok([finished_run("r-1", "ag-1", today_at(1), today_at(20), status="failed", duration_ms=10)])
    s = summary_where(ops, runs_today=1)
    assert s["latency_ms"] == {"p50": None, "p95": None}, f"no success run today: {s['latency_ms']!r}"


# --- budgets (this stack runs without limits) -----------------------------------------------

def test_budget_user_is_the_top_spender_and_percent_is_null_without_limits(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(10), user_id="u-small", cost_usd=0.3),
        finished_run("r-2", "ag-1", today_at(1), today_at(11), user_id="u-big", cost_usd=0.35),
        finished_run("r-3", "ag-1", today_at(1), today_at(12), user_id="u-big", cost_usd=0.35),
        finished_run("r-4", "ag-1", today_at(1), today_at(13), user_id="u-unknown", cost_usd=None),
        finished_run("r-5", "ag-1", today_at(1), today_at(14), user_id="u-unknown", cost_usd=None),
        finished_run("r-6", "ag-1", yesterday_at(1), yesterday_at(2), user_id="u-yday", cost_usd=50.0),
    ])
    s = summary_where(ops, runs_today=5)
    bu, bg = s["budget_user"], s["budget_global"]
    assert bu["user_id"] == "u-big", f"budget_user should be the top spender today (u-big, $0.70): {bu!r}"
    assert bu["used_usd"] == pytest.approx(0.7), f"u-big spent $0.70 today: {bu!r}"
    assert bu["limit_cents"] == 0 and bu["percent"] is None, \
        f"DAILY_COST_PER_USER_CENTS unset: limit_cents 0 and percent null, got {bu!r}"
    assert bg["used_usd"] == pytest.approx(1.0), f"all known spend today is $1.00: {bg!r}"
    assert bg["limit_cents"] == 0 and bg["percent"] is None, \
        f"DAILY_COST_GLOBAL_CENTS unset: limit_cents 0 and percent null, got {bg!r}"


# --- top agents today -----------------------------------------------------------------------

def test_top_agents_today_order_ties_limit_cost_and_p95(clean):
    ops = clean
    recs = [agent(a, f"Agent {a.upper()}", owner_email=f"{a}@example.com")
            for a in ("ag-a", "ag-b", "ag-c", "ag-d", "ag-e", "ag-f")]
    plan = {"ag-d": 3, "ag-b": 2, "ag-a": 2, "ag-c": 2, "ag-f": 1, "ag-e": 1}
    n = 0
    for a, count in plan.items():
        for i in range(count):
            n += 1
            cost = {"ag-a": [0.1, None], "ag-b": [None, None], "ag-c": [0.0, 0.0]}.get(a, [0.2] * 3)[i]
            recs.append(finished_run(f"r-{a}-{i}", a, today_at(1 + n), today_at(60 + n),
                                     duration_ms=1000 * (i + 1), cost_usd=cost))
    recs.append(finished_run("r-old", "ag-e", yesterday_at(12), yesterday_at(13)))   # yesterday's
    recs.append(finished_run("r-old2", "ag-e", yesterday_at(14), yesterday_at(15)))
    ops.ingest_ok(recs)
    s = summary_where(ops, runs_today=11)
    top = s["top_agents_today"]
    assert [t["agent_id"] for t in top] == ["ag-d", "ag-a", "ag-b", "ag-c", "ag-e"], \
        f"top 5 by runs today, ties by agent_id ascending: {[(t['agent_id'], t['runs']) for t in top]}"
    assert [t["runs"] for t in top] == [3, 2, 2, 2, 1], top
    by_id = {t["agent_id"]: t for t in top}
    assert by_id["ag-d"]["name"] == "Agent AG-D" and by_id["ag-d"]["owner_email"] == "ag-d@example.com", by_id["ag-d"]
    assert by_id["ag-a"]["cost_usd"] == pytest.approx(0.1), f"ag-a: known 0.1 + unknown = 0.1: {by_id['ag-a']!r}"
    assert by_id["ag-b"]["cost_usd"] is None, f"ag-b has only unknown costs: cost_usd null: {by_id['ag-b']!r}"
    assert by_id["ag-c"]["cost_usd"] is not None and by_id["ag-c"]["cost_usd"] == 0, \
        f"ag-c has known costs of 0: cost_usd 0.0, not null: {by_id['ag-c']!r}"
    assert by_id["ag-d"]["cost_usd"] == pytest.approx(0.6), by_id["ag-d"]
    assert by_id["ag-d"]["p95_ms"] == pytest.approx(percentile([1000, 2000, 3000], 95)), \
        f"p95 of 1000, 2000, 3000 ms is 2900: {by_id['ag-d']!r}"
    assert by_id["ag-e"]["p95_ms"] == pytest.approx(1000), by_id["ag-e"]


def test_top_agent_p95_is_null_without_durations(clean):
    ops = clean
    ops.ingest_ok([agent("ag-1", "Busy"), run("r-1", "ag-1", "running", today_at(1), started_at=today_at(1))])
    s = summary_where(ops, runs_today=1)
    assert s["top_agents_today"][0]["p95_ms"] is None, \
        f"a running run has no duration: p95_ms null, got {s['top_agents_today']!r}"
