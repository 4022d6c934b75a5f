"""GET /api/ops/context: one snapshot with summary, deploy, services, db, frontend and alerts;
a section whose source fails says so and the rest still answer."""

import json
import random
import string
import re
import subprocess

import pytest

import helpers
from activity_helpers import Ops, eventually

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


def context(ops):
    resp = ops.get("/api/ops/context")
    assert resp.status_code == 200, helpers.describe(resp)
    return resp.json()


def test_every_section_is_there(ops):
    c = context(ops)
    assert list(c) == ["generated_at", "summary", "deploy", "services", "db", "frontend", "alerts"], list(c)
    assert c["summary"] == ops.summary() or set(c["summary"]) == set(ops.summary()), "summary is the summary route's answer"
    d = c["deploy"]
    assert d["version"] and re.match(r"^sha256:[0-9a-f]{64}$", d["build_hash"]), d
    git = subprocess.run(["git", "-C", str(helpers.REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert d["git_sha"].split("-")[0] in (git, "unknown"), d["git_sha"]
    assert ISO.match(d["worker"]["started_at"]) and d["worker"]["pid"] > 0, d["worker"]
    m = d["migrations"]
    assert m["pending"] == [] and m["changed"] == [] and m["applied"] >= 8 and m["latest"]["version"] >= 9, m
    assert isinstance(d["monitors"], list) and isinstance(d["tickers"], list), d
    # The ticker writes its row every 5 s: right after a start it may not have yet.
    def ticker_seen():
        tickers = context(ops)["deploy"]["tickers"]
        assert any(t["pid"] for t in tickers), f"the stack's ticker reports within 15 s: {tickers}"
    eventually(ticker_seen, timeout=10)
    assert c["db"]["size_bytes"] > 0 and 0 < c["db"]["connections"] <= c["db"]["max_connections"], c["db"]
    assert c["services"]["status"] in ("healthy", "degraded", "down", "unknown"), c["services"]
    assert isinstance(c["alerts"]["alerts"], list) and c["alerts"]["open"] == len(c["alerts"]["alerts"]), c["alerts"]


def test_frontend_section_counts_recent_reports(ops, base_url):
    route = "/ctx/" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    body = json.dumps({"message": "ctx boom", "route": route, "build_hash": "ctx-build-7"}).encode()
    resp = helpers.raw_request(base_url, "POST", "/api/ops/frontend-log", headers={"Content-Type": "text/plain"}, body=body)
    assert resp.status_code == 204, helpers.describe(resp)

    def counted():  # the report is written within the workers' flush interval after the 204
        f = context(ops)["frontend"]
        assert f["last_build_hash"] == "ctx-build-7" and ISO.match(f["last_seen_at"]), f
        # The 50 routes with the most errors are listed; a fresh one is among them unless 50 others have more.
        if len(f["errors_last_hour_by_route"]) < 50:
            assert {"route": route, "errors": 1} in f["errors_last_hour_by_route"], f
        assert f["errors_last_hour"] >= 1
    eventually(counted, timeout=5)


def test_a_failing_section_degrades_alone(ops):
    ops.sql("ALTER TABLE ops.frontend_logs RENAME TO frontend_logs_hidden")
    try:
        c = context(ops)
    finally:
        ops.sql("ALTER TABLE ops.frontend_logs_hidden RENAME TO frontend_logs")
    assert c["frontend"]["status"] == "unavailable" and "frontend_logs" in c["frontend"]["error"], c["frontend"]
    for name in ("summary", "services", "db", "alerts"):
        assert c[name].get("status") != "unavailable", f"{name} should not suffer: {c[name]}"
    assert c["deploy"]["version"], c["deploy"]
