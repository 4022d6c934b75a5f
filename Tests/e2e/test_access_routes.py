"""Access control, route by route: every route that `opsplane routes` lists is called with no
credentials, a viewer, an ingest and an admin token, through nginx and straight at a worker.

The table comes from the binary, so a new route is walked without anyone editing this file,
and a route whose access is not one of the four known values fails the suite.
"""

import json
import secrets

import pytest

import fcgi_client
import helpers

CALLERS = ("none", "viewer", "ingest", "admin")

# Which callers get through ("pass": anything but 401/403) and how the others are refused.
EXPECTED = {
    "public":        {"none": "pass", "viewer": "pass", "ingest": "pass", "admin": "pass"},
    "authenticated": {"none": 401, "viewer": "pass", "ingest": 403, "admin": "pass"},
    "admin":         {"none": 401, "viewer": 403, "ingest": 403, "admin": "pass"},
    "ingest":        {"none": 401, "viewer": 403, "ingest": "pass", "admin": 403},
}
REFUSAL_CODE = {401: "unauthenticated", 403: "forbidden"}
WITH_BODY = {"POST", "PUT", "PATCH"}


def label(route):
    return f"{route['method']} {route['path']} ({route['access']})"


def call(base_url, route, headers, source):
    method = route["method"]
    headers = dict(headers)
    body = None
    if method in WITH_BODY:
        body = b"{}"
        headers["Content-Type"] = "application/json"
    return helpers.raw_request(base_url, method, helpers.fill_path(route["path"]), headers=headers,
                               body=body, source=source)


@pytest.fixture(scope="module")
def routes():
    return helpers.opsplane_routes()


@pytest.fixture(scope="module")
def walk(base_url, routes, tokens):
    """{(route label, caller): (route, response)} for every route and caller, through nginx."""
    # An address of its own: the walk signs in (POST /api/ops/login {}) once per caller, which
    # must not count against another test's sign-in limit.
    source = helpers.fresh_client_address()
    results = {}
    for route in routes:
        if route.get("access") not in EXPECTED:
            continue
        for caller in CALLERS:
            headers = {} if caller == "none" else helpers.bearer(tokens[caller])
            results[(label(route), caller)] = (route, call(base_url, route, headers, source))
    return results


def test_every_route_declares_a_known_access_value(routes):
    unknown = [f"{r.get('method')} {r.get('path')}: access {r.get('access')!r}" for r in routes
               if r.get("access") not in EXPECTED]
    assert not unknown, (
        "routes whose access is not one of public|authenticated|admin|ingest; nobody can say who "
        "may call them:\n  " + "\n  ".join(unknown))


def test_every_route_table_entry_is_complete(routes):
    bad = [json.dumps(r) for r in routes
           if not (isinstance(r.get("method"), str) and isinstance(r.get("path"), str)
                   and r["path"].startswith("/"))]
    assert not bad, "route table entries without a method or an absolute path:\n  " + "\n  ".join(bad)


def test_each_caller_gets_the_status_class_its_role_allows(walk):
    problems = []
    for (name, caller), (route, resp) in walk.items():
        want = EXPECTED[route["access"]][caller]
        got = resp.status_code
        if want == "pass" and got in (401, 403):
            problems.append(f"{name} as {caller}: should get through, was refused with "
                            f"{helpers.describe(resp)}")
        elif want != "pass" and got != want:
            problems.append(f"{name} as {caller}: should be refused with {want}, got {helpers.describe(resp)}")
    assert not problems, "access control does not match the route table:\n  " + "\n  ".join(problems)


def test_every_refusal_carries_the_json_error_envelope(walk):
    problems = []
    for (name, caller), (route, resp) in walk.items():
        if resp.status_code not in (401, 403):
            continue
        try:
            helpers.assert_error_envelope(resp, resp.status_code, REFUSAL_CODE[resp.status_code])
        except AssertionError as exc:
            problems.append(f"{name} as {caller}: {exc}")
    assert not problems, "refusals a client cannot read:\n  " + "\n  ".join(problems)


def test_no_route_answers_a_server_error_to_any_caller(walk):
    problems = [f"{name} as {caller}: {helpers.describe(resp)}"
                for (name, caller), (route, resp) in walk.items() if resp.status_code >= 500]
    assert not problems, "server errors during the route walk:\n  " + "\n  ".join(problems)


def test_public_routes_stay_public_with_a_refused_credential(base_url, routes):
    # A stale or wrong credential must not lock anyone out of health checks or sign-in.
    source = helpers.fresh_client_address()
    problems = []
    for route in routes:
        if route.get("access") != "public":
            continue
        for headers in (helpers.bearer("ops_" + "0" * 64), {"Cookie": "ops_session=garbage.value"}):
            resp = call(base_url, route, headers, source)
            if resp.status_code in (401, 403):
                problems.append(f"{label(route)} with {headers}: {helpers.describe(resp)}")
    assert not problems, "public routes refused because of a bad credential:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("target", [
    "/api/ops/healthz/../whoami",
    "/api/ops/healthz/../tokens",
    "/api/ops/tokens/..%2Fhealthz",
    "/api/ops/tokens%2F..%2Fhealthz",
    "/api/ops/tokens/%2e%2e/healthz",
    "/api/ops/tokens/%2E%2E/login",
    "/api/ops//tokens",
    "/api/ops/tokens/",
    "/api/ops/tokens;/../ping",
    "/api/ops/%74okens",
    "/api/ops/ping/../tokens",
    "/api/ops/login/../tokens",
])
def test_path_tricks_never_reach_a_gated_route_without_credentials(base_url, target):
    # nginx picks the location on the normalised path, the workers route on the raw one; no
    # spelling may land in an ungated location and still reach a gated handler.
    resp = helpers.raw_request(base_url, "GET", target)
    assert resp.status_code in (400, 401, 404, 405), \
        f"GET {target} without credentials should be refused or not found; the client saw {helpers.describe(resp)}"
    helpers.assert_error_envelope(resp, resp.status_code)


# Straight at a worker socket, bypassing nginx ------------------------------------------------------

def worker_call(stack, route, params=None, headers=None):
    sock = str(stack.worker_socket(sorted(stack.worker_pids())[0]))
    method = route["method"]
    body = b"{}" if method in WITH_BODY else b""
    return fcgi_client.request(sock, method, helpers.fill_path(route["path"]), body=body,
                               headers=headers, params=params)


def fcgi_envelope_code(resp):
    try:
        return resp.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_workers_refuse_every_non_public_route_without_a_role(stack, routes, tokens):
    # What a process on the machine that skips nginx sees: even with a valid token in the
    # headers, a worker does not authenticate by itself; only OPS_ROLE (set by nginx) counts.
    problems = []
    for route in routes:
        if route.get("access") not in EXPECTED or route["access"] == "public":
            continue
        for headers in (None, {"Authorization": f"Bearer {tokens['admin']}"}, {"X-Ops-Role": "admin"}):
            resp = worker_call(stack, route, headers=headers)
            if resp is None or resp.status != 401 or fcgi_envelope_code(resp) != "unauthenticated":
                problems.append(f"{label(route)} headers={list((headers or {}).keys())}: {resp!r}")
    assert not problems, ("a worker served a non-public route to a request without OPS_ROLE "
                          "(bypassing nginx):\n  " + "\n  ".join(problems))


def test_workers_check_the_role_nginx_passes(stack, routes):
    wrong_role = {"authenticated": "ingest", "admin": "viewer", "ingest": "admin"}
    problems = []
    for route in routes:
        role = wrong_role.get(route.get("access"))
        if role is None:
            continue
        resp = worker_call(stack, route, params={"OPS_ROLE": role, "OPS_SUBJECT": "e2e:wrong-role"})
        if resp is None or resp.status != 403 or fcgi_envelope_code(resp) != "forbidden":
            problems.append(f"{label(route)} with OPS_ROLE={role}: {resp!r}")
    assert not problems, "a worker let a role through that the route table does not allow:\n  " + \
        "\n  ".join(problems)


def test_workers_serve_public_routes_without_a_role(stack, routes):
    problems = []
    for route in routes:
        if route.get("access") != "public":
            continue
        resp = worker_call(stack, route)
        if resp is None or resp.status in (401, 403):
            problems.append(f"{label(route)}: {resp!r}")
    assert not problems, "public routes refused by a worker:\n  " + "\n  ".join(problems)


# The auth endpoint (auth_request) ------------------------------------------------------------------

def auth_check(stack, method, path, headers=None):
    sock = str(stack.worker_socket(sorted(stack.worker_pids())[0]))
    return fcgi_client.request(sock, method, path, headers=headers, params={"OPS_AUTH_REQUEST": "1"})


def test_auth_endpoint_answers_204_with_role_and_subject_for_an_admin(stack, tokens):
    resp = auth_check(stack, "GET", "/api/ops/tokens", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert resp is not None and resp.status == 204, f"auth check for an admin token: {resp!r}"
    assert resp.headers.get("x-ops-role") == "admin", f"auth check did not name the role: {resp.headers}"
    assert resp.headers.get("x-ops-subject", "").startswith("token:"), \
        f"auth check did not name the subject: {resp.headers}"


def test_auth_endpoint_answers_401_with_code_and_message_without_credentials(stack):
    resp = auth_check(stack, "GET", "/api/ops/tokens")
    assert resp is not None and resp.status == 401, f"auth check without credentials: {resp!r}"
    assert resp.headers.get("x-ops-error-code") == "unauthenticated", f"headers: {resp.headers}"
    message = resp.headers.get("x-ops-error-message", "")
    assert message and all(0x20 <= ord(c) < 0x7f and c not in '"\\' for c in message), \
        f"X-Ops-Error-Message must be plain ASCII without quotes (nginx puts it in JSON): {message!r}"


def test_auth_endpoint_passes_public_routes_without_reading_a_stale_cookie(stack):
    resp = auth_check(stack, "POST", "/api/ops/login", headers={"Cookie": "ops_session=stale.garbage"})
    assert resp is not None and resp.status == 204, \
        f"a stale cookie blocked the sign-in route at the auth check: {resp!r}"


def test_auth_subrequest_sees_the_method_and_uri_of_the_request_it_authorises(base_url, stack, tokens):
    # nginx gives the subrequest the main request's $request_method and $request_uri; the
    # worker's log shows both requests under the client's request id.
    request_id = "e2e-auth-subrequest-" + secrets.token_hex(6)
    resp = helpers.raw_request(base_url, "POST", "/api/ops/tokens/999999/revoke?probe=1",
                               headers={**helpers.bearer(tokens["admin"]), "X-Request-Id": request_id,
                                        "Content-Type": "application/json"}, body=b"{}")
    assert resp.status_code == 404, f"revoking a token that does not exist: {helpers.describe(resp)}"

    def lines():
        found = []
        for log in stack.worker_logs():
            for line in log.read_text(errors="replace").splitlines():
                if request_id in line:
                    found.append(json.loads(line))
        return found if len(found) >= 2 else None
    found = helpers.wait_until(lines, 5, what=f"two worker log lines for request id {request_id}")
    auth = [e for e in found if e.get("auth") is True]
    main = [e for e in found if e.get("auth") is False]
    assert auth and main, f"expected one auth subrequest and one request in the worker logs: {found}"
    for entry in auth:
        assert entry.get("method") == "POST" and entry.get("path") == "/api/ops/tokens/999999/revoke", \
            f"the auth subrequest did not carry the main request's method and path: {entry}"
        assert entry.get("status") == 204, f"the auth check did not pass the admin: {entry}"


def test_auth_endpoint_is_not_reachable_from_outside(base_url, tokens):
    resp = helpers.raw_request(base_url, "GET", "/_ops_auth", headers=helpers.bearer(tokens["admin"]))
    assert resp.status_code == 404, f"/_ops_auth is internal; a client saw {helpers.describe(resp)}"
