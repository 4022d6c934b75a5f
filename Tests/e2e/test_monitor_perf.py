"""API performance from the stack's own nginx access log, and GET /api/monitoring/performance.

The stack's monitor tails STATE/logs/access.log. A test snapshots ops.api_minutes together
with the saved cursor (one statement: they are committed together), makes requests through
nginx, waits until the cursor passes them, snapshots again, and checks that the difference is
exactly what the log holds between the two cursors, grouped by an independent implementation
of the grouping rules below (route templates from `opsplane routes`, the dashboard's files as
"static", anything else "other"). Concurrent traffic (the monitor's own health probe) is in
the log too, so the comparison stays exact.
"""

import calendar
import json
import os
import re
import secrets
import time
from collections import defaultdict

import pytest

import helpers

RANGES = {"1h": (60, 60), "6h": (60, 360), "24h": (3600, 24), "7d": (3600, 168)}
METRIC_KEYS = {"range", "step_s", "from", "to", "api_response_time", "avg_response_time_ms", "request_rate",
               "error_rate", "uptime_seconds", "requests", "errors", "client_errors", "auth_failures",
               "static_requests", "series", "routes", "as_of", "freshness_s", "latest_minute", "warnings"}


# Grouping, written again from the rules (not from the Swift code) ------------------------------

def group_of(uri, templates):
    path = uri.split("?", 1)[0]
    if path == "/" or path == "/admin/ops" or path.startswith("/admin/ops/"):
        return "static"
    if not path.startswith("/"):
        return "other"
    segments = [s for s in path.split("/") if s]
    decoded = []
    for s in segments:
        if "%" in s:
            if re.search(r"%(?![0-9A-Fa-f]{2})", s):
                return "other"
            s = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), s)
        if s in (".", ".."):
            return "other"
        decoded.append(s)
    for t in templates:
        parts = [p for p in t.split("/") if p]
        if len(parts) == len(decoded) and all(p.startswith("{") or p == s for p, s in zip(parts, decoded)):
            return t
    return "other"


@pytest.fixture(scope="module")
def templates():
    seen = []
    for r in helpers.opsplane_routes():
        if r["path"] not in seen:
            seen.append(r["path"])
    return seen


@pytest.fixture(scope="module")
def access_log(stack):
    """The path the stack's monitor tails (as written in its configuration)."""
    config = json.loads((stack.state / "monitor.json").read_text())
    path = config.get("access_log", {}).get("path")
    assert path and os.path.exists(path), f"the stack's monitor tails no access log: {config.get('access_log')}"
    return path


def snapshot(stack, path, groups):
    """(cursor offset, inode, {(minute, group): [requests, 5xx, 4xx, 401/403, latency ms, hist sum]})
    read in one statement, so the counts are exactly those of the lines before the cursor."""
    out = stack.sql("""
        SELECT json_build_object(
          'cursor', (SELECT json_build_object('inode', inode, 'offset', byte_offset)
                     FROM ops.access_log_cursor WHERE path = :'path'),
          'rows', (SELECT coalesce(json_agg(json_build_object('m', extract(epoch FROM minute)::bigint, 'g', route_group,
                          'r', requests, 'e', errors, 'c', client_errors, 'a', auth_failures, 'l', latency_sum_ms,
                          'h', (SELECT sum(v) FROM unnest(latency_hist) v))), '[]')
                   FROM ops.api_minutes WHERE minute >= now() - interval '6 hours'
                     AND route_group = ANY (string_to_array(:'groups', E'\\n'))))""",
                    path=path, groups="\n".join(groups))
    data = json.loads(out)
    assert data["cursor"], f"the stack's monitor has saved no cursor for {path}"
    rows = {(r["m"], r["g"]): [r["r"], r["e"], r["c"], r["a"], r["l"], r["h"]] for r in data["rows"]}
    return data["cursor"]["offset"], data["cursor"]["inode"], rows


def expected_from_log(path, start, end, templates):
    """What the lines in bytes [start, end) of the log add up to, per (minute, group)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    assert data.endswith(b"\n"), "the cursor always sits at a line start"
    out = defaultdict(lambda: [0, 0, 0, 0, 0.0, 0])
    for raw in data.splitlines():
        line = json.loads(raw)
        e = out[(int(line["msec"] // 60 * 60), group_of(line["uri"], templates))]
        status = line["status"]
        e[0] += 1
        e[1] += 500 <= status <= 599
        e[2] += 400 <= status <= 499
        e[3] += status in (401, 403)
        e[4] += line["request_time"] * 1000
        e[5] += 1
    return out


def traffic_is_counted_exactly(stack, access_log, templates, make_requests):
    """Snapshot, make_requests() (returns the request ids sent), wait, snapshot, compare."""
    groups = templates + ["static", "other"]
    helpers.wait_until(lambda: snapshot(stack, access_log, groups)[0] == os.path.getsize(access_log), 20,
                       what="the tail is caught up before the test")
    offset0, inode0, rows0 = snapshot(stack, access_log, groups)
    ids = make_requests()
    # nginx logs a request after answering it: wait for every id in the log first.
    def logged():
        with open(access_log, "rb") as f:
            f.seek(offset0)
            data = f.read()
        return all(i.encode() in data for i in ids)
    helpers.wait_until(logged, 10, what="nginx logged every request")
    size = os.path.getsize(access_log)
    helpers.wait_until(lambda: snapshot(stack, access_log, groups)[0] >= size, 15,
                       what=f"the monitor counted the requests (log at {size} bytes)")
    offset1, inode1, rows1 = snapshot(stack, access_log, groups)
    assert inode1 == inode0 == os.stat(access_log).st_ino, "the stack's access log was rotated during the test"
    expected = expected_from_log(access_log, offset0, offset1, templates)
    delta = {}
    for key in set(rows0) | set(rows1):
        before = rows0.get(key, [0, 0, 0, 0, 0.0, 0])
        after = rows1.get(key, [0, 0, 0, 0, 0.0, 0])
        d = [a - b for a, b in zip(after, before)]
        if any(d):
            delta[key] = d
    assert set(delta) == set(expected), (
        f"(minute, group) pairs differ: only counted {sorted(set(delta) - set(expected))}, "
        f"only in the log {sorted(set(expected) - set(delta))}")
    for key, e in expected.items():
        d = delta[key]
        assert d[:4] == e[:4], f"{key}: counted requests/5xx/4xx/auth {d[:4]}, the log says {e[:4]}"
        assert abs(d[4] - e[4]) < 1e-6 * max(1.0, e[4]), f"{key}: latency sum {d[4]} ms, the log says {e[4]}"
        assert d[5] == e[0], f"{key}: the histogram grew by {d[5]}, requests by {e[0]}"
    return expected


def send(base_url, target, token=None, method="GET"):
    rid = "perf-" + secrets.token_hex(8)
    headers = {"X-Request-Id": rid}
    if token:
        headers.update(helpers.bearer(token))
    resp = helpers.raw_request(base_url, method, target, headers=headers)
    return rid, resp.status_code


def test_requests_through_nginx_are_counted_per_minute_group_and_status(stack, base_url, tokens, access_log, templates):
    sent = []

    def make_requests():
        ids = []
        for target, token, status in [
            ("/api/monitoring/performance", tokens["admin"], 200),
            ("/api/monitoring/performance?range=24h", tokens["admin"], 200),
            ("/api/monitoring/performance?range=2h", tokens["admin"], 400),
            ("/api/monitoring/performance", tokens["viewer"], 403),
            ("/api/monitoring/performance", None, 401),
            ("/api/ops/summary?x=1", tokens["admin"], 400),
            ("/api/ops/alerts/%d" % secrets.randbelow(10**9), None, 401),
            ("/api/ops/%73ummary", tokens["admin"], 200),
            ("/admin/ops/", None, 200),
            ("/", None, 302),
            (f"/no-such-page-{secrets.token_hex(3)}", None, 404),
            (f"/api/ops/no-such-route-{secrets.token_hex(3)}", tokens["admin"], 404),
        ]:
            rid, got = send(base_url, target, token)
            assert got == status, f"GET {target}: HTTP {got}, expected {status}"
            ids.append(rid)
            sent.append((target, status))
        return ids

    expected = traffic_is_counted_exactly(stack, access_log, templates, make_requests)
    perf = lambda g: sum(v[0] for (m, grp), v in expected.items() if grp == g)
    assert perf("/api/monitoring/performance") >= 5
    assert perf("static") >= 2 and perf("other") >= 2
    assert sum(v[3] for (m, g), v in expected.items() if g == "/api/monitoring/performance") >= 2


def test_every_route_of_the_table_has_its_group(stack, base_url, access_log, templates):
    """Each route `opsplane routes` lists, called without credentials, lands in its own group:
    the monitor groups by the API's own route table (Routes.table(), given to the config)."""
    def make_requests():
        return [send(base_url, helpers.fill_path(t, str(secrets.randbelow(10**6))))[0] for t in templates]

    expected = traffic_is_counted_exactly(stack, access_log, templates, make_requests)
    counted = {g for (m, g) in expected}
    missing = [t for t in templates if t not in counted]
    assert not missing, f"routes whose requests were not grouped under their template: {missing}"


def test_performance_answer_shape_series_and_freshness(api, tokens):
    auth = helpers.bearer(tokens["admin"])
    # Traffic of our own that must show within ~10 s (flush every 5 s).
    marker_route = "/api/monitoring/health/module/{name}"
    for i in range(3):
        api.get(f"/api/monitoring/health/module/perf-{secrets.token_hex(3)}", headers=auth)

    sent_at = time.time()

    # `as_of` is the last commit of the tail: every request nginx logged before it is counted.
    # (Our group need not be among the top 20 routes when the rest of the suite ran before.)
    def counted():
        body = api.get("/api/monitoring/performance?range=1h", headers=auth).json()
        as_of = body.get("as_of")
        if not as_of:
            return None
        t = calendar.timegm(time.strptime(as_of[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + as_of[19:].rstrip("Z"))
        return body if t > sent_at + 1 else None
    body = helpers.wait_until(counted, 15, what="a commit of the access-log tail after our requests")
    row = next((r for r in body["routes"] if r["route_group"] == marker_route), None)
    assert row is None or row["requests"] >= 3, row
    assert set(body) == METRIC_KEYS, f"keys: {sorted(body)}"
    assert body["freshness_s"] is not None and body["freshness_s"] < 30, body["freshness_s"]
    assert body["requests"] >= 3 and body["request_rate"] > 0
    p = body["api_response_time"]
    assert 0 < p["p50"] <= p["p95"] <= p["p99"], p

    for rng, (step, count) in RANGES.items():
        resp = api.get(f"/api/monitoring/performance?range={rng}", headers=auth)
        assert resp.status_code == 200, helpers.describe(resp)
        b = resp.json()
        assert b["range"] == rng and b["step_s"] == step
        series = b["series"]
        assert len(series) == count, f"{rng}: {len(series)} points"
        stamps = [calendar.timegm(time.strptime(s["ts"], "%Y-%m-%dT%H:%M:%SZ")) for s in series]
        assert all(b2 - a == step for a, b2 in zip(stamps, stamps[1:])), f"{rng}: points are not {step} s apart"
        assert sum(s["requests"] for s in series) == b["requests"]
        assert sum(s["errors"] for s in series) == b["errors"]
        for s in series:
            assert (s["p95"] is None) == (s["requests"] == 0), f"{rng}: {s}"
        # Zero-filled: the 7-day series of a young stack has empty hours.
        if rng == "7d":
            assert any(s["requests"] == 0 for s in series)
        routes = b["routes"]
        assert len(routes) <= 20
        assert [r["requests"] for r in routes] == sorted((r["requests"] for r in routes), reverse=True)
        assert abs(b["error_rate"] - (100 * b["errors"] / b["requests"] if b["requests"] else 0)) < 0.001
        assert isinstance(b["warnings"], list)
    # Longer ranges hold at least what shorter ones do.
    totals = [api.get(f"/api/monitoring/performance?range={r}", headers=auth).json()["requests"] for r in RANGES]
    assert totals == sorted(totals), totals


@pytest.mark.parametrize("query,needle", [
    ("range=2h", "must be one of 1h, 6h, 24h, 7d"),
    ("range=", "must be one of 1h, 6h, 24h, 7d"),
    ("range=1H", "must be one of 1h, 6h, 24h, 7d"),
    ("window=1h", "Unknown parameter 'window'; accepted: range"),
    ("range=1h&limit=5", "Unknown parameter 'limit'"),
])
def test_bad_parameters_are_400_listing_what_is_accepted(api, tokens, query, needle):
    resp = api.get(f"/api/monitoring/performance?{query}", headers=helpers.bearer(tokens["admin"]))
    err = helpers.assert_error_envelope(resp, 400, "invalid_parameter")
    assert needle in err["message"], err["message"]


def test_a_viewer_is_refused(api, tokens):
    resp = api.get("/api/monitoring/performance", headers=helpers.bearer(tokens["viewer"]))
    helpers.assert_error_envelope(resp, 403)
    helpers.assert_error_envelope(api.get("/api/monitoring/performance"), 401)
