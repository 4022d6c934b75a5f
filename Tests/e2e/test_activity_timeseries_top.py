"""GET /api/ops/timeseries and /api/ops/top: hour placement, zero-fill, daily windows, leaderboards,
and the 400s (with the accepted values listed) for bad parameters."""

import datetime as dt

import pytest

import helpers
from activity_helpers import (agent, ago, clean, eventually, finished_run, llm_call, ops, run,  # noqa: F401
                              today_at, today_start)

HOURS = [f"{h:02d}:00Z" for h in range(24)]


def day_at(days_ago, hour=12):
    return today_start() - dt.timedelta(days=days_ago) + dt.timedelta(hours=hour)


def series_where(ops, metric, window, expected):
    """The series once its values equal `expected` ({label: value}, every other label 0)."""
    def check():
        pts = ops.timeseries(metric, window)
        assert isinstance(pts, list), f"{metric}/{window} is not a bare JSON array: {pts!r}"
        got = {}
        for p in pts:
            label = p.get("hour_iso", p.get("date"))
            got[label] = p["value"]
        for label, value in got.items():
            want = expected.get(label, 0)
            assert value == pytest.approx(want), \
                f"{metric}/{window}: point {label} is {value!r}, expected {want!r}; series {pts!r}"
        return pts
    return eventually(check)


# --- timeseries today -----------------------------------------------------------------------

def test_runs_by_hour_has_24_zero_filled_points_in_order(clean):
    pts = series_where(clean, "runs_by_hour", "today", {})
    assert [p["hour_iso"] for p in pts] == HOURS, f"expected 24 points 00:00Z..23:00Z: {pts!r}"
    assert all(p["value"] == 0 for p in pts), f"empty tables: every point 0: {pts!r}"
    assert all(set(p) == {"hour_iso", "value"} for p in pts), f"points have other keys: {pts[:2]!r}"


def test_runs_by_hour_places_runs_by_start_hour_utc(clean):
    ops = clean
    recent = ago(seconds=50)
    yday = today_start() - dt.timedelta(minutes=30)       # 23:30 yesterday
    ops.ingest_ok([
        run("r-0", "ag-1", "running", today_at(30), started_at=today_at(30)),
        run("r-1", "ag-1", "running", recent, started_at=recent),
        run("r-2", "ag-1", "running", recent, started_at=recent),
        finished_run("r-y", "ag-1", yday, today_at(5)),     # started yesterday: not in today's series
        run("r-q", "ag-1", "queued", recent),                # never started
    ])
    expected = {}
    for t in (today_at(30), recent, recent):
        label = f"{t.hour:02d}:00Z"
        expected[label] = expected.get(label, 0) + 1
    pts = series_where(ops, "runs_by_hour", "today", expected)
    assert len(pts) == 24


def test_errors_by_hour_counts_failed_runs_by_finish_hour(clean):
    ops = clean
    recent = ago(seconds=40)
    yday = today_start() - dt.timedelta(minutes=20)
    ops.ingest_ok([
        finished_run("r-f0", "ag-1", yday, today_at(20), status="failed", error="e"),     # finished today 00h
        finished_run("r-f1", "ag-1", ago(seconds=60), recent, status="failed", error="e"),
        finished_run("r-fy", "ag-1", yday, yday + dt.timedelta(minutes=5), status="failed"),  # yesterday
        finished_run("r-ok", "ag-1", today_at(1), today_at(20), status="success"),
    ])
    expected = {"00:00Z": 1}
    label = f"{recent.hour:02d}:00Z"
    expected[label] = expected.get(label, 0) + 1
    series_where(ops, "errors_by_hour", "today", expected)


def test_cost_by_hour_sums_known_costs_by_finish_hour(clean):
    ops = clean
    recent = ago(seconds=40)
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(20), cost_usd=0.25),
        finished_run("r-2", "ag-1", today_at(2), today_at(21), cost_usd=None),    # unknown: counts 0
        finished_run("r-3", "ag-1", ago(seconds=90), recent, cost_usd=1.5),
    ])
    expected = {"00:00Z": 0.25}
    label = f"{recent.hour:02d}:00Z"
    expected[label] = expected.get(label, 0) + 1.5
    pts = series_where(ops, "cost_by_hour", "today", expected)
    assert all(p["value"] is not None for p in pts), f"cost_by_hour points must be numbers (0 when unknown): {pts!r}"


# --- timeseries daily -----------------------------------------------------------------------

@pytest.mark.parametrize("window,days", [("7d", 7), ("30d", 30)])
def test_daily_window_has_zero_filled_points_ending_today(clean, window, days):
    ops = clean
    ops.ingest_ok([
        run("r-t", "ag-1", "running", today_at(5), started_at=today_at(5)),
        finished_run("r-3a", "ag-1", day_at(3), day_at(3, 13)),
        finished_run("r-3b", "ag-1", day_at(3, 20), day_at(3, 21)),
        finished_run("r-10", "ag-1", day_at(10), day_at(10, 13)),
        finished_run("r-40", "ag-1", day_at(40), day_at(40, 13)),
    ])
    dates = [(today_start() - dt.timedelta(days=d)).strftime("%Y-%m-%d") for d in range(days - 1, -1, -1)]
    expected = {dates[-1]: 1, dates[-4]: 2}
    if days == 30:
        expected[dates[-11]] = 1
    pts = series_where(ops, "runs_by_hour", window, expected)
    assert [p.get("date") for p in pts] == dates, \
        f"{window}: expected {days} daily points {dates[0]}..{dates[-1]}, got {[p.get('date') for p in pts]}"


def test_daily_errors_and_cost_use_the_finish_day(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", day_at(2, 23), day_at(1, 1), status="failed", cost_usd=0.5),
        finished_run("r-2", "ag-1", day_at(1, 2), day_at(1, 3), status="success", cost_usd=0.25),
        finished_run("r-3", "ag-1", day_at(1, 4), day_at(1, 5), status="success", cost_usd=None),
    ])
    d1 = (today_start() - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    series_where(ops, "errors_by_hour", "7d", {d1: 1})
    series_where(ops, "cost_by_hour", "7d", {d1: 0.75})


# --- timeseries parameters ------------------------------------------------------------------

def _bad(ops, path, params, *accepted):
    resp = ops.get(path, params)
    err = helpers.assert_error_envelope(resp, 400, "invalid_parameter")
    for word in accepted:
        assert word in err["message"], \
            f"GET {path} {params}: the 400 message should list {word!r}: {err['message']!r}"


def test_unknown_metric_is_400_listing_the_metrics(ops):
    _bad(ops, "/api/ops/timeseries", {"metric": "bogus", "window": "today"},
         "runs_by_hour", "errors_by_hour", "cost_by_hour")


def test_missing_metric_is_400(ops):
    _bad(ops, "/api/ops/timeseries", {"window": "today"}, "metric")


def test_unknown_timeseries_window_is_400_listing_the_windows(ops):
    _bad(ops, "/api/ops/timeseries", {"metric": "runs_by_hour", "window": "1y"}, "today", "7d", "30d")


def test_unknown_query_parameter_on_timeseries_is_400(ops):
    _bad(ops, "/api/ops/timeseries", {"metric": "runs_by_hour", "window": "today", "colour": "red"})


# --- top agents / users / models ------------------------------------------------------------

def _runs_for(plan, start=1):
    """{agent_id: n} -> finished runs today, one second apart."""
    recs, n = [], 0
    for a, count in plan.items():
        for i in range(count):
            n += 1
            recs.append(finished_run(f"r-{a}-{i}", a, today_at(start + n), today_at(start + 60 + n),
                                     duration_ms=100 * (i + 1)))
    return recs


def test_top_agents_limit_and_ties_by_agent_id(clean):
    ops = clean
    ids = [f"ag-{c}" for c in "jihgfedcba"]
    ops.ingest_ok([agent(a, a.upper()) for a in ids] + _runs_for({a: 1 for a in ids}))

    def check():
        top = ops.top("agents", "today", 3)
        assert [t["agent_id"] for t in top] == ["ag-a", "ag-b", "ag-c"], \
            f"equal runs: ordered by agent_id ascending, limit 3: {top!r}"
        return top
    eventually(check)
    default = ops.top("agents", "today")
    assert len(default) == 5, f"default limit is 5, got {len(default)}"
    assert len(ops.top("agents", "today", 100)) == 10, "limit 100 should return all 10 agents"
    assert len(ops.top("agents", "today", 1)) == 1, "limit 1 should return one agent"


def test_top_agents_has_the_same_shape_as_top_agents_today(clean):
    ops = clean
    ops.ingest_ok([agent("ag-1", "One", owner_email="one@example.com")] + _runs_for({"ag-1": 2}))

    def check():
        top = ops.top("agents", "today")
        s = ops.summary()
        assert top == s["top_agents_today"], f"/top?kind=agents differs from top_agents_today: {top!r} vs {s['top_agents_today']!r}"
        assert set(top[0]) >= {"agent_id", "name", "owner_email", "runs", "cost_usd", "p95_ms"}, top
    eventually(check)


def test_top_agents_7d_counts_runs_started_in_the_window(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-old", day_at(3), day_at(3, 13)),
        finished_run("r-2", "ag-old", day_at(4), day_at(4, 13)),
        finished_run("r-3", "ag-new", today_at(3), today_at(20)),
        finished_run("r-4", "ag-ancient", day_at(40), day_at(40, 13)),
        finished_run("r-5", "ag-ancient", day_at(41), day_at(41, 13)),
        finished_run("r-6", "ag-ancient", day_at(42), day_at(42, 13)),
    ])

    def check():
        top7 = ops.top("agents", "7d")
        assert [(t["agent_id"], t["runs"]) for t in top7] == [("ag-old", 2), ("ag-new", 1)], top7
        today = ops.top("agents", "today")
        assert [(t["agent_id"], t["runs"]) for t in today] == [("ag-new", 1)], today
        top30 = ops.top("agents", "30d")
        assert [(t["agent_id"], t["runs"]) for t in top30] == [("ag-old", 2), ("ag-new", 1)], top30
    eventually(check)


def test_top_users_by_runs_with_known_costs(clean):
    ops = clean
    ops.ingest_ok([
        finished_run("r-1", "ag-1", today_at(1), today_at(30), user_id="u-b", cost_usd=0.1),
        finished_run("r-2", "ag-1", today_at(2), today_at(31), user_id="u-b", cost_usd=None),
        finished_run("r-3", "ag-1", today_at(3), today_at(32), user_id="u-a", cost_usd=None),
        finished_run("r-4", "ag-1", today_at(4), today_at(33), user_id="u-c", cost_usd=0.0),
        finished_run("r-5", "ag-1", today_at(5), today_at(34), user_id="u-d", cost_usd=0.2),
        finished_run("r-6", "ag-1", today_at(6), today_at(35), user_id="u-d", cost_usd=0.3),
        finished_run("r-7", "ag-1", day_at(3), day_at(3, 13), user_id="u-a", cost_usd=5.0),
    ])

    def check():
        users = ops.top("users", "today")
        assert [u["user_id"] for u in users] == ["u-b", "u-d", "u-a", "u-c"], \
            f"users by runs today desc, ties by user_id: {users!r}"
        by = {u["user_id"]: u for u in users}
        assert (by["u-b"]["runs"], by["u-b"]["cost_usd"]) == (2, pytest.approx(0.1)), by["u-b"]
        assert by["u-d"]["cost_usd"] == pytest.approx(0.5), by["u-d"]
        assert by["u-a"]["cost_usd"] is None, f"u-a has only unknown costs today: {by['u-a']!r}"
        assert by["u-c"]["cost_usd"] is not None and by["u-c"]["cost_usd"] == 0, \
            f"u-c has a known cost of 0: cost_usd 0.0, not null: {by['u-c']!r}"
        week = {u["user_id"]: u for u in ops.top("users", "7d")}
        assert week["u-a"]["runs"] == 2 and week["u-a"]["cost_usd"] == pytest.approx(5.0), week
    eventually(check)


def test_top_models_from_llm_calls(clean):
    ops = clean
    t = ago(seconds=30)
    ops.ingest_ok([
        llm_call("c-1", t, "openai", "gpt-b", prompt_tokens=100, completion_tokens=10, cost_usd=0.01, status="ok"),
        llm_call("c-2", t, "openai", "gpt-b", prompt_tokens=200, completion_tokens=20, cost_usd=None, status="ok"),
        llm_call("c-3", t, "openai", "gpt-a", prompt_tokens=1, completion_tokens=1, cost_usd=None, status="ok"),
        llm_call("c-4", t, "anthropic", "claude-z", prompt_tokens=5, completion_tokens=5, cost_usd=0.0,
                 status="ok"),
        llm_call("c-5", t, "anthropic", "claude-z", prompt_tokens=5, completion_tokens=5, cost_usd=0.02,
                 status="error", error_code="rate_limited"),
        llm_call("c-6", day_at(3), "openai", "gpt-a", prompt_tokens=7, completion_tokens=7, cost_usd=1.0,
                 status="ok"),
    ])

    def check():
        models = ops.top("models", "today")
        assert [(m["provider"], m["model"]) for m in models] == \
            [("anthropic", "claude-z"), ("openai", "gpt-b"), ("openai", "gpt-a")], \
            f"models by calls desc, ties by provider then model: {models!r}"
        by = {m["model"]: m for m in models}
        assert (by["gpt-b"]["calls"], by["gpt-b"]["prompt_tokens"], by["gpt-b"]["completion_tokens"]) == (2, 300, 30), by
        assert by["gpt-b"]["cost_usd"] == pytest.approx(0.01), by["gpt-b"]
        assert by["gpt-a"]["cost_usd"] is None, f"gpt-a today has only an unknown cost: {by['gpt-a']!r}"
        assert by["claude-z"]["cost_usd"] == pytest.approx(0.02), by["claude-z"]
        week = {m["model"]: m for m in ops.top("models", "7d")}
        assert week["gpt-a"]["calls"] == 2 and week["gpt-a"]["cost_usd"] == pytest.approx(1.0), week
    eventually(check)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_top_limit_out_of_range_is_400(ops, limit):
    _bad(ops, "/api/ops/top", {"kind": "agents", "window": "today", "limit": limit})


def test_unknown_top_kind_is_400_listing_the_kinds(ops):
    _bad(ops, "/api/ops/top", {"kind": "teams", "window": "today"}, "agents", "users", "models")


def test_unknown_top_window_is_400_listing_the_windows(ops):
    _bad(ops, "/api/ops/top", {"kind": "agents", "window": "yesterday"}, "today", "7d", "30d")


def test_unknown_query_parameter_on_top_is_400(ops):
    _bad(ops, "/api/ops/top", {"kind": "agents", "window": "today", "sort": "cost"})
