"""GET /metrics: the Prometheus text format for admins, parsed with prometheus-client's own
parser, and its figures checked against the JSON routes that answer the same questions after
known data went in (runs, a browser report, a firing alert, a monitored service)."""

import json
import secrets

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import activity_helpers as ah
from activity_helpers import ops  # noqa: F401  (fixture)
import helpers

CONTENT_TYPE = "text/plain; version=0.0.4"


def scrape(base_url, token):
    resp = requests.get(base_url + "/metrics", headers=helpers.bearer(token), timeout=helpers.TIMEOUT)
    assert resp.status_code == 200, f"GET /metrics as admin: {helpers.describe(resp)}"
    assert resp.headers.get("Content-Type", "").startswith(CONTENT_TYPE), resp.headers
    return resp.text


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text):
    """{(sample name, frozenset(labels)): value}"""
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())))


@pytest.mark.parametrize("caller,status,code", [("none", 401, "unauthenticated"), ("viewer", 403, "forbidden"),
                                                ("ingest", 403, "forbidden")])
def test_only_admins_may_scrape(base_url, tokens, caller, status, code):
    headers = {} if caller == "none" else helpers.bearer(tokens[caller])
    resp = helpers.raw_request(base_url, "GET", "/metrics", headers=headers)
    assert resp.status_code == status, f"GET /metrics as {caller}: {helpers.describe(resp)}"
    helpers.assert_error_envelope(resp, status, code)


def test_a_scrape_parses_and_describes_every_family(base_url, tokens):
    text = scrape(base_url, tokens["admin"])
    fams = families(text)
    for name in ("opsplane_build_info", "opsplane_process_start_time_seconds", "opsplane_runs_today",
                 "opsplane_frontend_reports_received", "opsplane_frontend_reports_dropped", "opsplane_alerts",
                 "opsplane_service_status", "opsplane_api_request_rate_per_second", "opsplane_api_latency_seconds",
                 "opsplane_ticker_clients", "opsplane_db_size_bytes", "opsplane_db_connections",
                 "opsplane_ingest_records_last_minute"):
        assert name in fams, f"/metrics lacks {name}; it has {sorted(fams)}"
        assert fams[name].documentation, f"{name} has no HELP text"
    assert fams["opsplane_api_latency_seconds"].type == "summary"
    assert fams["opsplane_frontend_reports_received"].type == "counter"
    build = fams["opsplane_build_info"].samples[0]
    assert build.value == 1 and build.labels.get("version"), build
    for line in text.splitlines():
        assert line.startswith("#") or " " in line, f"not a sample line: {line!r}"


def test_figures_agree_with_the_json_routes_after_known_data(base_url, tokens, ops, stack):
    admin = tokens["admin"]
    tag = secrets.token_hex(4)
    # Three runs started now (one finished with a cost), one browser report, one firing alert.
    t0 = ah.now()
    records = [ah.agent(f"metrics-agent-{tag}", name="metrics test")]
    records += [ah.run(f"metrics-run-{tag}-{i}", f"metrics-agent-{tag}", "running", t0, started_at=t0)
                for i in range(2)]
    records.append(ah.finished_run(f"metrics-run-{tag}-done", f"metrics-agent-{tag}", t0, ah.now(), cost_usd=0.25))
    ops.ingest_ok(records)
    resp = requests.post(base_url + "/api/ops/frontend-log", timeout=helpers.TIMEOUT,
                         headers={"Content-Type": "text/plain;charset=UTF-8"},
                         data=json.dumps({"message": f"metrics test error {tag}", "route": "/metrics-test"}))
    assert resp.status_code == 204, helpers.describe(resp)
    stack.sql("INSERT INTO ops.alerts (rule, severity, dedupe_key, title) VALUES ('e2e_metrics', 'critical', :'key', 'metrics test')",
              key=f"e2e_metrics:{tag}")
    try:
        def agree():
            text = scrape(base_url, admin)
            summary = ops.get_json("/api/ops/summary")
            assert value(text, "opsplane_runs_today") == summary["runs_today"], (text, summary)
            if summary["cost_today_usd"] is not None:
                assert value(text, "opsplane_cost_today_usd") == pytest.approx(summary["cost_today_usd"])
            assert value(text, "opsplane_ingest_records_last_minute", kind="run") >= 3

            logs = ops.get_json("/api/ops/frontend-logs", {"since": "5m"})
            assert value(text, "opsplane_frontend_reports_received_total") == logs["received_total"]
            assert value(text, "opsplane_frontend_reports_evicted_total") == logs["evicted"]
            for reason, n in logs["dropped"].items():
                assert value(text, "opsplane_frontend_reports_dropped_total", reason=reason) == n

            for state in ("firing", "acknowledged"):
                listed = ops.get_json("/api/ops/alerts", {"state": state, "limit": "500"})["alerts"]
                for severity in ("critical", "warning", "info"):
                    want = sum(1 for a in listed if a["severity"] == severity)
                    assert value(text, "opsplane_alerts", state=state, severity=severity) == want, (state, severity)
            assert value(text, "opsplane_alerts", state="firing", severity="critical") >= 1

            health = ops.get_json("/api/monitoring/health")
            for name, module in health["modules"].items():
                for status in ("healthy", "degraded", "down", "unknown"):
                    want = 1 if module["status"] == status else 0
                    assert value(text, "opsplane_service_status", service=name, status=status) == want, (name, status)

            capacity = ops.get_json("/operator/system/capacity")
            assert value(text, "opsplane_db_max_connections") == capacity["postgres"]["connections_max"]
        ah.eventually(agree, timeout=10)
    finally:
        stack.sql("DELETE FROM ops.alerts WHERE dedupe_key = :'key'", key=f"e2e_metrics:{tag}")


def test_label_values_are_escaped(base_url, tokens, stack):
    # A service name with a quote, a backslash and a line feed must come back intact through
    # the parser (the monitor rewrites this table when it restarts; the row is removed here).
    name = 'e2e "odd" \\ name\nline ' + secrets.token_hex(3)
    stack.sql("INSERT INTO ops.monitor_services (name, kind, target, interval_s, timeout_ms) "
              "VALUES (:'name', 'tcp', '127.0.0.1:1', 60, 1000)", name=name)
    try:
        text = scrape(base_url, tokens["admin"])
        assert value(text, "opsplane_service_status", service=name, status="unknown") == 1, \
            [k for k in samples(text) if k[0] == "opsplane_service_status"]
    finally:
        stack.sql("DELETE FROM ops.monitor_services WHERE name = :'name'", name=name)
