"""Who may use the activity routes: ingest/budget need the ingest role, the KPI routes the admin role.

No credentials -> 401, the wrong role -> 403, both with the error envelope and nothing stored.
"""

import json

import pytest

import helpers
from activity_helpers import agent, clean, ops  # noqa: F401

ADMIN_GETS = [
    ("/api/ops/summary", None),
    ("/api/ops/timeseries", {"metric": "runs_by_hour", "window": "today"}),
    ("/api/ops/top", {"kind": "agents", "window": "today"}),
    ("/api/v1/ops/overview", {"period": "24h"}),
    ("/api/v1/ops/queue", None),
]
INGEST_POSTS = [
    ("/api/ops/ingest", json.dumps([agent("ag-access", "Access")]).encode()),
    ("/api/ops/budget/check", b'{"user_id": "u-1"}'),
]


@pytest.mark.parametrize("path,body", INGEST_POSTS, ids=["ingest", "budget-check"])
def test_ingest_routes_without_a_token_are_401(clean, path, body):
    resp = clean.post(path, body, token=None)
    helpers.assert_error_envelope(resp, 401)
    assert clean.count("agents") == 0, f"POST {path} without a token stored data"


@pytest.mark.parametrize("role", ["admin", "viewer"])
@pytest.mark.parametrize("path,body", INGEST_POSTS, ids=["ingest", "budget-check"])
def test_ingest_routes_refuse_other_roles_with_403(clean, path, body, role):
    token = clean.admin_token if role == "admin" else clean.viewer_token
    resp = clean.post(path, body, token=token)
    helpers.assert_error_envelope(resp, 403)
    assert clean.count("agents") == 0, f"POST {path} with the {role} token stored data"


@pytest.mark.parametrize("path,params", ADMIN_GETS, ids=[p for p, _ in ADMIN_GETS])
def test_admin_routes_without_a_token_are_401(ops, path, params):
    helpers.assert_error_envelope(ops.get(path, params, token=None), 401)


@pytest.mark.parametrize("role", ["ingest", "viewer"])
@pytest.mark.parametrize("path,params", ADMIN_GETS, ids=[p for p, _ in ADMIN_GETS])
def test_admin_routes_refuse_other_roles_with_403(ops, path, params, role):
    token = ops.ingest_token if role == "ingest" else ops.viewer_token
    helpers.assert_error_envelope(ops.get(path, params, token=token), 403)


@pytest.mark.parametrize("path,params", ADMIN_GETS, ids=[p for p, _ in ADMIN_GETS])
def test_admin_routes_answer_the_admin_token(ops, path, params):
    resp = ops.get(path, params)
    assert resp.status_code == 200, f"GET {path} with the admin token: {helpers.describe(resp)}"
    assert "application/json" in resp.headers.get("content-type", ""), helpers.describe(resp)


def test_ingest_route_answers_the_ingest_token(clean):
    resp = clean.ingest([agent("ag-access", "Access")])
    assert resp.status_code == 200, f"ingest with the ingest token: {helpers.describe(resp)}"
    assert clean.count("agents") == 1
