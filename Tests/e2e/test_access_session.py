"""Dashboard sign-in: POST /api/ops/login exchanges a token for the session cookie, the cookie
alone then identifies the browser, state-changing requests from it need X-Ops-CSRF, and
POST /api/ops/logout clears it.

Cookies are handled by hand: `Secure` cookies never travel over the test stack's http:// in a
real cookie jar (browsers make an exception for 127.0.0.1/localhost; a later issue tests that in
Chromium). Every sign-in connects from an address of its own (nginx rate-limits sign-in).
"""

import json

import pytest

import helpers


def login(base_url, body, cookie=None):
    headers = {"Content-Type": "application/json", "X-Ops-CSRF": "1"}
    if cookie is not None:
        headers["Cookie"] = cookie
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return helpers.raw_request(base_url, "POST", "/api/ops/login", headers=headers, body=data,
                               source=helpers.fresh_client_address())


def session_cookie(resp):
    found = helpers.cookie_from(resp, "ops_session")
    assert found, f"sign-in answered without an ops_session cookie: {helpers.describe(resp)}, headers {resp.headers}"
    helpers.remember_secret(found[0])
    return found


@pytest.fixture
def signed_in(base_url, tokens):
    """The Cookie header of an admin's session."""
    resp = login(base_url, {"token": tokens["admin"]})
    assert resp.status_code == 200, f"signing in with the admin token: {helpers.describe(resp)}"
    value, _ = session_cookie(resp)
    return f"ops_session={value}"


def test_login_with_the_admin_token_answers_subject_role_and_expiry(base_url, tokens):
    resp = login(base_url, {"token": tokens["admin"]})
    assert resp.status_code == 200, f"signing in with the admin token: {helpers.describe(resp)}"
    body = helpers.parse_json(resp)
    assert body.get("role") == "admin", f"sign-in answer: {body}"
    assert str(body.get("subject", "")).startswith("token:"), f"sign-in answer has no token subject: {body}"
    assert str(body.get("expires_at", "")).endswith("Z"), f"sign-in answer has no UTC expiry: {body}"
    assert tokens["admin"] not in resp.text, "the sign-in answer echoes the token"


def test_session_cookie_is_httponly_secure_samesite_strict_path_root(base_url, tokens):
    resp = login(base_url, {"token": tokens["admin"]})
    assert resp.status_code == 200, f"signing in with the admin token: {helpers.describe(resp)}"
    value, attrs = session_cookie(resp)
    assert value, "the session cookie is empty"
    problems = []
    if "httponly" not in attrs:
        problems.append("no HttpOnly (page scripts could read the session)")
    if "secure" not in attrs:
        problems.append("no Secure (the cookie could travel over plain HTTP)")
    if attrs.get("samesite", "").lower() != "strict":
        problems.append(f"SameSite={attrs.get('samesite')!r}, not Strict (cross-site requests would carry it)")
    if attrs.get("path") != "/":
        problems.append(f"Path={attrs.get('path')!r}, not / (the API would not receive it)")
    if not attrs.get("max-age", "").isdigit() or int(attrs["max-age"]) <= 0:
        problems.append(f"Max-Age={attrs.get('max-age')!r}: the session should expire")
    assert not problems, f"Set-Cookie {resp.headers.get('set-cookie')!r}: " + "; ".join(problems)


def test_session_cookie_alone_identifies_the_admin(base_url, signed_in):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers={"Cookie": signed_in})
    assert resp.status_code == 200, f"whoami with only the session cookie: {helpers.describe(resp)}"
    assert helpers.parse_json(resp).get("role") == "admin", f"whoami with the admin's cookie: {resp.text}"


def test_session_cookie_reads_admin_routes_without_csrf_header(base_url, signed_in):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers={"Cookie": signed_in})
    assert resp.status_code == 200, f"GET /api/ops/tokens with the session cookie: {helpers.describe(resp)}"


def token_id(base_url, tokens, name):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers=helpers.bearer(tokens["admin"]))
    assert resp.status_code == 200, f"listing tokens: {helpers.describe(resp)}"
    ids = [t["id"] for t in helpers.parse_json(resp)["tokens"] if t.get("name") == name]
    assert ids, f"token {name!r} is not in GET /api/ops/tokens: {resp.text[:500]}"
    return ids[0]


def test_cookie_session_post_without_csrf_header_is_403_csrf(base_url, tokens, signed_in, new_token):
    name, token = new_token("viewer")
    tid = token_id(base_url, tokens, name)
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={"Cookie": signed_in, "Content-Type": "application/json"}, body=b"{}")
    helpers.assert_error_envelope(resp, 403, "csrf")
    still = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=helpers.bearer(token))
    assert still.status_code == 200, f"the refused revoke revoked the token anyway: {helpers.describe(still)}"


def test_cookie_session_post_with_csrf_header_passes(base_url, tokens, signed_in, new_token):
    name, token = new_token("viewer")
    tid = token_id(base_url, tokens, name)
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={"Cookie": signed_in, "X-Ops-CSRF": "1", "Content-Type": "application/json"},
                               body=b"{}")
    assert resp.status_code == 200, f"revoking a token from a session with X-Ops-CSRF: {helpers.describe(resp)}"
    gone = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=helpers.bearer(token))
    helpers.assert_error_envelope(gone, 401)


def test_bearer_token_post_needs_no_csrf_header(base_url, tokens, new_token):
    # CSRF is a browser problem: an API client with a token sends no cookie and no X-Ops-CSRF.
    name, _ = new_token("viewer")
    tid = token_id(base_url, tokens, name)
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={**helpers.bearer(tokens["admin"]), "Content-Type": "application/json"},
                               body=b"{}")
    assert resp.status_code == 200, f"revoking a token with a Bearer admin token: {helpers.describe(resp)}"


def test_logout_clears_the_session_cookie(base_url, signed_in):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/logout", headers={"Cookie": signed_in, "X-Ops-CSRF": "1"})
    assert resp.status_code in (200, 204), f"signing out: {helpers.describe(resp)}"
    found = helpers.cookie_from(resp, "ops_session")
    assert found, f"sign-out sent no Set-Cookie for ops_session: headers {resp.headers}"
    value, attrs = found
    assert value == "" and attrs.get("max-age") == "0", \
        f"sign-out does not tell the browser to drop the cookie: {resp.headers.get('set-cookie')!r}"
    assert attrs.get("path") == "/", f"the clearing cookie has another Path, so the browser keeps the old one: {attrs}"


def test_logout_works_with_a_garbage_cookie(base_url):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/logout", headers={"Cookie": "ops_session=garbage"})
    assert resp.status_code in (200, 204), f"signing out with a broken cookie: {helpers.describe(resp)}"


def test_login_as_viewer_gives_a_viewer_session(base_url, tokens):
    resp = login(base_url, {"token": tokens["viewer"]})
    assert resp.status_code == 200, f"signing in with the viewer token: {helpers.describe(resp)}"
    value, _ = session_cookie(resp)
    admin = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers={"Cookie": f"ops_session={value}"})
    helpers.assert_error_envelope(admin, 403, "forbidden")


def test_login_with_the_ingest_token_is_403(base_url, tokens):
    resp = login(base_url, {"token": tokens["ingest"]})
    helpers.assert_error_envelope(resp, 403)
    assert not helpers.cookie_from(resp, "ops_session"), "an ingest token got a dashboard session"


def test_login_with_a_wrong_token_is_401(base_url, tokens):
    resp = login(base_url, {"token": tokens["admin"][:-4] + "0000"})
    helpers.assert_error_envelope(resp, 401)
    assert not helpers.cookie_from(resp, "ops_session"), "a wrong token got a session cookie"


@pytest.mark.parametrize("body,code", [
    (b'{"token": ', None),
    (b"token=ops_abc", None),
    (b"[]", None),
    (b'{"token": 42}', None),
    (b'{"token": ""}', None),
    (b'{"token": "x", "remember": true}', "unknown_field"),
], ids=["truncated-json", "form-encoded", "array", "number", "empty", "unknown-field"])
def test_login_with_a_malformed_body_is_400(base_url, body, code):
    resp = login(base_url, body)
    helpers.assert_error_envelope(resp, 400, code)


def test_stale_session_cookie_does_not_block_login(base_url, tokens):
    resp = login(base_url, {"token": tokens["admin"]}, cookie="ops_session=v1.stale.garbage")
    assert resp.status_code == 200, f"signing in while the browser still holds a broken cookie: {helpers.describe(resp)}"
    session_cookie(resp)


def test_stale_session_cookie_does_not_block_login_with_a_trailing_slash(base_url, tokens):
    # /api/ops/login/ reaches the same handler through the gated location.
    resp = helpers.raw_request(base_url, "POST", "/api/ops/login/",
                               headers={"Content-Type": "application/json", "Cookie": "ops_session=garbage"},
                               body=json.dumps({"token": tokens["admin"]}).encode(),
                               source=helpers.fresh_client_address())
    assert resp.status_code == 200, f"POST /api/ops/login/ with a broken cookie: {helpers.describe(resp)}"
    session_cookie(resp)


def test_sign_in_page_is_served_at_admin_ops_login(api):
    resp = api.get("/admin/ops/login")
    assert resp.status_code == 200, f"opening the sign-in page: {helpers.describe(resp)}"
    assert 'type="password"' in resp.text, "the sign-in page has no password-type token field"
    assert "<script>" not in resp.text.replace(" ", ""), "the sign-in page has an inline script"
    script = api.get("/admin/ops/login.js")
    assert script.status_code == 200 and "javascript" in script.headers.get("content-type", ""), \
        f"login.js: {helpers.describe(script)}"
    assert "X-Ops-CSRF" in script.text and "/api/ops/login" in script.text, \
        "login.js does not post to /api/ops/login with the X-Ops-CSRF header"
    assert "innerHTML" not in script.text, "login.js writes HTML; server strings must go in as text"


def test_dashboard_pages_forbid_framing_and_inline_script(api):
    resp = api.get("/admin/ops/")
    csp = resp.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, \
        f"dashboard Content-Security-Policy: {csp!r}"


def test_revoking_a_token_ends_the_sessions_signed_in_with_it(base_url, tokens, new_token):
    name, token = new_token("admin")
    resp = login(base_url, {"token": token})
    assert resp.status_code == 200, f"signing in with a fresh admin token: {helpers.describe(resp)}"
    value, _ = session_cookie(resp)
    cookie = {"Cookie": f"ops_session={value}"}
    ok = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=cookie)
    assert ok.status_code == 200, f"the new session before revocation: {helpers.describe(ok)}"
    listing = helpers.parse_json(helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers=helpers.bearer(tokens["admin"])))
    tid = next(t["id"] for t in listing["tokens"] if t["name"] == name)
    revoked = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke", headers=helpers.bearer(tokens["admin"]))
    assert revoked.status_code == 200, helpers.describe(revoked)
    after = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=cookie)
    helpers.assert_error_envelope(after, 401, "unauthenticated")
