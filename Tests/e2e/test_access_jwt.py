"""The host app's HS256 JWTs (OPS_JWT_HS256_SECRET): an admin claim makes an admin, any other
valid token a viewer, in `Authorization: Bearer` or in the cookie named by OPS_JWT_COOKIE.
Refused JWTs (other key, alg none, expired, ...) are in test_access_credentials.py."""

import json
import secrets

import pytest

import helpers


def whoami(base_url, headers):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=headers)
    assert resp.status_code == 200, f"whoami with a valid host-app JWT: {helpers.describe(resp)}"
    return helpers.parse_json(resp)


def sub():
    return "user-" + secrets.token_hex(4)


def test_admin_jwt_reads_admin_routes(base_url, jwt_settings):
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=True))
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers=helpers.bearer(token))
    assert resp.status_code == 200, f"an admin JWT (is_admin: true) on an admin route: {helpers.describe(resp)}"


def test_admin_jwt_subject_is_jwt_prefixed_sub(base_url, jwt_settings):
    secret, _ = jwt_settings
    user = sub()
    me = whoami(base_url, helpers.bearer(helpers.make_jwt(secret, helpers.jwt_claims(user, is_admin=True))))
    assert me == {"subject": f"jwt:{user}", "role": "admin"}, f"whoami for an admin JWT of {user!r}: {me}"


@pytest.mark.parametrize("claim", ["admin", ["staff", "admin"]], ids=["string", "array"])
def test_other_admin_claim_forms_make_an_admin(base_url, jwt_settings, claim):
    secret, _ = jwt_settings
    me = whoami(base_url, helpers.bearer(helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=claim))))
    assert me["role"] == "admin", f"is_admin={json.dumps(claim)} should make an admin: {me}"


@pytest.mark.parametrize("claims", [{"is_admin": False}, {}, {"is_admin": "true"}, {"is_admin": ["staff"]}],
                         ids=["false", "missing", "string-true", "array-without-admin"])
def test_jwt_without_the_admin_claim_is_a_viewer(base_url, jwt_settings, claims):
    secret, _ = jwt_settings
    user = sub()
    token = helpers.make_jwt(secret, helpers.jwt_claims(user, **claims))
    me = whoami(base_url, helpers.bearer(token))
    assert me == {"subject": f"jwt:{user}", "role": "viewer"}, f"whoami for a JWT with {claims}: {me}"


def test_viewer_jwt_is_403_on_an_admin_route(base_url, jwt_settings):
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=False))
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers=helpers.bearer(token))
    helpers.assert_error_envelope(resp, 403, "forbidden")


def test_admin_jwt_in_the_host_cookie_reads_admin_routes(base_url, jwt_settings):
    secret, cookie = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=True))
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers={"Cookie": f"other=1; {cookie}={token}"})
    assert resp.status_code == 200, f"an admin JWT in the {cookie} cookie on an admin route: {helpers.describe(resp)}"


def test_viewer_jwt_in_the_host_cookie_is_a_viewer(base_url, jwt_settings):
    secret, cookie = jwt_settings
    user = sub()
    me = whoami(base_url, {"Cookie": f"{cookie}={helpers.make_jwt(secret, helpers.jwt_claims(user))}"})
    assert me == {"subject": f"jwt:{user}", "role": "viewer"}, f"whoami with a viewer JWT cookie: {me}"


def test_jwt_signs_in_to_the_dashboard(base_url, jwt_settings):
    secret, _ = jwt_settings
    user = sub()
    token = helpers.make_jwt(secret, helpers.jwt_claims(user, is_admin=True))
    resp = helpers.raw_request(base_url, "POST", "/api/ops/login", headers={"Content-Type": "application/json"},
                               body=json.dumps({"token": token}).encode(), source=helpers.fresh_client_address())
    assert resp.status_code == 200, f"signing in with an admin JWT: {helpers.describe(resp)}"
    body = helpers.parse_json(resp)
    assert body.get("subject") == f"jwt:{user}" and body.get("role") == "admin", f"sign-in answer: {body}"
    assert helpers.cookie_from(resp, "ops_session"), f"no session cookie after a JWT sign-in: {resp.headers}"
    helpers.remember_secret(helpers.cookie_from(resp, "ops_session")[0])


def test_jwt_within_the_clock_skew_leeway_is_accepted(base_url, jwt_settings):
    # exp 10 s ago: inside the 30 s leeway for clocks that disagree a little.
    import time
    secret, _ = jwt_settings
    now = int(time.time())
    token = helpers.make_jwt(secret, {"sub": sub(), "iat": now - 600, "exp": now - 10, "is_admin": True})
    me = whoami(base_url, helpers.bearer(token))
    assert me["role"] == "admin", f"whoami with a JWT 10 s past exp (30 s leeway): {me}"


def revoke_target(base_url, tokens, new_token):
    name, token = new_token("viewer")
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens", headers=helpers.bearer(tokens["admin"]))
    tid = next(t["id"] for t in helpers.parse_json(resp)["tokens"] if t["name"] == name)
    return tid, token


def test_jwt_cookie_post_without_csrf_header_is_403_csrf(base_url, jwt_settings, tokens, new_token):
    secret, cookie = jwt_settings
    tid, token = revoke_target(base_url, tokens, new_token)
    jwt = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=True))
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={"Cookie": f"{cookie}={jwt}", "Content-Type": "application/json"}, body=b"{}")
    helpers.assert_error_envelope(resp, 403, "csrf")


def test_jwt_cookie_post_with_csrf_header_passes(base_url, jwt_settings, tokens, new_token):
    secret, cookie = jwt_settings
    tid, token = revoke_target(base_url, tokens, new_token)
    jwt = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=True))
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={"Cookie": f"{cookie}={jwt}", "X-Ops-CSRF": "1",
                                        "Content-Type": "application/json"}, body=b"{}")
    assert resp.status_code == 200, f"an admin JWT cookie with X-Ops-CSRF revoking a token: {helpers.describe(resp)}"


def test_jwt_bearer_post_needs_no_csrf_header(base_url, jwt_settings, tokens, new_token):
    secret, _ = jwt_settings
    tid, token = revoke_target(base_url, tokens, new_token)
    jwt = helpers.make_jwt(secret, helpers.jwt_claims(sub(), is_admin=True))
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={**helpers.bearer(jwt), "Content-Type": "application/json"}, body=b"{}")
    assert resp.status_code == 200, f"an admin JWT in Authorization revoking a token: {helpers.describe(resp)}"
