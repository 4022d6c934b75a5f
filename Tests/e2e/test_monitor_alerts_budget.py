"""The budget check raises the monitor's budget alerts: `budget_user:<user>` (and
`budget_global:global`, `budget_runs:<user>`), warning at >= 80 %, critical at >= 100 %, with the
keys the monitor's periodic budget rules use, so both raise one alert. Repeated checks are
de-bounced onto that alert; crossing 100 % escalates it, and the denial's budget_denied event
names it. Runs on the budget stack of activity_helpers ($1.00 per user, $10.00 global, 3 runs).
"""

import datetime as dt
import json

import pytest  # noqa: F401

from activity_helpers import budget_ops, budget_stack, finished_run, now  # noqa: F401


def spend(ops, user_id, run_id, usd):
    t = now() - dt.timedelta(seconds=30)
    ops.ingest_ok([finished_run(run_id, "agent-budget", t, t + dt.timedelta(seconds=1), user_id=user_id, cost_usd=usd)])


def alerts_of(ops, key):
    body = ops.get_json("/api/ops/alerts", {"limit": "500"})
    return [a for a in body["alerts"] if f"{a['rule']}:{a['detail'].get('user_id', 'global')}" == key]


def history(ops, alert_id):
    return [(h["event"], h["note"]) for h in ops.get_json(f"/api/ops/alerts/{alert_id}")["history"]]


def test_budget_checks_raise_one_alert_that_escalates(budget_ops):
    ops = budget_ops
    before = ops.max_event_id()
    spend(ops, "u-alert", "r-alert-1", 0.85)
    resp = ops.budget_check("u-alert")
    assert resp.status_code == 200, resp.text
    [a] = alerts_of(ops, "budget_user:u-alert")
    assert a["severity"] == "warning" and a["state"] == "firing" and a["value"] == 85 and a["threshold"] == 80, a
    assert a["service"] == "budget" and a["title"] == "Budget of user u-alert at 85 % of the daily limit", a
    assert a["detail"]["budget_check"]["user"]["percent"] == 85, a["detail"]

    # Asking again is de-bounced onto the same alert: counted, no new history or event.
    assert ops.budget_check("u-alert").status_code == 200
    [again] = alerts_of(ops, "budget_user:u-alert")
    assert again["id"] == a["id"] and again["fire_count"] == 2, again
    assert history(ops, a["id"]) == [("fired", None)]

    spend(ops, "u-alert", "r-alert-2", 0.20)
    resp = ops.budget_check("u-alert")
    assert resp.status_code == 429, resp.text
    [critical] = alerts_of(ops, "budget_user:u-alert")
    assert critical["id"] == a["id"] and critical["severity"] == "critical" and critical["fire_count"] == 3, critical
    assert critical["title"] == "Budget of user u-alert exhausted: 105 % of the daily limit", critical
    assert history(ops, a["id"]) == [("fired", None), ("refired", "severity warning → critical")]
    events = [e for e in ops.events_since(before) if e["type"] in ("alert_fired", "budget_denied")]
    assert [e["type"] for e in events] == ["alert_fired", "alert_fired", "budget_denied"], events
    assert all(e["data"].get("alert_id") == a["id"] for e in events), json.dumps(events)


def test_a_user_under_80_percent_raises_nothing(budget_ops):
    ops = budget_ops
    spend(ops, "u-calm", "r-calm-1", 0.5)
    assert ops.budget_check("u-calm").status_code == 200
    assert alerts_of(ops, "budget_user:u-calm") == []
