"""Browser error reports: POST /api/ops/frontend-log (public, what navigator.sendBeacon sends)
and GET /api/ops/frontend-logs (admin): storage, grouping, limits, the ring buffer, `since`.

Every test uses route templates and messages of its own (a random tag), so tests do not see
each other's reports. Reports go through nginx, whose per-client limit (20/s, burst 40) is
met by spreading bursts over loopback addresses of their own.

A worker answers 204 once a report is in its queue and writes it within OPS_BEACON_FLUSH_MS
(50 ms), so the tests wait for the route's counter (`received_total`) or the drop counter
before they read.
"""

import json
import secrets
import signal

import pytest

import fcgi_client
import helpers
from activity_helpers import Ops, eventually

BEACON = "/api/ops/frontend-log"
LIST = "/api/ops/frontend-logs"


@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


class Sender:
    """Posts reports from a fresh client address every `per_address` requests."""

    def __init__(self, base_url, per_address=30):
        self.base_url = base_url
        self.per_address = per_address
        self.sent = 0
        self.source = helpers.fresh_client_address()

    def post(self, body, content_type="text/plain;charset=UTF-8"):
        if self.sent and self.sent % self.per_address == 0:
            self.source = helpers.fresh_client_address()
        self.sent += 1
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return helpers.raw_request(self.base_url, "POST", BEACON, headers={"Content-Type": content_type},
                                   body=data, source=self.source)


def tag():
    return "t" + secrets.token_hex(4)


def report(t, **fields):
    body = {"message": f"boom in {t}", "route": f"/{t}/page", "build_hash": "build-1",
            "browser": "Chromium 120", "ws_state": 1, "ts": "2026-01-02T03:04:05Z"}
    body.update(fields)
    return body


def stack_of(function, file="app.3f9a12bc.js", line=10):
    return f"TypeError: x is undefined\n    at {function} (https://h.example/assets/{file}:{line}:5)\n    at main (https://h.example/assets/main.js:1:1)"


def listing(ops, **params):
    resp = ops.get(LIST, {k: str(v) for k, v in params.items()})
    assert resp.status_code == 200, f"GET {LIST} {params}: {helpers.describe(resp)}"
    return resp.json()


def drops(ops):
    return listing(ops, since="1m", limit=1)["dropped"]


def written(ops, route, n, timeout=5):
    """Waits until `route`'s counter holds `n` reports (the workers write within the flush
    interval after answering), then returns the listing of the route."""
    def check():
        answer = listing(ops, route=route, since="1h", limit=500)
        assert answer["received_total"] >= n, f"{answer['received_total']} of {n} reports of {route} written"
        return answer
    return eventually(check, timeout=timeout)


def dropped(ops, reason, n, timeout=5):
    """Waits until the drop counter of `reason` reaches `n`; returns the counts."""
    def check():
        counts = drops(ops)
        assert counts.get(reason, 0) >= n, f"drop counter {reason}: {counts.get(reason, 0)}, expected {n}"
        return counts
    return eventually(check, timeout=timeout)


def test_a_text_plain_beacon_is_stored_as_sent(base_url, ops):
    t = tag()
    hostile = "<img src=x onerror=alert(1)> '; DROP TABLE ops.runs; -- ../../etc/passwd"
    resp = Sender(base_url).post(report(t, message=hostile, stack=stack_of("render"), type="TypeError",
                                        breadcrumbs=[{"t": "nav", "to": f"/{t}/page"}]))
    assert resp.status_code == 204, f"a sendBeacon-style text/plain report: {helpers.describe(resp)}"
    entries = written(ops, f"/{t}/page", 1)["entries"]
    assert len(entries) == 1, f"expected the one report for /{t}/page: {entries!r}"
    e = entries[0]
    assert e["message"] == hostile and e["route"] == f"/{t}/page" and e["build_hash"] == "build-1", e
    assert e["ws_state"] == "open" and e["browser"] == "Chromium 120" and e["type"] == "TypeError", e
    assert e["ts"] == "2026-01-02T03:04:05Z" and e["received_at"], e
    assert e["breadcrumbs"] == [{"t": "nav", "to": f"/{t}/page"}], e
    assert e["fingerprint"].startswith("v1-"), e


def test_a_json_body_and_an_id_in_the_route_are_accepted(base_url, ops):
    t = tag()
    resp = Sender(base_url).post(report(t, route=f"https://app.example/{t}/items/4411?tab=2"), "application/json")
    assert resp.status_code == 204, helpers.describe(resp)
    entries = written(ops, f"/{t}/items/:id", 1)["entries"]
    assert [e["route"] for e in entries] == [f"/{t}/items/:id"], entries
    # The route filter takes a raw path too and reduces it the same way.
    assert len(listing(ops, route=f"/{t}/items/977", since="5m")["entries"]) == 1


def test_the_same_error_from_two_builds_forms_one_group(base_url, ops):
    t = tag()
    s = Sender(base_url)
    for build, file, line in (("b1", "app.3f9a12bc.js", 10), ("b2", "app.77aa01ee.js", 14), ("b2", "app.77aa01ee.js", 14)):
        resp = s.post(report(t, build_hash=build, stack=stack_of(f"render_{t}", file, line)))
        assert resp.status_code == 204, helpers.describe(resp)
    resp = s.post(report(t, stack=stack_of(f"other_{t}")))
    assert resp.status_code == 204, helpers.describe(resp)
    written(ops, f"/{t}/page", 4)
    groups = listing(ops, route=f"/{t}/page", since="5m", group=1)["groups"]
    assert [g["count"] for g in groups] == [3, 1], f"expected groups of 3 and 1: {groups!r}"
    big = groups[0]
    assert sorted(big["build_hashes"]) == ["b1", "b2"], big
    assert big["routes"] == [f"/{t}/page"] and f"render_{t}" in big["sample_stack"], big
    assert big["first_seen"] <= big["last_seen"], big


def test_messages_without_stacks_group_with_numbers_stripped(base_url, ops):
    t = tag()
    s = Sender(base_url)
    for n in (4411, 97):
        assert s.post(report(t, message=f"Item {n} not found ({t})")).status_code == 204
    written(ops, f"/{t}/page", 2)
    groups = listing(ops, route=f"/{t}/page", since="5m", group=1)["groups"]
    assert [g["count"] for g in groups] == [2], groups


@pytest.mark.parametrize("body,status,code", [
    (b"[1, 2]", 400, "not_object"),
    (b"{not json", 400, "invalid_json"),
    (b'{"message": "x", "cookie": "y"}', 400, "unknown_field"),
    (b'{"message": 5}', 400, "invalid_field"),
    (b"x" * (16 * 1024 + 1), 413, "body_too_large"),
])
def test_bad_reports_are_refused_and_counted(base_url, ops, body, status, code):
    reason = "too_large" if code == "body_too_large" else code
    before = drops(ops).get(reason, 0)
    resp = Sender(base_url).post(body)
    helpers.assert_error_envelope(resp, status, code)
    assert dropped(ops, reason, before + 1).get(reason, 0) == before + 1, f"drop counter {reason} grew by more than one"


def test_an_error_storm_is_capped_per_fingerprint_with_retry_after(base_url, ops):
    t = tag()
    s = Sender(base_url)
    statuses = []
    throttled = None
    before = drops(ops).get("fingerprint_rate", 0)
    # 60 a minute are stored; the minute may roll over once during the burst, so allow 2 × 60.
    for _ in range(130):
        resp = s.post(report(t, stack=stack_of(f"storm_{t}")))
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            throttled = resp
            break
    assert throttled is not None, f"no 429 after {len(statuses)} identical reports: {set(statuses)}"
    helpers.assert_error_envelope(throttled, 429, "rate_limited")
    retry = int(throttled.headers.get("retry-after", "0"))
    assert 1 <= retry <= 60, f"Retry-After {retry!r}"
    assert set(statuses[:-1]) == {204}, f"before the 429 every report should be stored: {statuses}"
    stored = len(written(ops, f"/{t}/page", len(statuses) - 1)["entries"])
    assert stored == len(statuses) - 1 and 60 <= stored <= 120, f"{stored} stored of {len(statuses)} sent"
    dropped(ops, "fingerprint_rate", before + 1)
    # Another error on the same page is not held back by the storm.
    assert s.post(report(t, stack=stack_of(f"calm_{t}"))).status_code == 204


def test_the_ring_keeps_the_last_500_reports_of_a_route(base_url, ops):
    t = tag()
    s = Sender(base_url)
    for i in range(510):
        resp = s.post(report(t, stack=stack_of(f"fn_{t}_{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}"), message=f"r{i}"))
        assert resp.status_code == 204, f"report {i}: {helpers.describe(resp)}"
    answer = written(ops, f"/{t}/page", 510)
    entries = answer["entries"]
    assert len(entries) == 500, f"{len(entries)} entries kept"
    assert answer["received_total"] == 510 and answer["evicted"] == 10, answer
    seqs = sorted(e["seq"] for e in entries)
    assert seqs == list(range(11, 511)), f"the oldest ten should be gone: {seqs[:3]}…{seqs[-3:]}"
    rows = ops.sql("SELECT count(*) FROM ops.frontend_logs WHERE route = :'r'", r=f"/{t}/page")
    assert rows == "500", f"ring rows for the route: {rows}"


def test_since_filters_by_receive_time(base_url, ops):
    t = tag()
    s = Sender(base_url)
    for i in range(2):
        assert s.post(report(t, message=f"{t} report {i}", stack=stack_of(f"since{i}_{t}"))).status_code == 204
    written(ops, f"/{t}/page", 2)
    ops.sql("UPDATE ops.frontend_logs SET received_at = now() - interval '10 minutes' "
            "WHERE route = :'r' AND seq = 1", r=f"/{t}/page")
    assert len(listing(ops, route=f"/{t}/page", since="5m")["entries"]) == 1
    assert len(listing(ops, route=f"/{t}/page", since="15m")["entries"]) == 2
    assert [g["count"] for g in listing(ops, route=f"/{t}/page", since="5m", group=1)["groups"]] == [1]


@pytest.mark.parametrize("params", [{"since": "5 minutes"}, {"since": "8d"}, {"group": "yes"},
                                    {"limit": "0"}, {"level": "error"}])
def test_bad_listing_parameters_are_400(ops, params):
    helpers.assert_error_envelope(ops.get(LIST, params), 400, "invalid_parameter")


def test_routes_beyond_the_cap_share_the_other_slots(base_url, ops):
    t = tag()
    ops.sql("INSERT INTO ops.frontend_log_routes (route) SELECT '/zz-cap-' || :'t' || '-' || g "
            "FROM generate_series(1, 200) g", t=t)
    try:
        known = f"/{t}/known"
        assert ops.sql("SELECT count(*) >= 200 FROM ops.frontend_log_routes") == "t"
        resp = Sender(base_url).post(report(t, route=f"/{t}/new-page"))
        assert resp.status_code == 204, helpers.describe(resp)

        def in_other():
            other = [e for e in listing(ops, route="(other)", since="5m", limit=500)["entries"] if t in e["message"]]
            assert len(other) == 1 and other[0]["route"] == "(other)", other
        eventually(in_other, timeout=5)
        assert ops.sql("SELECT count(*) FROM ops.frontend_log_routes WHERE route = :'r'", r=f"/{t}/new-page") == "0"
        # A route that already has a ring keeps it.
        ops.sql("INSERT INTO ops.frontend_log_routes (route) VALUES (:'r')", r=known)
        assert Sender(base_url).post(report(t, route=known)).status_code == 204
        assert len(written(ops, known, 1)["entries"]) == 1
    finally:
        ops.sql("DELETE FROM ops.frontend_log_routes WHERE route LIKE '/zz-cap-' || :'t' || '-%'", t=t)


def test_nginx_limits_each_client_address(base_url):
    """20 reports/s per client address with a burst of 40: a page stuck in an error loop gets
    429 from nginx (the JSON envelope) long before it can flood the workers."""
    source = helpers.fresh_client_address()
    statuses = []
    for i in range(80):
        body = json.dumps({"message": f"loop {i}", "route": "/nginx-limit"}).encode()
        resp = helpers.raw_request(base_url, "POST", BEACON, headers={"Content-Type": "text/plain"},
                                   body=body, source=source)
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            helpers.assert_error_envelope(resp, 429, "rate_limited")
            break
    assert statuses[-1] == 429, f"80 reports in a burst from one address were all accepted: {statuses}"
    assert statuses.count(204) >= 40, f"the burst of 40 should pass first: {statuses}"


# --- the worker's queue -------------------------------------------------------------------------

def post_to(sock, body):
    return fcgi_client.request(str(sock), "POST", BEACON, headers={"Content-Type": "text/plain;charset=UTF-8"},
                               body=json.dumps(body).encode())


def stop(proc, log):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(15)
    assert code == 0, f"worker exited with {code} after SIGTERM; log:\n{helpers.tail(log)}"


def test_sigterm_writes_every_queued_report_before_the_worker_exits(own_worker, ops):
    """A report answered 204 is in the worker's memory until its batch is written; SIGTERM
    writes the queue out before the process exits. A flush interval of a minute keeps the
    reports queued until the signal."""
    proc, sock, log = own_worker(OPS_BEACON_FLUSH_MS=60000)
    t = tag()
    for i in range(30):
        resp = post_to(sock, report(t, message=f"queued {i}", stack=stack_of(f"q_{t}")))
        assert resp is not None and resp.status == 204, resp
    assert listing(ops, route=f"/{t}/page", since="5m")["received_total"] == 0, \
        "with a 60 s flush interval nothing should be written before the signal"
    stop(proc, log)
    answer = listing(ops, route=f"/{t}/page", since="5m", limit=500)
    assert answer["received_total"] == 30 and len(answer["entries"]) == 30, \
        f"{answer['received_total']} of 30 queued reports written at SIGTERM; log:\n{helpers.tail(log)}"
    assert sorted(e["message"] for e in answer["entries"]) == sorted(f"queued {i}" for i in range(30))


def test_a_full_queue_refuses_with_503_and_counts_the_drop(own_worker, ops):
    proc, sock, log = own_worker(OPS_BEACON_FLUSH_MS=60000, OPS_BEACON_QUEUE=5)
    t = tag()
    before = drops(ops).get("queue_full", 0)
    statuses = []
    refused = None
    for i in range(7):
        resp = post_to(sock, report(t, message=f"q{i}", stack=stack_of(f"full{i}_{t}")))
        statuses.append(resp.status)
        if resp.status != 204:
            refused = resp
    assert statuses == [204] * 5 + [503] * 2, f"a queue of 5 reports: {statuses}"
    body = refused.json()
    assert body["error"]["code"] == "queue_full" and refused.headers.get("retry-after") == "1", refused
    stop(proc, log)
    assert listing(ops, route=f"/{t}/page", since="5m")["received_total"] == 5
    assert drops(ops).get("queue_full", 0) == before + 2


def test_a_refusal_is_counted_while_no_report_waits(own_worker, ops):
    """A throttled report when the queue is empty: its drop count is written on its own."""
    proc, sock, log = own_worker(OPS_BEACON_FINGERPRINT_PER_MIN=1)
    t = tag()
    assert post_to(sock, report(t, stack=stack_of(f"one_{t}"))).status == 204
    written(ops, f"/{t}/page", 1)
    before = drops(ops).get("fingerprint_rate", 0)
    resp = post_to(sock, report(t, stack=stack_of(f"one_{t}")))
    assert resp.status == 429, resp
    dropped(ops, "fingerprint_rate", before + 1)
