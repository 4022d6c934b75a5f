"""POST /api/ops/budget/check and the summary's budget gauges, on a stack with limits.

`budget_ops` is a stack of our own (activity_helpers.budget_stack): DAILY_COST_PER_USER_CENTS=100
($1.00), DAILY_COST_GLOBAL_CENTS=1000 ($10.00), DAILY_RUNS_PER_USER=3, DEMO=0; started once for
this module and always taken down. The stack under test (`clean`) runs without limits.

used_usd = known costs of runs finished today; runs.used = runs started today by the user;
>= 100 % of any enabled limit denies (HTTP 429, allowed false, a reason, a budget_denied event);
admins are always allowed.
"""

import datetime as dt
import uuid

import pytest

import helpers
from activity_helpers import (budget_ops, budget_stack, clean, eventually, expect_json, finished_run,  # noqa: F401
                              ops, run, today_at, today_start)


def yesterday_at(hour, minute=0):
    return today_start() - dt.timedelta(days=1) + dt.timedelta(hours=hour, minutes=minute)


def spend(ops, user_id, *costs, start=1):
    """Runs of `user_id` started and finished today with these costs."""
    ops.ingest_ok([finished_run(f"r-{user_id}-{i}", "ag-1", today_at(start + i), today_at(start + 60 + i),
                                user_id=user_id, cost_usd=c) for i, c in enumerate(costs)])


def check(ops, user_id, status, is_admin=None):
    resp = ops.budget_check(user_id, is_admin)
    body = expect_json(resp, status, f"budget check for {user_id} (is_admin={is_admin})")
    assert body.get("allowed") is (status == 200), f"HTTP {status} with allowed={body.get('allowed')!r}: {body!r}"
    return body


def test_fresh_user_is_allowed_with_zero_usage(budget_ops):
    b = check(budget_ops, "u-fresh", 200)
    assert b["user"]["user_id"] == "u-fresh", b
    assert (b["user"]["limit_cents"], b["user"]["used_usd"], b["user"]["percent"]) == (100, 0, 0), b["user"]
    assert (b["global"]["limit_cents"], b["global"]["used_usd"], b["global"]["percent"]) == (1000, 0, 0), b["global"]
    assert b["runs"] == {"limit": 3, "used": 0}, b["runs"]


def test_user_under_the_limit_is_allowed_with_the_true_percentage(budget_ops):
    spend(budget_ops, "u-half", 0.5)
    b = eventually(lambda: check(budget_ops, "u-half", 200))
    assert b["user"]["used_usd"] == pytest.approx(0.5) and b["user"]["percent"] == pytest.approx(50.0), b["user"]
    assert b["global"]["percent"] == pytest.approx(5.0), b["global"]
    assert b["runs"]["used"] == 1, b["runs"]


def test_unknown_costs_are_excluded_from_the_budget(budget_ops):
    spend(budget_ops, "u-unknown", 0.3, None, start=1)
    b = eventually(lambda: check(budget_ops, "u-unknown", 200))
    assert b["user"]["used_usd"] == pytest.approx(0.3), f"unknown costs count for nothing: {b['user']!r}"
    assert b["runs"]["used"] == 2, b["runs"]


def test_user_at_100_percent_is_denied_with_429_and_a_budget_denied_event(budget_ops):
    ops = budget_ops
    user = f"u-full-{uuid.uuid4().hex[:8]}"   # a user never denied before on this cluster
    spend(ops, user, 1.0)
    before = ops.max_event_id()
    b = eventually(lambda: check(ops, user, 429))
    assert b["user"]["percent"] == pytest.approx(100.0), b["user"]
    assert isinstance(b.get("reason"), str) and b["reason"].strip(), f"a denial needs a reason: {b!r}"
    types = ops.event_types_since(before)
    assert "budget_denied" in types, f"a denial should insert a budget_denied event: {ops.events_since(before)!r}"


def test_every_denial_inserts_a_budget_denied_event(budget_ops):
    ops = budget_ops
    user = f"u-again-{uuid.uuid4().hex[:8]}"
    spend(ops, user, 1.2)
    eventually(lambda: check(ops, user, 429))
    before = ops.max_event_id()
    check(ops, user, 429)
    check(ops, user, 429)
    types = ops.event_types_since(before)
    assert types.count("budget_denied") == 2, (
        f"two more denied checks (HTTP 429) should insert two budget_denied events, got {types!r}")


def test_percent_above_100_is_reported_as_is(budget_ops):
    spend(budget_ops, "u-over", 2.5)
    b = eventually(lambda: check(budget_ops, "u-over", 429))
    assert b["user"]["percent"] == pytest.approx(250.0), f"$2.50 of $1.00 is 250 %, not clamped: {b['user']!r}"
    assert b["user"]["used_usd"] == pytest.approx(2.5), b["user"]


def test_allowed_check_publishes_no_event(budget_ops):
    ops = budget_ops
    before = ops.max_event_id()
    check(ops, "u-fresh", 200)
    assert ops.event_types_since(before) == [], f"an allowed check published events: {ops.events_since(before)!r}"


def test_admin_over_budget_is_allowed(budget_ops):
    ops = budget_ops
    spend(ops, "u-boss", 5.0, 0, 0, 0)
    eventually(lambda: check(ops, "u-boss", 429))
    before = ops.max_event_id()
    b = check(ops, "u-boss", 200, is_admin=True)
    assert b["allowed"] is True, b
    assert "budget_denied" not in ops.event_types_since(before), "an admin check published budget_denied"
    check(ops, "u-boss", 429, is_admin=False)


def test_runs_per_user_cap_denies_the_fourth_run(budget_ops):
    ops = budget_ops
    spend(ops, "u-busy", 0.0, 0.0)
    b = eventually(lambda: check(ops, "u-busy", 200))
    assert b["runs"] == {"limit": 3, "used": 2}, b["runs"]
    ops.ingest_ok([run("r-u-busy-3", "ag-1", "running", today_at(50), started_at=today_at(50), user_id="u-busy")])
    b = eventually(lambda: check(ops, "u-busy", 429))
    assert b["runs"] == {"limit": 3, "used": 3}, f"3 runs started today of a cap of 3: {b['runs']!r}"
    assert b["user"]["percent"] == 0, f"the cost budget is untouched: {b['user']!r}"


def test_budget_uses_finish_day_for_cost_and_start_day_for_runs(budget_ops):
    ops = budget_ops
    ops.ingest_ok([
        finished_run("r-1", "ag-1", yesterday_at(23, 0), today_at(30), user_id="u-late", cost_usd=0.6),
        finished_run("r-2", "ag-1", yesterday_at(10), yesterday_at(11), user_id="u-late", cost_usd=5.0),
        finished_run("r-3", "ag-1", yesterday_at(12), yesterday_at(13), user_id="u-late", cost_usd=None),
    ])
    b = eventually(lambda: check(ops, "u-late", 200))
    assert b["user"]["used_usd"] == pytest.approx(0.6), \
        f"only the run finished today counts ($0.60), not yesterday's $5.00: {b['user']!r}"
    assert b["runs"]["used"] == 0, f"no run of u-late started today: {b['runs']!r}"


def test_global_limit_denies_everyone_but_admins(budget_ops):
    ops = budget_ops
    recs = [finished_run(f"r-g-{i}", "ag-1", today_at(1 + i), today_at(70 + i), user_id=f"u-g{i:02d}",
                         cost_usd=0.95) for i in range(11)]
    ops.ingest_ok(recs)
    b = eventually(lambda: check(ops, "u-nobody", 429))
    assert b["global"]["used_usd"] == pytest.approx(10.45), b["global"]
    assert b["global"]["percent"] == pytest.approx(104.5), f"$10.45 of $10.00 is 104.5 %: {b['global']!r}"
    assert b["user"]["used_usd"] == 0, b["user"]
    check(ops, "u-nobody", 200, is_admin=True)


def test_summary_budget_gauges_show_the_top_spender_and_true_percentages(budget_ops):
    ops = budget_ops
    spend(ops, "u-small", 0.4)
    spend(ops, "u-top", 1.5, 1.0, start=10)

    def check_summary():
        s = ops.summary()
        bu, bg = s["budget_user"], s["budget_global"]
        assert bu["user_id"] == "u-top", f"budget_user is the top spender today: {bu!r}"
        assert (bu["limit_cents"], bu["used_usd"], bu["percent"]) == (100, pytest.approx(2.5), pytest.approx(250.0)), bu
        assert (bg["limit_cents"], bg["used_usd"], bg["percent"]) == (1000, pytest.approx(2.9), pytest.approx(29.0)), bg
    eventually(check_summary)


def test_budget_check_without_user_id_is_400(budget_ops):
    resp = budget_ops.post("/api/ops/budget/check", b'{"is_admin": false}')
    assert resp.status_code == 400, f"a check without user_id: {helpers.describe(resp)}"
    helpers.assert_error_envelope(resp, 400)


# --- the stack under test has no limits -----------------------------------------------------

def test_without_limits_everyone_is_allowed_and_percent_is_null(clean):
    ops = clean
    spend(ops, "u-rich", 500.0, 1.0, 1.0, 1.0, 1.0)
    b = eventually(lambda: check(ops, "u-rich", 200))
    assert b["user"]["limit_cents"] == 0 and b["user"]["percent"] is None, \
        f"DAILY_COST_PER_USER_CENTS unset: limit 0, percent null: {b['user']!r}"
    assert b["global"]["limit_cents"] == 0 and b["global"]["percent"] is None, b["global"]
    assert b["user"]["used_usd"] == pytest.approx(504.0), b["user"]
    assert b["runs"]["used"] == 5 and b["runs"]["limit"] in (0, None), b["runs"]
