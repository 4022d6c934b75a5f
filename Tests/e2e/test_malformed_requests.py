"""Malformed and hostile requests get a 4xx with the error envelope, and no worker goes down.

Requests are sent with http.client (helpers.raw_request) so that the target reaches nginx
byte for byte: `requests` would re-quote bad escapes and remove dot segments.
Every test ends with workers_unharmed.check(): same worker pids alive, each worker answering
on its own socket, and /api/ops/ping answering through nginx.
"""

import json
import re
import socket
import subprocess

import pytest

import fcgi_client
import helpers

ONE_MIB = 1024 * 1024
PASSWD_MARK = "root:x:0:0"


def assert_client_error_with_envelope(resp, what):
    assert 400 <= resp.status_code < 500, f"{what}: expected a 4xx, the client saw {helpers.describe(resp)}"
    return helpers.assert_error_envelope(resp, resp.status_code)


@pytest.mark.parametrize("query", [
    "x=%ZZ",          # not hexadecimal
    "x=%4",           # truncated escape
    "x=abc%",         # lone percent at the end
    "x=%FF",          # decodes to a byte that is not UTF-8
    "x=%C3%28",       # broken two-byte UTF-8 sequence
    "x=%00",          # NUL byte
    "%ZZ=1",          # bad escape in the parameter name
])
def test_bad_query_encoding_is_400_bad_query(base_url, workers_unharmed, query):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/ping?" + query)
    helpers.assert_error_envelope(resp, 400, "bad_query")
    workers_unharmed.check()


def test_valid_query_encoding_is_accepted(base_url, workers_unharmed):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/ping?name=caf%C3%A9&q=a+b&flag")
    assert resp.status_code == 200, f"well-formed query string refused: {helpers.describe(resp)}"
    workers_unharmed.check()


def test_body_over_1_mib_is_413_body_too_large(base_url, workers_unharmed):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/ping", body=b"x" * (ONE_MIB + 1),
                               headers={"Content-Type": "application/octet-stream"})
    helpers.assert_error_envelope(resp, 413, "body_too_large")
    workers_unharmed.check()


def test_body_of_exactly_1_mib_passes_both_size_caps(base_url, workers_unharmed):
    # Reaches the worker's router: POST on ping is a 405, not a 413 from nginx or the worker.
    resp = helpers.raw_request(base_url, "POST", "/api/ops/ping", body=b"x" * ONE_MIB,
                               headers={"Content-Type": "application/octet-stream"})
    helpers.assert_error_envelope(resp, 405, "method_not_allowed")
    workers_unharmed.check()


def test_chunked_body_over_1_mib_is_413_body_too_large(base_url, workers_unharmed):
    # No Content-Length: the size is only known while the body streams in.
    chunks = (b"y" * 65536 for _ in range(24))  # 1.5 MiB, sent with Transfer-Encoding: chunked
    resp = helpers.raw_request(base_url, "POST", "/api/ops/ping", body=chunks,
                               headers={"Content-Type": "application/octet-stream"})
    helpers.assert_error_envelope(resp, 413, "body_too_large")
    workers_unharmed.check()


def test_worker_itself_refuses_a_body_over_its_cap(own_worker):
    # Behind nginx the 1 MiB cap is nginx's; the worker must hold its own OPS_MAX_BODY_BYTES
    # too, for anything that reaches its socket without nginx.
    proc, sock, log = own_worker(OPS_MAX_BODY_BYTES=2048)
    resp = fcgi_client.request(str(sock), "POST", "/api/ops/ping", body=b"z" * 4096,
                               headers={"Content-Type": "application/octet-stream"})
    assert resp is not None, f"worker closed the connection without an answer; log:\n{helpers.tail(log)}"
    assert resp.status == 413, f"worker with OPS_MAX_BODY_BYTES=2048 answered a 4096-byte body with {resp!r}"
    assert resp.json()["error"]["code"] == "body_too_large", f"unexpected body: {resp.body!r}"
    assert proc.poll() is None, f"worker exited after an oversize body; log:\n{helpers.tail(log)}"
    assert helpers.worker_answers(str(sock)).status == 200, "worker stopped answering after an oversize body"


@pytest.mark.parametrize("target", [
    "/api/ops/does-not-exist",
    "/api/ops/healthz/extra",
    "/api/nothing/here",
    "/api/",
])
def test_unknown_api_route_is_404_not_found(base_url, workers_unharmed, target):
    resp = helpers.raw_request(base_url, "GET", target)
    helpers.assert_error_envelope(resp, 404, "not_found")
    workers_unharmed.check()


@pytest.mark.parametrize("method,target,body", [
    ("POST", "/api/ops/healthz", b""),
    ("POST", "/api/ops/ping", b'{"hello":"world"}'),
    ("PUT", "/api/ops/ping", b'{"hello":"world"}'),
    ("DELETE", "/api/ops/ping", None),
    ("PATCH", "/api/ops/healthz", b"a=b"),
    ("BREW", "/api/ops/ping", None),
])
def test_wrong_method_is_405_with_allow_header(base_url, workers_unharmed, method, target, body):
    resp = helpers.raw_request(base_url, method, target, body=body)
    helpers.assert_error_envelope(resp, 405, "method_not_allowed")
    allow = resp.headers.get("allow", "")
    assert "GET" in [m.strip() for m in allow.split(",")], \
        f"405 for {method} {target} should list GET in its Allow header, got {allow!r}"
    workers_unharmed.check()


def test_every_route_in_the_table_refuses_other_methods_with_405(stack, base_url, workers_unharmed):
    # The route table as the binary declares it (`opsplane routes`), so routes added later
    # are covered too. The admin token is sent so that an auth gate cannot answer first.
    proc = subprocess.run([str(helpers.opsplane_binary()), "routes"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"opsplane routes failed: {proc.stderr}"
    methods_by_path = {}
    for route in json.loads(proc.stdout):
        methods_by_path.setdefault(route["path"], set()).add(route["method"])
    assert methods_by_path, "opsplane routes lists no route"
    auth = {"Authorization": f"Bearer {stack.env.get('OPS_ADMIN_TOKEN', '')}"}
    problems = []
    for pattern, methods in sorted(methods_by_path.items()):
        path = re.sub(r"\{[^/}]+\}", "1", pattern)
        for method in sorted({"GET", "POST", "PUT", "DELETE", "PATCH"} - methods - ({"HEAD"} if "GET" in methods else set())):
            resp = helpers.raw_request(base_url, method, path, headers=auth, body=b"{}" if method != "GET" else None)
            allow = {m.strip() for m in resp.headers.get("allow", "").split(",") if m.strip()}
            code = resp.json().get("error", {}).get("code") if "json" in resp.headers.get("content-type", "") else None
            if resp.status_code != 405 or code != "method_not_allowed" or not methods <= allow:
                problems.append(f"{method} {path}: {resp.status_code} {code!r}, Allow {sorted(allow)} "
                                f"(the table has {sorted(methods)})")
    assert not problems, "routes answering a wrong method badly:\n  " + "\n  ".join(problems)
    workers_unharmed.check()


def test_oversized_request_header_is_4xx_with_envelope(base_url, workers_unharmed):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/ping", headers={"X-Big": "a" * 20000})
    assert_client_error_with_envelope(resp, "a 20 KB request header")
    workers_unharmed.check()


def test_many_request_headers_within_limits_reach_the_worker(base_url, workers_unharmed):
    headers = {f"X-Filler-{i}": "v" * 100 for i in range(40)}  # ~4.5 KB of headers
    resp = helpers.raw_request(base_url, "GET", "/api/ops/ping", headers=headers)
    assert resp.status_code == 200, f"ordinary large headers refused: {helpers.describe(resp)}"
    workers_unharmed.check()


@pytest.mark.parametrize("target", [
    "/api/ops/../../etc/passwd",
    "/api/ops/%2e%2e/%2e%2e/etc/passwd",
    "/api/ops/..%2f..%2f..%2fetc%2fpasswd",
    "/api/ops/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/admin/ops/../../../etc/passwd",
    "/admin/ops/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/../../../../etc/passwd",
])
def test_path_traversal_never_serves_files(base_url, workers_unharmed, target):
    resp = helpers.raw_request(base_url, "GET", target)
    assert PASSWD_MARK not in resp.text, f"GET {target} served /etc/passwd!"
    assert 400 <= resp.status_code < 500, f"GET {target}: expected a 4xx, the client saw {helpers.describe(resp)}"
    workers_unharmed.check()


@pytest.mark.parametrize("target", [
    "/api/ops/%2e%2e/etc/passwd",        # nginx resolves it to /api/etc/passwd and passes it on
    "/api/ops/x/../../ops/nothing",
    "/api/ops/x/../healthz",             # would be a real route once normalised
])
def test_dot_segments_inside_api_are_400_envelope(base_url, workers_unharmed, target):
    # The worker routes on the raw path and refuses dot segments, so nginx's normalised
    # location and the worker's route can never disagree about which route was meant.
    resp = helpers.raw_request(base_url, "GET", target)
    assert PASSWD_MARK not in resp.text, f"GET {target} served /etc/passwd!"
    helpers.assert_error_envelope(resp, 400, "bad_path")
    workers_unharmed.check()


@pytest.mark.parametrize("target", [
    "/api/ops/%ZZ",         # bad escape in the path
    "/api/ops/%FF%FE",      # not UTF-8
    "/api/ops/ping%00",     # NUL byte
])
def test_bad_path_encoding_is_4xx_with_envelope(base_url, workers_unharmed, target):
    resp = helpers.raw_request(base_url, "GET", target)
    assert_client_error_with_envelope(resp, f"GET {target}")
    workers_unharmed.check()


@pytest.mark.parametrize("query", [
    "id=1%27%20OR%20%271%27%3D%271",                          # id=1' OR '1'='1
    "x=1%3B%20DROP%20TABLE%20ops.migrations%3B--",            # x=1; DROP TABLE ops.migrations;--
    "q=%27%29%3B%20SELECT%20pg_sleep%2810%29%3B--",           # q='); SELECT pg_sleep(10);--
    "%27%20OR%201%3D1--=1",                                   # the SQL in a parameter name
])
def test_sql_in_the_query_string_is_inert(api, base_url, workers_unharmed, query):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/healthz?" + query, timeout=5)
    if resp.status_code != 200:
        assert_client_error_with_envelope(resp, f"healthz?{query}")
    else:
        assert helpers.parse_json(resp).get("status") == "ok", helpers.describe(resp)
    after = api.get("/api/ops/healthz")
    assert after.status_code == 200, f"healthz after a SQL-ish query: {helpers.describe(after)}"
    workers_unharmed.check()


def test_sql_in_the_path_is_404_envelope(base_url, workers_unharmed):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/healthz%27%3B%20DROP%20TABLE%20ops.migrations%3B--")
    helpers.assert_error_envelope(resp, 404, "not_found")
    workers_unharmed.check()


def test_very_long_query_string_is_answered_without_a_server_error(base_url, workers_unharmed):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/ping?" + "&".join(f"k{i}=v{i}" for i in range(800)))
    if resp.status_code != 200:
        assert_client_error_with_envelope(resp, "a 7 KB query string")
    workers_unharmed.check()


def test_client_that_disconnects_mid_body_leaves_workers_up(stack, workers_unharmed):
    with socket.create_connection((stack.host, stack.port), timeout=helpers.TIMEOUT) as s:
        s.sendall(b"POST /api/ops/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b"{" * 1000)
    # The connection is gone with 99,000 bytes of body never sent.
    workers_unharmed.check()


def test_garbage_instead_of_http_leaves_workers_up(stack, workers_unharmed):
    with socket.create_connection((stack.host, stack.port), timeout=helpers.TIMEOUT) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n")
        answer = s.recv(65536)
    assert not answer or answer.startswith(b"HTTP/1.1 400"), f"garbage got {answer[:200]!r}"
    workers_unharmed.check()

