"""GET /api/ops/support-bundle: a gzipped JSON download with a manifest, the context, alerts,
migrations, process starts, frontend errors, configuration and the last lines of every
allowlisted log; secrets redacted; a size cap that cuts instead of failing."""

import gzip
import json
import re
import secrets

import pytest

import fcgi_client
import helpers
from activity_helpers import Ops, eventually


@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


def download(ops, **params):
    resp = ops.get("/api/ops/support-bundle", {k: str(v) for k, v in params.items()} or None)
    assert resp.status_code == 200, helpers.describe(resp)
    assert resp.headers["content-type"] == "application/gzip", resp.headers
    assert re.match(r'^attachment; filename="opsplane-support-\d{8}T\d{6}Z\.json\.gz"$',
                    resp.headers["content-disposition"]), resp.headers["content-disposition"]
    raw = gzip.decompress(resp.content)
    assert int(resp.headers["x-bundle-bytes"]) == len(raw)
    return json.loads(raw), raw.decode()


def test_the_bundle_holds_every_section_and_a_manifest(ops):
    bundle, _ = download(ops)
    assert list(bundle) == ["manifest", "context", "alerts", "migrations", "deploys", "frontend_errors",
                            "environment", "logs"], list(bundle)
    m = bundle["manifest"]
    assert [s["name"] for s in m["sections"]] == list(bundle)[1:], m["sections"]
    assert all(s["status"] == "ok" for s in m["sections"]), m["sections"]
    assert m["size_cap_bytes"] == 8 << 20 and m["log_lines_per_service"] == 200, m
    rules = {r["name"] for r in m["redaction"]["rules"]}
    assert {"api_token", "jwt", "url_credentials", "secret_parameter", "secret_key_names"} <= rules, rules
    assert bundle["context"]["deploy"]["version"] and bundle["migrations"][0]["version"] == 1
    assert set(bundle["logs"]) >= {"workers", "nginx-access", "postgres"}, list(bundle["logs"])
    assert bundle["logs"]["workers"]["lines"], "the workers' log lines are in the bundle"
    assert bundle["environment"]["OPS_DATABASE_URL"].count("[REDACTED]") == 1, bundle["environment"]


def test_secrets_are_redacted_everywhere(ops, base_url, stack):
    token = "ops_" + secrets.token_hex(32)
    pw = "pw-" + secrets.token_hex(6)
    hook = secrets.token_urlsafe(24)
    # A secret in a log file (the stack's own log) and in a browser report.
    with open(stack.env["OPS_LOG_DIR"] + "/stack.log", "a") as f:
        f.write(f"deploy used postgresql://app:{pw}@db.internal/app and Bearer {token}\n")
    body = json.dumps({"message": f"failed POST https://discord.com/api/webhooks/42/{hook}?password={pw}",
                       "route": "/bundle-redaction"}).encode()
    resp = helpers.raw_request(base_url, "POST", "/api/ops/frontend-log", headers={"Content-Type": "text/plain"}, body=body)
    assert resp.status_code == 204, helpers.describe(resp)

    def report_written():  # within the workers' flush interval after the 204
        assert ops.sql("SELECT count(*) FROM ops.frontend_logs WHERE message LIKE '%' || :'h' || '%'", h=hook) == "1"
    eventually(report_written, timeout=5)
    bundle, text = download(ops)
    for secret in (token[4:], pw, hook, stack.env["OPS_ADMIN_TOKEN"][4:], stack.env["OPS_INGEST_TOKEN"][4:]):
        assert secret not in text, f"a secret survived in the bundle: {secret[:6]}…"
    stack_lines = bundle["logs"]["stack"]["lines"]
    assert any("postgresql://app:[REDACTED]@db.internal/app" in l and "Bearer ops_[REDACTED]" in l for l in stack_lines), stack_lines[-3:]
    counts = {r["name"]: r["matches"] for r in bundle["manifest"]["redaction"]["rules"]}
    assert counts["url_credentials"] >= 1 and counts["api_token"] >= 1 and counts["discord_webhook"] >= 1, counts


def test_a_small_cap_cuts_the_logs_with_a_marker_instead_of_failing(own_worker):
    _, sock, _ = own_worker(OPS_BUNDLE_MAX_BYTES=65536)
    resp = fcgi_client.request(str(sock), "GET", "/api/ops/support-bundle", query="lines=2000",
                               params={"OPS_ROLE": "admin", "OPS_SUBJECT": "e2e:bundle"}, timeout=90)
    assert resp is not None and resp.status == 200, resp
    raw = gzip.decompress(resp.body)
    assert len(raw) <= 65536, f"bundle of {len(raw)} bytes over the 64 KiB cap"
    bundle = json.loads(raw)
    logs = {s["name"]: s for s in bundle["manifest"]["sections"]}["logs"]
    assert logs["status"] == "truncated" and logs["lines_dropped"] > 0, logs
    markers = [svc["lines"][0] for svc in bundle["logs"].values() if svc["lines"] and svc["lines"][0].startswith("[… ")]
    assert markers and "dropped to fit the bundle's size cap" in markers[0], markers


@pytest.mark.parametrize("lines", ["0", "2001", "x"])
def test_bad_line_counts_are_400(ops, lines):
    helpers.assert_error_envelope(ops.get("/api/ops/support-bundle", {"lines": lines}), 400, "invalid_parameter")
