"""deploy/openapi.yaml against the router and the running stack: the description is a valid
OpenAPI 3.0 document, it lists exactly the routes `opsplane routes` lists (both ways), with the
same gate in `x-access`, and real answers of the stack fit the schemas it documents."""

import copy
import json
import secrets

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

import activity_helpers as ah
import helpers

SPEC_PATH = helpers.REPO / "deploy" / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Routes whose answers are not JSON documents to validate here: the WebSocket (the ticker
# answers it, test_ticker.py), the gzip download and the Prometheus text (checked for their
# content type below; test_support_bundle.py and test_metrics.py read them).
NOT_JSON = {"/api/ws", "/api/ops/support-bundle", "/metrics"}


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def operations(spec):
    """{(METHOD, path): operation}"""
    return {(method.upper(), path): op for path, item in spec["paths"].items()
            for method, op in item.items() if method in METHODS}


def resolve(node, spec, seen=()):
    """The schema with every local $ref inlined (the spec has no recursive schemas)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/") and ref not in seen, f"unexpected $ref {ref}"
            target = spec
            for part in ref[2:].split("/"):
                target = target[part]
            return resolve(target, spec, seen + (ref,))
        return {k: resolve(v, spec, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec, seen) for v in node]
    return node


def response_schema(spec, operation, status, media="application/json"):
    responses = operation["responses"]
    assert str(status) in responses, (
        f"status {status} is not documented for {operation['operationId']}; documented: {sorted(responses)}")
    response = resolve(responses[str(status)], spec)
    content = response.get("content") or {}
    assert media in content, f"{operation['operationId']} {status}: no {media} content documented ({sorted(content)})"
    return content[media]["schema"]


def assert_fits(spec, operation, resp, what):
    schema = response_schema(spec, operation, resp.status_code)
    body = helpers.parse_json(resp)
    errors = sorted(OAS30Validator(copy.deepcopy(schema)).iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{what}: the answer does not fit the documented schema:\n" + "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors[:15])


def test_the_spec_is_valid_openapi_3_0(spec):
    assert spec["openapi"].startswith("3.0.")
    validate_spec(spec)


def test_the_spec_lists_exactly_the_routes_of_the_router(operations):
    routes = {(r["method"], r["path"]) for r in helpers.opsplane_routes()}
    documented = set(operations)
    missing = sorted(routes - documented)
    extra = sorted(documented - routes)
    assert not missing, "routes the router serves that deploy/openapi.yaml does not describe:\n  " + \
        "\n  ".join(f"{m} {p}" for m, p in missing)
    assert not extra, "operations in deploy/openapi.yaml that the router does not serve:\n  " + \
        "\n  ".join(f"{m} {p}" for m, p in extra)


def test_x_access_is_the_route_tables_gate(operations):
    wrong = []
    for r in helpers.opsplane_routes():
        op = operations.get((r["method"], r["path"]))
        if op is not None and op.get("x-access") != r["access"]:
            wrong.append(f"{r['method']} {r['path']}: x-access {op.get('x-access')!r}, router {r['access']!r}")
        if op is not None and (r["access"] == "public") != (op.get("security") == []):
            wrong.append(f"{r['method']} {r['path']}: security {op.get('security')!r} does not match access {r['access']}")
    assert not wrong, "x-access / security disagree with the route table:\n  " + "\n  ".join(wrong)


def test_every_gated_operation_documents_its_refusals(operations):
    missing = [f"{m} {p}: {code}" for (m, p), op in operations.items() if op.get("x-access") != "public"
               for code in ("401", "403") if code not in op["responses"]]
    assert not missing, "gated operations without their 401/403 answers:\n  " + "\n  ".join(missing)


# Real answers ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def admin(tokens):
    s = requests.Session()
    s.headers.update(helpers.bearer(tokens["admin"]))
    yield s
    s.close()


@pytest.fixture(scope="module")
def known_alert(stack):
    """One firing alert (so /api/ops/alerts/{id} and the ack have something to answer)."""
    key = "e2e_openapi:" + secrets.token_hex(4)
    out = stack.sql("INSERT INTO ops.alerts (rule, severity, dedupe_key, title, detail) "
                    "VALUES ('e2e_openapi', 'warning', :'key', 'openapi test', '{\"value\": 1}') RETURNING id", key=key)
    yield int(out.strip().splitlines()[0])
    stack.sql("DELETE FROM ops.alerts WHERE dedupe_key = :'key'", key=key)


def get_targets(base_url, admin, known_alert):
    """(route path, request target) pairs covering every GET route and its parameter choices."""
    health = admin.get(base_url + "/api/monitoring/health", timeout=helpers.TIMEOUT).json()
    modules = sorted(health.get("modules") or {})
    unknown_log = admin.get(base_url + "/api/ops/logs", params={"service": "e2e-no-such-service"}, timeout=helpers.TIMEOUT)
    log_services = (unknown_log.json().get("services") or []) if unknown_log.status_code == 404 else []
    targets = {
        "/api/ops/timeseries": [f"?metric={m}&window={w}" for m in ("runs_by_hour", "errors_by_hour", "cost_by_hour")
                                for w in ("today", "7d")],
        "/api/ops/top": [f"?kind={k}&window={w}" for k in ("agents", "users", "models") for w in ("today", "30d")],
        "/api/v1/ops/overview": ["", "?period=7d"],
        "/api/monitoring/performance": ["?range=1h", "?range=7d"],
        "/api/monitoring/events": ["?range=1h", "?range=24h"],
        "/api/monitoring/events/history": ["?limit=500"],
        "/api/ops/alerts": ["", "?state=firing", "?state=resolved"],
        "/api/ops/frontend-logs": ["?since=7d", "?since=7d&group=1"],
        "/api/ops/tokens": ["", "?revoked=1"],
        "/api/ops/logs": [f"?service={log_services[0]}&tail=20"] if log_services else [],
    }
    pairs = []
    for r in helpers.opsplane_routes():
        path = r["path"]
        if r["method"] != "GET" or path in NOT_JSON:
            continue
        if path == "/api/monitoring/health/module/{name}":
            pairs += [(path, f"/api/monitoring/health/module/{m}?range={rng}") for m in modules[:4] for rng in ("1h", "7d")]
            pairs.append((path, "/api/monitoring/health/module/e2e-no-such-service"))
        elif path == "/api/ops/alerts/{id}":
            pairs += [(path, f"/api/ops/alerts/{known_alert}"), (path, "/api/ops/alerts/999999999")]
        else:
            pairs += [(path, path + suffix) for suffix in targets.get(path, [""])]
    return pairs


def test_every_get_answer_fits_its_documented_schema(base_url, admin, operations, spec, known_alert):
    problems = []
    for path, target in get_targets(base_url, admin, known_alert):
        resp = admin.get(base_url + target, timeout=helpers.TIMEOUT)
        try:
            assert resp.status_code < 500, f"GET {target}: {helpers.describe(resp)}"
            assert_fits(spec, operations[("GET", path)], resp, f"GET {target} ({resp.status_code})")
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_refusals_and_bad_parameters_fit_the_error_envelope(base_url, admin, operations, spec, tokens):
    cases = [("/api/ops/summary", "/api/ops/summary", {}),
             ("/api/ops/summary", "/api/ops/summary", helpers.bearer(tokens["viewer"])),
             ("/api/ops/top", "/api/ops/top?limit=0", None),
             ("/api/ops/timeseries", "/api/ops/timeseries", None),
             ("/api/ops/alerts/{id}", "/api/ops/alerts/abc", None)]
    for path, target, headers in cases:
        if headers is None:
            resp = admin.get(base_url + target, timeout=helpers.TIMEOUT)
        else:
            resp = requests.get(base_url + target, headers=headers, timeout=helpers.TIMEOUT)
        assert resp.status_code in (400, 401, 403), f"GET {target}: {helpers.describe(resp)}"
        assert_fits(spec, operations[("GET", path)], resp, f"GET {target}")


def test_non_json_answers_have_their_documented_content_type(base_url, admin, operations):
    for path in ("/api/ops/support-bundle", "/metrics"):
        resp = admin.get(base_url + path, timeout=60)
        assert resp.status_code == 200, f"GET {path}: {helpers.describe(resp)}"
        documented = operations[("GET", path)]["responses"]["200"]["content"]
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        assert media in documented, f"GET {path} answered {media}; documented: {sorted(documented)}"


def test_write_answers_fit_their_documented_schemas(base_url, admin, operations, spec, tokens, known_alert):
    ingest = requests.Session()
    ingest.headers.update(helpers.bearer(tokens["ingest"]))
    tag = secrets.token_hex(4)
    records = [ah.agent(f"openapi-agent-{tag}"), {"kind": "run", "run_id": f"openapi-{tag}"}]
    resp = ingest.post(base_url + "/api/ops/ingest", data=json.dumps(records),
                       headers={"Content-Type": "application/json"}, timeout=helpers.TIMEOUT)
    assert_fits(spec, operations[("POST", "/api/ops/ingest")], resp, "POST /api/ops/ingest")
    resp = ingest.post(base_url + "/api/ops/budget/check", json={"user_id": f"openapi-{tag}"}, timeout=helpers.TIMEOUT)
    assert_fits(spec, operations[("POST", "/api/ops/budget/check")], resp, "POST /api/ops/budget/check")
    ingest.close()

    resp = admin.post(base_url + f"/api/ops/alerts/{known_alert}/ack", json={"note": "openapi test"}, timeout=helpers.TIMEOUT)
    assert resp.status_code == 200, helpers.describe(resp)
    assert_fits(spec, operations[("POST", "/api/ops/alerts/{id}/ack")], resp, "POST ack")
    resp = admin.post(base_url + "/api/ops/silences",
                      json={"rule": "e2e_openapi", "duration_s": 60, "reason": "openapi test"}, timeout=helpers.TIMEOUT)
    assert resp.status_code == 201, helpers.describe(resp)
    assert_fits(spec, operations[("POST", "/api/ops/silences")], resp, "POST /api/ops/silences")
    resp = admin.post(base_url + "/api/ops/tokens/999999999/revoke", json={}, timeout=helpers.TIMEOUT)
    assert_fits(spec, operations[("POST", "/api/ops/tokens/{id}/revoke")], resp, "POST revoke (unknown id)")
