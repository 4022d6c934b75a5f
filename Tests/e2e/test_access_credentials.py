"""Credentials that must be refused: each one is sent to an admin route (GET /api/ops/tokens)
through nginx, and the caller must see 401 with the JSON error envelope, never the data."""

import base64
import secrets
import time

import pytest

import helpers

ADMIN_ROUTE = "/api/ops/tokens"


def get_admin_route(base_url, headers):
    return helpers.raw_request(base_url, "GET", ADMIN_ROUTE, headers=headers)


def assert_refused_401(resp, what):
    assert resp.status_code == 401, (
        f"an admin route called with {what} must be refused with 401; the client saw {helpers.describe(resp)}")
    helpers.assert_error_envelope(resp, 401)
    assert "tokens" not in helpers.parse_json(resp), f"refusal leaks data: {helpers.describe(resp)}"


def test_admin_token_reads_the_admin_route(base_url, tokens):
    # The control for every refusal below: the route itself works with a good credential.
    resp = get_admin_route(base_url, helpers.bearer(tokens["admin"]))
    assert resp.status_code == 200, f"the admin token was refused: {helpers.describe(resp)}"


def test_random_well_formed_token_is_401(base_url):
    token = helpers.remember_secret("ops_" + secrets.token_hex(32))
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "a random well-formed ops_ token")


def test_truncated_admin_token_is_401(base_url, tokens):
    assert_refused_401(get_admin_route(base_url, helpers.bearer(tokens["admin"][:-1])),
                       "the admin token without its last character")


def test_admin_token_with_one_character_changed_is_401(base_url, tokens):
    token = tokens["admin"]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert_refused_401(get_admin_route(base_url, helpers.bearer(forged)), "the admin token with its last hex digit changed")


def test_revoked_token_is_401(base_url, stack, new_token):
    name, token = new_token("admin")
    before = get_admin_route(base_url, helpers.bearer(token))
    assert before.status_code == 200, f"a new admin token does not work yet: {helpers.describe(before)}"
    stack.cli("token", "revoke", name)
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "a token revoked with `opsplane token revoke`")


def test_expired_token_is_401(base_url, stack, new_token):
    name, token = new_token("admin")
    before = get_admin_route(base_url, helpers.bearer(token))
    assert before.status_code == 200, f"a new admin token does not work yet: {helpers.describe(before)}"
    stack.sql("UPDATE ops.api_tokens SET expires_at = now() - interval '1 minute' WHERE name = :'name';", name=name)
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "a token whose expiry has passed")


@pytest.mark.parametrize("authorization,what", [
    ("Bearer not-a-token", "a garbage Bearer value"),
    ("Bearer ", "an empty Bearer value"),
    ("Bearer ops_", "a bare ops_ prefix"),
    ("Bearer ops_" + "g" * 64, "an ops_ token that is not hex"),
    ("Token abc", "an unknown scheme"),
])
def test_malformed_authorization_is_401(base_url, authorization, what):
    assert_refused_401(get_admin_route(base_url, {"Authorization": authorization}), what)


def test_basic_scheme_with_the_admin_token_as_password_is_401(base_url, tokens):
    basic = base64.b64encode(f"admin:{tokens['admin']}".encode()).decode()
    assert_refused_401(get_admin_route(base_url, {"Authorization": f"Basic {basic}"}),
                       "the admin token sent with the Basic scheme")


def test_client_sent_role_header_without_credentials_is_401(base_url):
    headers = {"X-Ops-Role": "admin", "X-Ops-Subject": "token:attacker", "Ops-Role": "admin", "OPS_ROLE": "admin"}
    assert_refused_401(get_admin_route(base_url, headers), "a client-sent X-Ops-Role: admin header and no credential")


def test_client_sent_role_header_does_not_raise_a_viewer_to_admin(base_url, tokens):
    headers = {**helpers.bearer(tokens["viewer"]), "X-Ops-Role": "admin", "X-Ops-Subject": "token:attacker"}
    resp = get_admin_route(base_url, headers)
    helpers.assert_error_envelope(resp, 403, "forbidden")


def test_client_sent_role_header_does_not_change_the_subject(base_url, tokens):
    headers = {**helpers.bearer(tokens["viewer"]), "X-Ops-Role": "admin", "X-Ops-Subject": "token:attacker"}
    resp = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=headers)
    assert resp.status_code == 200, f"whoami as a viewer: {helpers.describe(resp)}"
    me = helpers.parse_json(resp)
    assert me.get("role") == "viewer" and me.get("subject") != "token:attacker", \
        f"client headers changed the identity the worker sees: {me}"


# Host-app JWTs --------------------------------------------------------------------------------

def test_jwt_signed_with_another_key_is_401(base_url, jwt_settings):
    token = helpers.make_jwt("another-key-" + secrets.token_hex(16), helpers.jwt_claims("mallory", is_admin=True))
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "an admin JWT signed with another key")


def test_jwt_with_alg_none_is_401(base_url, jwt_settings):
    token = helpers.make_jwt("", helpers.jwt_claims("mallory", is_admin=True), alg="none")
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "an admin JWT with alg: none and no signature")


def test_jwt_with_alg_none_and_the_real_signature_is_401(base_url, jwt_settings):
    # The header says "none" but a valid HS256 signature of it is attached.
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims("mallory", is_admin=True), header={"alg": "none", "typ": "JWT"})
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "a signed JWT whose header says alg: none")


def test_jwt_with_another_algorithm_is_401(base_url, jwt_settings):
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims("mallory", is_admin=True), header={"alg": "HS512", "typ": "JWT"})
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "a JWT whose header says alg: HS512")


def test_expired_jwt_is_401(base_url, jwt_settings):
    secret, _ = jwt_settings
    now = int(time.time())
    token = helpers.make_jwt(secret, {"sub": "alice", "iat": now - 7200, "exp": now - 3600, "is_admin": True})
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "an admin JWT that expired an hour ago")


def test_jwt_without_exp_is_401(base_url, jwt_settings):
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, {"sub": "alice", "is_admin": True})
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "an admin JWT without exp")


def test_jwt_not_yet_valid_is_401(base_url, jwt_settings):
    secret, _ = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims("alice", lifetime=7200, nbf=int(time.time()) + 3600, is_admin=True))
    assert_refused_401(get_admin_route(base_url, helpers.bearer(token)), "an admin JWT whose nbf is an hour away")


def test_jwt_with_tampered_claims_is_401(base_url, jwt_settings):
    # A viewer's JWT whose payload is swapped for an admin one, keeping the viewer's signature.
    secret, _ = jwt_settings
    viewer = helpers.make_jwt(secret, helpers.jwt_claims("bob", is_admin=False))
    admin_payload = helpers.make_jwt(secret, helpers.jwt_claims("bob", is_admin=True)).split(".")[1]
    head, _, sig = viewer.split(".")
    forged = helpers.remember_secret(f"{head}.{admin_payload}.{sig}")
    assert_refused_401(get_admin_route(base_url, helpers.bearer(forged)), "a viewer JWT with an admin payload swapped in")


def test_jwt_in_the_host_cookie_signed_with_another_key_is_401(base_url, jwt_settings):
    _, cookie = jwt_settings
    token = helpers.make_jwt("another-key-" + secrets.token_hex(16), helpers.jwt_claims("mallory", is_admin=True))
    assert_refused_401(get_admin_route(base_url, {"Cookie": f"{cookie}={token}"}),
                       f"an admin JWT signed with another key in the {cookie} cookie")


# Session cookies ------------------------------------------------------------------------------

@pytest.fixture
def admin_session(base_url, tokens):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/login", headers={"Content-Type": "application/json"},
                               body=('{"token":"%s"}' % tokens["admin"]).encode(),
                               source=helpers.fresh_client_address())
    assert resp.status_code == 200, f"signing in with the admin token: {helpers.describe(resp)}"
    value, _ = helpers.cookie_from(resp, "ops_session")
    return helpers.remember_secret(value)


def test_session_cookie_with_one_character_changed_is_401(base_url, admin_session):
    i = len(admin_session) // 2
    forged = admin_session[:i] + ("A" if admin_session[i] != "A" else "B") + admin_session[i + 1:]
    assert_refused_401(get_admin_route(base_url, {"Cookie": f"ops_session={forged}"}),
                       "a session cookie with one character changed")


def test_session_cookie_with_its_signature_cut_off_is_401(base_url, admin_session):
    forged = admin_session.rsplit(".", 1)[0] if "." in admin_session else admin_session[:-10]
    assert_refused_401(get_admin_route(base_url, {"Cookie": f"ops_session={forged}"}),
                       "a session cookie without its signature")


@pytest.mark.parametrize("value", ["garbage", "", "a.b.c", "admin", "eyJyb2xlIjoiYWRtaW4ifQ.AAAA"])
def test_made_up_session_cookie_is_401(base_url, value):
    assert_refused_401(get_admin_route(base_url, {"Cookie": f"ops_session={value}"}),
                       f"a made-up session cookie {value!r}")


@pytest.fixture
def session_key(stack):
    """The workers' session HMAC key: sha256(OPS_SESSION_SECRET), else the one in ops.secrets."""
    import hashlib
    configured = stack.env.get("OPS_SESSION_SECRET", "")
    if configured:
        helpers.remember_secret(configured)
        return hashlib.sha256(configured.encode()).digest()
    hex_key = stack.sql("SELECT encode(value, 'hex') FROM ops.secrets WHERE name = 'session_hmac';").strip()
    assert len(hex_key) == 64, f"no 256-bit session_hmac key in ops.secrets after a sign-in: {hex_key!r}"
    helpers.remember_secret(hex_key)
    return bytes.fromhex(hex_key)


def sign_session(key, payload):
    import hashlib
    import hmac
    import json
    signed = "v1." + helpers.b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return helpers.remember_secret(signed + "." + helpers.b64url(mac))


def test_session_cookie_signed_with_the_real_key_is_accepted(base_url, admin_session, session_key):
    # The control for the expiry test below: cookies made here are what the workers issue.
    cookie = sign_session(session_key, {"sub": "token:e2e-forged", "role": "admin", "exp": int(time.time()) + 600})
    resp = get_admin_route(base_url, {"Cookie": f"ops_session={cookie}"})
    assert resp.status_code == 200, f"a correctly signed session cookie was refused: {helpers.describe(resp)}"


def test_expired_session_cookie_is_401(base_url, admin_session, session_key):
    cookie = sign_session(session_key, {"sub": "token:e2e-expired", "role": "admin", "exp": int(time.time()) - 60})
    assert_refused_401(get_admin_route(base_url, {"Cookie": f"ops_session={cookie}"}),
                       "a correctly signed session cookie that expired a minute ago")
