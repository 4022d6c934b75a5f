"""X-Request-Id: echoed when acceptable, generated otherwise, and written to the worker's log."""

import json
import uuid

import pytest

import helpers


def new_id(prefix="e2e"):
    return f"{prefix}-{uuid.uuid4().hex}"


def find_log_line(stack, request_id):
    """The JSON line that some worker wrote for request_id, or None.

    Gated routes also log nginx's auth subrequest under the same id (`"auth": true`); that
    line is skipped: this is the line of the request itself."""
    for log in stack.worker_logs():
        with open(log, errors="replace") as f:
            for line in f:
                if request_id in line:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("request_id") == request_id and entry.get("auth") is not True:
                        return entry
    return None


def wait_for_log_line(stack, request_id):
    return helpers.wait_until(lambda: find_log_line(stack, request_id), 5,
                              what=f"a worker log line with request_id {request_id} in {stack.log_dir}")


def test_acceptable_request_id_is_echoed(api):
    rid = "e2e.Echo_" + uuid.uuid4().hex[:20] + "-1"
    resp = api.get("/api/ops/ping", headers={"X-Request-Id": rid})
    assert resp.status_code == 200, helpers.describe(resp)
    assert resp.headers.get("X-Request-Id") == rid, \
        f"sent X-Request-Id {rid!r}, response carried {resp.headers.get('X-Request-Id')!r}"


def test_request_id_of_64_characters_is_echoed(api):
    rid = ("e2e-" + uuid.uuid4().hex * 2)[:64]
    resp = api.get("/api/ops/ping", headers={"X-Request-Id": rid})
    assert resp.headers.get("X-Request-Id") == rid, \
        f"a 64-character id is acceptable but came back as {resp.headers.get('X-Request-Id')!r}"


def test_request_id_is_generated_when_absent(api):
    ids = []
    for _ in range(2):
        resp = api.get("/api/ops/ping")
        rid = resp.headers.get("X-Request-Id")
        assert rid and helpers.REQUEST_ID_RE.match(rid), \
            f"response without a usable generated X-Request-Id: {rid!r}"
        ids.append(rid)
    assert ids[0] != ids[1], f"two requests got the same generated id {ids[0]!r}"


@pytest.mark.parametrize("bad", [
    "has spaces in it",
    "a" * 65,                    # one too long
    "semi;colon",
    "<script>alert(1)</script>",
    "quote\"d",
    "slash/ed",
])
def test_unacceptable_request_id_is_replaced(api, bad):
    resp = api.get("/api/ops/ping", headers={"X-Request-Id": bad})
    assert resp.status_code == 200, f"an odd X-Request-Id must not fail the request: {helpers.describe(resp)}"
    rid = resp.headers.get("X-Request-Id")
    assert rid != bad, f"unacceptable X-Request-Id {bad!r} was echoed back"
    assert rid and helpers.REQUEST_ID_RE.match(rid), f"replacement id is not usable: {rid!r}"


@pytest.mark.parametrize("method,target,status", [
    ("GET", "/api/ops/no-such-route", 404),
    ("DELETE", "/api/ops/ping", 405),
    ("GET", "/api/ops/ping?x=%ZZ", 400),
])
def test_error_responses_carry_the_request_id(base_url, method, target, status):
    rid = new_id("err")
    resp = helpers.raw_request(base_url, method, target, headers={"X-Request-Id": rid})
    assert resp.status_code == status, helpers.describe(resp)
    assert resp.headers.get("x-request-id") == rid, \
        f"{status} response to {method} {target} lacks the request id: {resp.headers.get('x-request-id')!r}"


def test_request_id_appears_in_the_worker_log_line(stack, api):
    rid = new_id("log")
    resp = api.get("/api/ops/ping", headers={"X-Request-Id": rid})
    assert resp.status_code == 200, helpers.describe(resp)
    entry = wait_for_log_line(stack, rid)
    assert entry.get("method") == "GET", f"log line method: {entry}"
    assert entry.get("path") == "/api/ops/ping", f"log line path: {entry}"
    assert entry.get("status") == 200, f"log line status: {entry}"
    assert isinstance(entry.get("dur_ms"), (int, float)) and entry["dur_ms"] >= 0, f"log line dur_ms: {entry}"
    for field in ("ts", "level", "msg"):
        assert entry.get(field), f"log line lacks {field}: {entry}"


def test_error_status_is_logged_with_its_request_id(stack, base_url):
    rid = new_id("log404")
    resp = helpers.raw_request(base_url, "GET", "/api/ops/nowhere", headers={"X-Request-Id": rid})
    assert resp.status_code == 404, helpers.describe(resp)
    entry = wait_for_log_line(stack, rid)
    assert entry.get("status") == 404 and entry.get("path") == "/api/ops/nowhere", f"log line: {entry}"


def test_generated_request_id_is_the_one_logged(stack, api):
    resp = api.get("/api/ops/ping")
    rid = resp.headers.get("X-Request-Id")
    assert rid, "no X-Request-Id on the response"
    entry = wait_for_log_line(stack, rid)
    assert entry.get("path") == "/api/ops/ping", f"log line: {entry}"


def find_access_log_entry(stack, request_id):
    path = stack.env.get("OPS_ACCESS_LOG") or str(stack.log_dir / "access.log")
    with open(path, errors="replace") as f:
        for line in f:
            if request_id in line:
                entry = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
    return None


def test_nginx_access_log_has_the_same_id_as_the_response(stack, api):
    # Without a client id, nginx's id is the one the worker answers with and logs: one id
    # finds the request in both logs.
    resp = api.get("/api/ops/ping")
    rid = resp.headers.get("X-Request-Id")
    assert rid, "no X-Request-Id on the response"
    entry = helpers.wait_until(lambda: find_access_log_entry(stack, rid), 5,
                               what=f"an access.log line with request_id {rid}")
    assert entry.get("status") == 200 and entry.get("uri") == "/api/ops/ping", f"access.log line: {entry}"
    assert wait_for_log_line(stack, rid), "the worker logged the request under another id"
