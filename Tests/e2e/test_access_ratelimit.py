"""nginx rate limits: sign-in (brute force: 10 a minute per address, 5 more at once) and the
public beacon endpoint (20 a second per address, 40 more at once). A refused request is 429
with the JSON envelope `rate_limited`; health checks are never limited.

Each test connects from a loopback address of its own (helpers.fresh_client_address), so the
limits it exhausts are nobody else's.
"""

import http.client
import json
import threading
from urllib.parse import urlsplit

import helpers


def burst(base_url, method, path, count, source, headers=None, body=None, parallel=1, stop_at_429=False):
    """Up to `count` requests on `parallel` keep-alive connections from `source`, as fast as
    they go; returns the responses in the order they completed. stop_at_429: stop sending once
    a 429 came back (a flood test then does not depend on how fast this machine is)."""
    parts = urlsplit(base_url)
    lock = threading.Lock()
    out = []
    remaining = [count]
    stop = threading.Event()

    def connect():
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=helpers.TIMEOUT,
                                          source_address=(source, 0))

    def worker():
        conn = connect()
        try:
            while not stop.is_set():
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                raw = helpers.RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
                with lock:
                    out.append(raw)
                if stop_at_429 and resp.status == 429:
                    stop.set()
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = connect()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def statuses(responses):
    return [r.status_code for r in responses]


WRONG_LOGIN = json.dumps({"token": "ops_" + "0" * 64}).encode()
JSON = {"Content-Type": "application/json"}


def test_a_burst_of_sign_in_attempts_is_cut_off_with_429(base_url):
    responses = burst(base_url, "POST", "/api/ops/login", 20, helpers.fresh_client_address(), JSON, WRONG_LOGIN)
    codes = statuses(responses)
    assert codes[0] == 401, f"the first wrong sign-in should be a plain 401, got {codes}"
    assert 429 in codes, f"20 wrong sign-ins in a row from one address were never rate-limited: {codes}"
    allowed = codes.index(429)
    assert allowed <= 8, f"{allowed} attempts got through before the limit (10/min, burst 5): {codes}"


def test_rate_limited_sign_in_carries_the_json_envelope(base_url):
    responses = burst(base_url, "POST", "/api/ops/login", 12, helpers.fresh_client_address(), JSON, WRONG_LOGIN)
    limited = [r for r in responses if r.status_code == 429]
    assert limited, f"no 429 in 12 sign-in attempts: {statuses(responses)}"
    helpers.assert_error_envelope(limited[0], 429, "rate_limited")


def test_the_limit_also_applies_to_a_correct_token(base_url, tokens):
    # A brute-forcer cannot tell a right guess from a wrong one once limited.
    source = helpers.fresh_client_address()
    burst(base_url, "POST", "/api/ops/login", 12, source, JSON, WRONG_LOGIN)
    resp = helpers.raw_request(base_url, "POST", "/api/ops/login", headers=JSON,
                               body=json.dumps({"token": tokens["admin"]}).encode(), source=source)
    helpers.assert_error_envelope(resp, 429, "rate_limited")


def test_sign_in_with_a_trailing_slash_is_limited_too(base_url):
    # The workers route /api/ops/login/ to the same handler; it must not dodge the limit.
    codes = statuses(burst(base_url, "POST", "/api/ops/login/", 20, helpers.fresh_client_address(), JSON, WRONG_LOGIN))
    assert 401 in codes and 429 in codes, f"20 wrong sign-ins at /api/ops/login/: {codes}"


def test_the_limit_is_per_client_address(base_url, tokens):
    burst(base_url, "POST", "/api/ops/login", 12, helpers.fresh_client_address(), JSON, WRONG_LOGIN)
    resp = helpers.raw_request(base_url, "POST", "/api/ops/login", headers=JSON,
                               body=json.dumps({"token": tokens["admin"]}).encode(),
                               source=helpers.fresh_client_address())
    assert resp.status_code == 200, f"another address was locked out by someone else's attempts: {helpers.describe(resp)}"
    helpers.remember_secret((helpers.cookie_from(resp, "ops_session") or ("",))[0])


def test_non_post_requests_to_sign_in_do_not_use_up_attempts(base_url):
    source = helpers.fresh_client_address()
    probes = statuses(burst(base_url, "GET", "/api/ops/login", 20, source))
    assert set(probes) == {405}, f"GET /api/ops/login should be 405 every time, got {probes}"
    codes = statuses(burst(base_url, "POST", "/api/ops/login", 3, source, JSON, WRONG_LOGIN))
    assert codes == [401, 401, 401], f"sign-in attempts after 20 GETs: {codes}"


def test_health_checks_are_not_rate_limited(base_url):
    source = helpers.fresh_client_address()
    for path in ("/api/ops/healthz", "/api/ops/ping"):
        codes = statuses(burst(base_url, "GET", path, 150, source))
        assert set(codes) == {200}, f"150 quick GETs of {path} from one address: {sorted(set(codes))}"


def test_beacon_endpoint_is_public(base_url):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/frontend-log", headers={"Content-Type": "text/plain;charset=UTF-8"},
                               body=b'{"message":"e2e"}', source=helpers.fresh_client_address())
    assert resp.status_code not in (401, 403), f"the public beacon endpoint asks for credentials: {helpers.describe(resp)}"


def test_a_flood_of_beacons_is_cut_off_with_429(base_url):
    # 8 connections at once, so the flood outruns 20/s however slow this machine is.
    responses = burst(base_url, "POST", "/api/ops/frontend-log", 2000, helpers.fresh_client_address(),
                      {"Content-Type": "text/plain;charset=UTF-8"}, b'{"message":"e2e flood"}',
                      parallel=8, stop_at_429=True)
    codes = statuses(responses)
    assert 429 in codes, f"{len(codes)} beacons from one address were never rate-limited: {sorted(set(codes))}"
    passed = sum(1 for c in codes if c != 429)
    assert passed >= 40, f"the beacon limit (20/s, burst 40) cut in after only {passed} requests"
    helpers.assert_error_envelope(next(r for r in responses if r.status_code == 429), 429, "rate_limited")
