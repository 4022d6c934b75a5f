"""GET /api/ops/logs: the end of allowlisted logs through the API, never SSH.

The stack's allowlist (STATE/log-sources.json, written by deploy/stack.sh) names its own
processes, nginx, Postgres and Redis. These tests read them through nginx as an admin and
check timestamps, levels, filters, the plain mode, rotation and refusals.
"""

import json
import os
import re
import secrets
import time
from pathlib import Path

import pytest

import helpers
from activity_helpers import Ops

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
SERVICES = {"workers", "ticker", "monitor", "demo", "nginx-access", "nginx-error", "postgres", "redis", "stack"}


@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


@pytest.fixture(scope="module")
def log_dir(stack):
    return Path(stack.env["OPS_LOG_DIR"])


def logs(ops, **params):
    resp = ops.get("/api/ops/logs", {k: str(v) for k, v in params.items()})
    assert resp.status_code == 200, f"GET /api/ops/logs {params}: {helpers.describe(resp)}"
    return resp


def test_an_unknown_service_is_404_with_the_known_ones(ops):
    for name in ("nope", "../../etc/passwd", "/etc/passwd", "workers/../../etc"):
        resp = ops.get("/api/ops/logs", {"service": name})
        err = helpers.assert_error_envelope(resp, 404, "unknown_service")
        assert set(err["services"]) == SERVICES, err
        assert "root:" not in resp.text


def test_worker_logs_are_json_entries_with_utc_times_and_levels(ops):
    ops.get("/api/ops/ping")
    body = logs(ops, service="workers", tail=20).json()
    assert body["service"] == "workers" and body["format"] == "json", body
    assert len(body["entries"]) == 20, f"{len(body['entries'])} entries"
    assert len(body["files"]) >= 2 and all(f.endswith(".log") for f in body["files"]), body["files"]
    for e in body["entries"]:
        assert ISO_UTC.match(e["ts"] or ""), e
        assert e["level"] in ("debug", "info", "warn", "error"), e
    stamps = [e["ts"] for e in body["entries"]]
    assert stamps == sorted(stamps), "entries of several files are merged oldest first"


def test_nginx_access_and_error_lines_are_normalised(ops, base_url):
    marker = "logtest-" + secrets.token_hex(4)
    helpers.raw_request(base_url, "GET", f"/admin/ops/{marker}.js")   # 404: an access line and an error line
    time.sleep(0.3)
    access = logs(ops, service="nginx-access", tail=50).json()["entries"]
    mine = [e for e in access if marker in e["message"]]
    assert mine and mine[-1]["level"] == "warn" and ISO_UTC.match(mine[-1]["ts"]), mine
    assert mine[-1]["message"].startswith("GET /admin/ops/" + marker) and " 404 " in mine[-1]["message"], mine
    errors = logs(ops, service="nginx-error", tail=50, level="error").json()["entries"]
    mine = [e for e in errors if marker in e["message"]]
    assert mine and mine[-1]["level"] == "error" and ISO_UTC.match(mine[-1]["ts"]), errors[-3:]


def test_postgres_and_redis_formats(ops):
    pg = logs(ops, service="postgres", tail=5).json()["entries"]
    assert pg and all(ISO_UTC.match(e["ts"] or "") for e in pg if not e["message"].startswith((" ", "\t"))), pg
    assert any(e["message"].startswith(("LOG:", "WARNING:", "ERROR:", "FATAL:")) for e in pg), pg
    redis = logs(ops, service="redis", tail=5).json()
    if redis["entries"]:   # no redis-server installed: the file does not exist (a warning says so)
        assert all(ISO_UTC.match(e["ts"] or "") for e in redis["entries"]), redis
    else:
        assert redis["warnings"], redis


def test_plain_mode_returns_the_lines_untouched(ops, log_dir):
    resp = logs(ops, service="postgres", tail=3, format="plain")
    assert resp.headers["content-type"].startswith("text/plain"), resp.headers
    lines = (log_dir / "postgres.log").read_text(errors="replace").splitlines()
    assert resp.text == "\n".join(lines[-3:]) + "\n"


def test_level_and_since_filters(ops, base_url):
    marker = "logsince-" + secrets.token_hex(4)
    time.sleep(1.1)
    helpers.raw_request(base_url, "GET", f"/admin/ops/{marker}.js")
    time.sleep(0.3)
    recent = logs(ops, service="nginx-access", tail=500, since="1s").json()["entries"]
    assert recent and all(marker in e["message"] or e["ts"] >= recent[0]["ts"] for e in recent)
    assert len(recent) < 50, f"since=1s should keep only the last second: {len(recent)} lines"
    assert any(marker in e["message"] for e in recent)
    warn = logs(ops, service="nginx-access", tail=20, level="warn").json()["entries"]
    assert warn and all(e["level"] in ("warn", "error") for e in warn), warn


def test_the_tail_follows_the_current_file_across_rotation(ops, log_dir):
    current = log_dir / "stack.log"
    rotated = log_dir / "stack.log.1"
    original = current.read_bytes() if current.exists() else b""
    marker = secrets.token_hex(4)
    try:
        current.rename(rotated) if current.exists() else rotated.write_bytes(b"")
        with open(rotated, "ab") as f:
            f.write(f"old-1 {marker}\nold-2 {marker}\n".encode())
        current.write_text(f"new-1 {marker}\n")
        text = logs(ops, service="stack", tail=3, format="plain").text
        assert text == f"old-1 {marker}\nold-2 {marker}\nnew-1 {marker}\n", text
    finally:
        current.write_bytes(original)
        rotated.unlink(missing_ok=True)


@pytest.mark.parametrize("params,code", [
    ({"service": "workers", "tail": "5001"}, "invalid_parameter"),
    ({"service": "workers", "tail": "0"}, "invalid_parameter"),
    ({"service": "workers", "format": "xml"}, "invalid_parameter"),
    ({"service": "workers", "level": "loud"}, "invalid_parameter"),
    ({"service": "workers", "since": "yesterday"}, "invalid_parameter"),
    ({"service": "workers", "file": "/etc/passwd"}, "invalid_parameter"),
    ({}, "invalid_parameter"),
])
def test_bad_parameters_are_400(ops, params, code):
    helpers.assert_error_envelope(ops.get("/api/ops/logs", params), 400, code)


def test_a_journald_unit_is_read_through_journalctl(own_worker, tmp_path):
    """A systemd unit as a log service: a real journal (written by systemd-journal-remote from
    the export format) read through journalctl by a worker whose allowlist names the unit."""
    import subprocess

    import fcgi_client
    remote = "/lib/systemd/systemd-journal-remote"
    assert os.access(remote, os.X_OK), "systemd-journal-remote is not installed (deploy/install-deps.sh)"
    export = "".join(
        f"__REALTIME_TIMESTAMP={1795320000000000 + i * 1000000}\n__MONOTONIC_TIMESTAMP={i + 1}\n"
        f"_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE=unit line {i}\nPRIORITY={3 if i == 4 else 6}\n"
        f"_SYSTEMD_UNIT=opsplane-e2e.service\n_PID=7\nSYSLOG_IDENTIFIER=opsplane-e2e\n\n" for i in range(5))
    (tmp_path / "in.export").write_text(export)
    (tmp_path / "journal").mkdir()
    subprocess.run([remote, f"--output={tmp_path}/journal/remote.journal", str(tmp_path / "in.export")],
                   check=True, capture_output=True)
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps({"services": [{"name": "e2e-unit", "journald_unit": "opsplane-e2e.service",
                                                 "journal_directory": str(tmp_path / "journal")}]}))
    _, sock, _ = own_worker(OPS_LOG_SOURCES=str(sources))
    admin = {"OPS_ROLE": "admin", "OPS_SUBJECT": "e2e:logs"}
    resp = fcgi_client.request(str(sock), "GET", "/api/ops/logs", query="service=e2e-unit&tail=2", params=admin)
    assert resp.status == 200, resp
    body = resp.json()
    assert [e["message"] for e in body["entries"]] == ["unit line 3", "unit line 4"], body
    assert body["entries"][1] == {"ts": "2026-11-22T04:00:04Z", "level": "error", "message": "unit line 4"}, body
    assert body["files"] == ["journald:opsplane-e2e.service"], body
    plain = fcgi_client.request(str(sock), "GET", "/api/ops/logs", query="service=e2e-unit&tail=1&format=plain", params=admin)
    assert plain.body.decode() == "2026-11-22T04:00:04Z opsplane-e2e[7]: unit line 4\n", plain.body
