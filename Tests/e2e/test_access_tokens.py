"""Token administration over the API (admins only): GET /api/ops/tokens lists tokens without
any secret, POST /api/ops/tokens/{id}/revoke revokes one, and the revoked token stops working."""

import re

import helpers

SECRET_LIKE = re.compile(r"ops_[0-9a-f]{16,}|[0-9a-f]{64}")


def list_tokens(base_url, tokens, query=""):
    resp = helpers.raw_request(base_url, "GET", "/api/ops/tokens" + query, headers=helpers.bearer(tokens["admin"]))
    assert resp.status_code == 200, f"GET /api/ops/tokens{query} as admin: {helpers.describe(resp)}"
    body = helpers.parse_json(resp)
    assert isinstance(body.get("tokens"), list), f"no tokens list: {helpers.describe(resp)}"
    return resp, body["tokens"]


def test_token_list_shows_name_role_and_times(base_url, tokens, new_token):
    name, _ = new_token("viewer")
    _, rows = list_tokens(base_url, tokens)
    row = next((r for r in rows if r.get("name") == name), None)
    assert row is not None, f"a token made with `opsplane token create` is not listed: {rows}"
    assert row.get("role") == "viewer" and isinstance(row.get("id"), int), f"token row: {row}"
    for key in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        assert key in row, f"token row has no {key}: {row}"


def test_token_list_holds_no_secret(base_url, tokens, new_token):
    _, secret = new_token("admin")
    resp, rows = list_tokens(base_url, tokens, "?revoked=1")
    allowed = {"id", "name", "role", "created_at", "last_used_at", "expires_at", "revoked_at"}
    extra = sorted({k for r in rows for k in r} - allowed)
    assert not extra, f"token rows carry fields beyond the documented ones (a secret or hash?): {extra}"
    for value in (secret, tokens["admin"], tokens["viewer"], tokens["ingest"]):
        assert value not in resp.text and value[4:] not in resp.text, "GET /api/ops/tokens shows a token"
    assert not SECRET_LIKE.search(resp.text), f"GET /api/ops/tokens shows something like a token or hash: {resp.text[:400]}"


def test_revoke_by_id_then_the_token_is_401(base_url, tokens, new_token):
    name, secret = new_token("viewer")
    _, rows = list_tokens(base_url, tokens)
    tid = next(r["id"] for r in rows if r["name"] == name)
    ok = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=helpers.bearer(secret))
    assert ok.status_code == 200, f"the new token does not work before revoking: {helpers.describe(ok)}"
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke",
                               headers={**helpers.bearer(tokens["admin"]), "Content-Type": "application/json"}, body=b"{}")
    assert resp.status_code == 200, f"revoking token {tid}: {helpers.describe(resp)}"
    after = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=helpers.bearer(secret))
    helpers.assert_error_envelope(after, 401)


def test_revoked_token_leaves_the_default_list(base_url, tokens, new_token):
    name, _ = new_token("viewer")
    _, rows = list_tokens(base_url, tokens)
    tid = next(r["id"] for r in rows if r["name"] == name)
    helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke", headers=helpers.bearer(tokens["admin"]))
    _, live = list_tokens(base_url, tokens)
    assert name not in [r["name"] for r in live], f"revoked token {name} is still listed as live"
    _, every = list_tokens(base_url, tokens, "?revoked=1")
    row = next((r for r in every if r["name"] == name), None)
    assert row and row.get("revoked_at"), f"?revoked=1 should list {name} with revoked_at: {row}"


def test_revoking_a_token_that_does_not_exist_is_404(base_url, tokens):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/tokens/999999/revoke", headers=helpers.bearer(tokens["admin"]))
    helpers.assert_error_envelope(resp, 404, "not_found")


def test_revoking_with_a_non_numeric_id_is_400(base_url, tokens):
    resp = helpers.raw_request(base_url, "POST", "/api/ops/tokens/abc/revoke", headers=helpers.bearer(tokens["admin"]))
    helpers.assert_error_envelope(resp, 400)


def test_a_viewer_cannot_revoke_tokens(base_url, tokens, new_token):
    name, secret = new_token("viewer")
    _, rows = list_tokens(base_url, tokens)
    tid = next(r["id"] for r in rows if r["name"] == name)
    resp = helpers.raw_request(base_url, "POST", f"/api/ops/tokens/{tid}/revoke", headers=helpers.bearer(tokens["viewer"]))
    helpers.assert_error_envelope(resp, 403, "forbidden")
    still = helpers.raw_request(base_url, "GET", "/api/ops/whoami", headers=helpers.bearer(secret))
    assert still.status_code == 200, f"a viewer's refused revoke revoked the token anyway: {helpers.describe(still)}"
