"""opsctl against the real stack: every REST subcommand's JSON equals the API's answer to the
same request, --plain is readable (a header row, aligned columns), each documented exit code
happens where it should, `login` writes a 0600 config file that later commands use, and the
token never shows up in error output.

The binary is .build/release/opsctl (or $OPSCTL_BIN): `swift build -c release --product opsctl`.
Exit statuses and responses that the stack cannot produce on demand (503, 429, a redirect, an
HTML 502, TLS) come from small local servers of the tests' own on 127.0.0.1.

Helpers here (run_opsctl, opsctl_binary, …) are also used by test_opsctl_live.py.
"""

import gzip
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

import helpers
from activity_helpers import Ops, agent, eventually, finished_run, llm_call, now, wait_away_from_midnight

# --- running opsctl ---------------------------------------------------------------------------


def opsctl_binary():
    path = Path(os.environ.get("OPSCTL_BIN") or helpers.REPO / ".build" / "release" / "opsctl")
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it with `swift build -c release --product opsctl` "
                    "(or set OPSCTL_BIN)")
    return path


def opsctl_env(home, url=None, token=None, **extra):
    """A clean environment: no OPSCTL_* from the caller, HOME and XDG_CONFIG_HOME in `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCTL_") and k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    if url is not None:
        env["OPSCTL_URL"] = url
    if token is not None:
        env["OPSCTL_TOKEN"] = token
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_opsctl(*args, env, input=None, cwd=None, timeout=60):
    return subprocess.run([str(opsctl_binary()), *map(str, args)], env=env, input=input, cwd=cwd,
                          capture_output=True, timeout=timeout)


def text(proc):
    return proc.stdout.decode("utf-8", "replace")


def err(proc):
    return proc.stderr.decode("utf-8", "replace")


def show(proc):
    return f"exit {proc.returncode}\nstdout: {text(proc)[:1500]!r}\nstderr: {err(proc)[:1500]!r}"


def contains(haystack, secret):
    """Whether the secret (str) is in the text or bytes. Tests assert `not contains(...)` so that a
    failure never prints the secret itself."""
    if isinstance(haystack, bytes):
        return secret.encode() in haystack
    return secret in haystack


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_error_line(proc, status, code, *, secrets_=()):
    """Exit `status`, stderr exactly one line `opsctl: … (code)`, no secret in it, nothing on stdout."""
    stderr = err(proc)
    lines = [l for l in stderr.splitlines() if not l.startswith("opsctl: warning:")]
    assert proc.returncode == status, f"expected exit {status}: {show(proc)}"
    assert len(lines) == 1, f"expected one error line on stderr: {stderr!r}"
    if code is None:
        assert re.match(r"^opsctl: .+ \([a-z0-9_]+\)$", lines[0]), f"error line should be 'opsctl: <message> (<code>)': {lines[0]!r}"
    else:
        assert lines[0].startswith("opsctl: ") and lines[0].endswith(f"({code})"), \
            f"error line should be 'opsctl: <message> ({code})': {lines[0]!r}"
    for s in secrets_:
        leaked = contains(stderr, s)
        assert not leaked, "a token appears in opsctl's stderr"
    assert proc.stdout == b"", f"nothing belongs on stdout on an error: {text(proc)!r}"
    return lines[0]


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def admin(stack, tokens, home):
    """Environment for opsctl as the stack's admin (URL and token from the environment)."""
    return opsctl_env(home, url=stack.url, token=tokens["admin"])


def api_get(stack, token, path, params=None):
    resp = requests.get(stack.url + path, params=params, headers=helpers.bearer(token), timeout=helpers.TIMEOUT)
    return resp


def api_json(stack, token, path, params=None):
    resp = api_get(stack, token, path, params)
    assert resp.status_code == 200, f"GET {path} {params}: {helpers.describe(resp)}"
    return resp.json()


def out_json(proc):
    assert proc.returncode == 0, show(proc)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"opsctl's stdout is not JSON: {show(proc)}") from None


def shape(value):
    """The structure of a JSON value: object keys with their shapes, the first element of lists."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def same_shape(a, b):
    """Shapes agree where both have data (a null may stand where the other has a number)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return not a or not b or same_shape(a[0], b[0])
    return a == b or "NoneType" in (a, b)


# --- plain tables -----------------------------------------------------------------------------

CELL = re.compile(r"\S+(?: \S+)*")


def cells(line):
    """(start, end, text) of each cell: runs of words separated by single spaces."""
    return [(m.start(), m.end(), m.group()) for m in CELL.finditer(line)]


def assert_table(lines, header_words):
    """lines[0] is a header row with these column names; every other line has one cell per
    column, each starting where its header starts (left-aligned) or ending where it ends
    (right-aligned). Returns the rows as lists of cell texts."""
    assert lines, "no table printed"
    head = cells(lines[0])
    assert [h[2] for h in head] == header_words, f"header row {lines[0]!r}, expected columns {header_words}"
    rows = []
    for line in lines[1:]:
        row = cells(line)
        assert len(row) == len(head), f"row {line!r} does not have one cell per column of {lines[0]!r}"
        for (hs, he, name), (cs, ce, value) in zip(head, row):
            assert cs == hs or ce == he, \
                f"column {name}: cell {value!r} in {line!r} is aligned neither left nor right with its header {lines[0]!r}"
        rows.append([c[2] for c in row])
    return rows


def cell_text(value):
    """How --plain prints a JSON scalar."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- the read commands ------------------------------------------------------------------------


def test_summary_json_is_the_api_answer(stack, tokens, admin):
    def check():
        proc = run_opsctl("summary", env=admin)
        mine = out_json(proc)
        api = api_json(stack, tokens["admin"], "/api/ops/summary")
        assert mine.keys() == api.keys(), f"opsctl summary keys {sorted(mine)} != API {sorted(api)}"
        assert same_shape(shape(mine), shape(api)), f"shapes differ:\n{shape(mine)}\n{shape(api)}"
        # Stable between two requests (answers may be cached for up to 2 s, hence the retries):
        # the agents and the budget limits.
        for key in ("agents_total", "agents_scheduled"):
            assert mine[key] == api[key], f"{key}: opsctl {mine[key]!r}, API {api[key]!r}"
        assert mine["budget_global"]["limit_cents"] == api["budget_global"]["limit_cents"]
        assert proc.stderr == b"", f"nothing on stderr on success: {err(proc)!r}"
    eventually(check)


def test_summary_plain_lists_kpis_and_a_top_agents_table(stack, tokens, admin):
    proc = run_opsctl("summary", "--plain", env=admin)
    assert proc.returncode == 0, show(proc)
    out = text(proc)
    api = api_json(stack, tokens["admin"], "/api/ops/summary")
    labels = [l.split("  ")[0] for l in out.splitlines()[:9]]
    assert labels[:8] == ["runs today", "cost today", "active users 24h", "agents", "latency p50 / p95",
                          "errors last hour", "budget per user", "budget global"], out
    agents_line = next(l for l in out.splitlines() if l.startswith("agents "))
    assert re.search(rf"\b{api['agents_total']} \({api['agents_scheduled']} scheduled\)$", agents_line), agents_line
    # The values start in one column.
    starts = {len(l) - len(l.split("  ", 1)[1].lstrip()) for l in out.splitlines()[:8]}
    assert len(starts) == 1, f"KPI values are not aligned:\n{out}"
    assert "top agents today" in out, out
    table = out.split("top agents today\n", 1)[1].splitlines()
    if table == ["(none)"]:
        assert api["top_agents_today"] == [], out
    else:
        rows = assert_table(table, ["AGENT", "NAME", "OWNER", "RUNS", "COST_USD", "P95_MS"])
        assert 1 <= len(rows) <= 5, table
        today = api_json(stack, tokens["admin"], "/api/ops/top", {"kind": "agents", "window": "today", "limit": "100"})
        assert {r[0] for r in rows} <= {a["agent_id"] for a in today}, f"agents in the table that ran no run today: {rows}"


def test_context_json_is_the_api_answer(stack, tokens, admin):
    mine = out_json(run_opsctl("context", env=admin))
    api = api_json(stack, tokens["admin"], "/api/ops/context")
    assert mine.keys() == api.keys(), f"{sorted(mine)} != {sorted(api)}"
    for key in ("version", "git_sha"):
        assert mine["deploy"][key] == api["deploy"][key], f"deploy.{key}"
    assert mine["deploy"]["migrations"]["latest"] == api["deploy"]["migrations"]["latest"]
    plain = run_opsctl("context", "--plain", env=admin)
    assert plain.returncode == 0, show(plain)
    assert re.search(rf"^deploy\.version +{re.escape(api['deploy']['version'])}$", text(plain), re.M), text(plain)


@pytest.mark.parametrize("metric,window,points", [("runs_by_hour", "today", 24), ("cost_by_hour", "7d", 7),
                                                  ("errors_by_hour", "30d", 30)])
def test_timeseries_json_is_the_api_answer(stack, tokens, admin, metric, window, points):
    key = "hour_iso" if window == "today" else "date"

    def check():
        mine = out_json(run_opsctl("timeseries", metric, "--window", window, env=admin))
        api = api_json(stack, tokens["admin"], "/api/ops/timeseries", {"metric": metric, "window": window})
        assert len(mine) == len(api) == points, f"{len(mine)} points from opsctl, {len(api)} from the API"
        # (At midnight UTC the window moves between the two requests: retried.)
        assert [p[key] for p in mine] == [p[key] for p in api]
        # History does not move; only the current hour/day may have grown in between.
        if window != "today":
            assert [p["value"] for p in mine[:-1]] == [p["value"] for p in api[:-1]]
        return mine
    mine = eventually(check)
    plain = run_opsctl("timeseries", metric, "--window", window, "--plain", env=admin)
    assert plain.returncode == 0, show(plain)
    lines = text(plain).splitlines()
    assert len(lines) == points + 1, text(plain)
    head = cells(lines[0])
    assert [h[2] for h in head] == ["HOUR" if window == "today" else "DATE", "VALUE"], lines[0]
    for line, point in zip(lines[1:], mine):
        row = cells(line)
        assert row[0][2] == point[key] and row[0][0] == 0, line
        assert row[1][1] == head[1][1], f"VALUE is not right-aligned under its header: {line!r}"


@pytest.mark.parametrize("kind,columns,key", [
    ("agents", ["AGENT", "NAME", "OWNER", "RUNS", "COST_USD", "P95_MS"], "agent_id"),
    ("users", ["USER", "RUNS", "COST_USD"], "user_id"),
    ("models", ["PROVIDER", "MODEL", "CALLS", "PROMPT_TOKENS", "COMPLETION_TOKENS", "COST_USD"], "provider"),
])
def test_top_json_and_plain(stack, tokens, admin, activity_data, kind, columns, key):
    mine = out_json(run_opsctl("top", "--kind", kind, "--window", "30d", "--limit", "3", env=admin))
    api = api_json(stack, tokens["admin"], "/api/ops/top", {"kind": kind, "window": "30d", "limit": "3"})
    assert isinstance(mine, list) and mine, f"expected some {kind} (the fixture ingested runs): {mine!r}"
    assert len(mine) == len(api) and same_shape(shape(mine), shape(api)), f"{mine!r} vs {api!r}"
    proc = run_opsctl("top", "--kind", kind, "--window", "30d", "--limit", "3", "--plain", env=admin)
    assert proc.returncode == 0, show(proc)
    rows = assert_table(text(proc).splitlines(), columns)
    assert len(rows) == len(mine)
    assert {r[0] for r in rows} <= {cell_text(x[key]) for x in api} | {cell_text(x[key]) for x in mine}


@pytest.fixture(scope="module")
def activity_data(stack):
    """One agent, user and model with a finished run today, so that every top list has a row."""
    import datetime as dt
    ops = Ops(stack.env)
    tag = secrets.token_hex(3)
    wait_away_from_midnight()   # "a finished run today": not 30 s before a midnight
    t = now()
    ops.ingest_ok([agent(f"opsctl-agent-{tag}", f"Opsctl {tag}", owner_email="opsctl@example.com"),
                   finished_run(f"opsctl-run-{tag}", f"opsctl-agent-{tag}", t - dt.timedelta(seconds=30),
                                t - dt.timedelta(seconds=20), user_id=f"opsctl-user-{tag}", cost_usd=0.01, model="gpt-4o"),
                   llm_call(f"opsctl-call-{tag}", t - dt.timedelta(seconds=25), "openai", "gpt-4o",
                            run_id=f"opsctl-run-{tag}", prompt_tokens=10, completion_tokens=5, latency_ms=100,
                            status="ok", cost_usd=0.001)])
    ops.http.close()
    return tag


def test_whoami_version_help_and_completion(stack, tokens, admin):
    who = out_json(run_opsctl("whoami", env=admin))
    assert who == api_json(stack, tokens["admin"], "/api/ops/whoami") and who["role"] == "admin"
    version = out_json(run_opsctl("version", env=admin))
    assert re.match(r"^\d+\.\d+\.\d+", version["opsctl"]), version
    assert text(run_opsctl("--version", env=admin)).strip() == version["opsctl"]
    help_text = text(run_opsctl("--help", env=admin))
    for line in ("0  success", "2  usage", "3  authentication", "4  not found", "5  server error or unreachable",
                 "OPSCTL_URL", "OPSCTL_TOKEN", "OPSCTL_CACERT", "--generate-completion-script"):
        assert line in help_text, f"`opsctl --help` does not document {line!r}:\n{help_text}"
    for sub in ("summary", "context", "timeseries", "top", "health", "alerts", "logs", "frontend-logs",
                "bundle", "events", "login", "version"):
        assert re.search(rf"^\s+{re.escape(sub)}\s", help_text, re.M), f"subcommand {sub} missing from --help"
    script = run_opsctl("--generate-completion-script", "bash", env=admin)
    assert script.returncode == 0 and b"complete" in script.stdout and b"frontend-logs" in script.stdout, show(script)
    bash = shutil.which("bash")
    if bash:
        check = subprocess.run([bash, "-n"], input=script.stdout, capture_output=True, timeout=30)
        assert check.returncode == 0, f"the bash completion script does not parse: {check.stderr!r}"


# --- logs ---------------------------------------------------------------------------------------


def test_logs_json_is_the_api_answer(stack, tokens, admin):
    mine = out_json(run_opsctl("logs", "nginx-error", "--tail", "5", env=admin))
    api = api_json(stack, tokens["admin"], "/api/ops/logs", {"service": "nginx-error", "tail": "5"})
    assert mine.keys() == api.keys() == {"service", "format", "tail", "files", "entries", "warnings"}
    for key in ("service", "format", "tail", "files"):
        assert mine[key] == api[key], key
    assert len(mine["entries"]) <= 5
    for e in mine["entries"]:
        assert e.keys() == {"ts", "level", "message"}, e


def test_logs_plain_raw_and_level(stack, tokens, admin):
    # A line we know is there: our own request, in the nginx access log.
    marker = f"opsctl-logs-{secrets.token_hex(4)}"
    requests.get(f"{stack.url}/api/ops/ping", params={"m": marker}, timeout=helpers.TIMEOUT)

    def plain_has_marker():
        proc = run_opsctl("logs", "nginx-access", "--tail", "50", "--plain", env=admin)
        assert proc.returncode == 0, show(proc)
        return text(proc) if marker in text(proc) else None
    out = helpers.wait_until(plain_has_marker, 10, what="the marker request in `logs nginx-access --plain`")
    lines = out.splitlines()
    assert lines[0].split() == ["TS", "LEVEL", "MESSAGE"], lines[0]
    column = lines[0].index("MESSAGE")
    line = next(l for l in lines if marker in l)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z +info +GET /api/ops/ping\?m=", line), line
    assert line.index("GET") == column, f"MESSAGE column not aligned: {lines[0]!r} / {line!r}"
    raw = run_opsctl("logs", "nginx-access", "--tail", "50", "--raw", env=admin)
    assert raw.returncode == 0 and marker.encode() in raw.stdout, show(raw)
    raw_line = next(l for l in text(raw).splitlines() if marker in l)
    assert json.loads(raw_line)["uri"].endswith(marker), "--raw prints the access log's own JSON line"
    recent = out_json(run_opsctl("logs", "nginx-access", "--since", "10m", "--tail", "5000", env=admin))
    assert any(marker in e["message"] for e in recent["entries"]), "--since 10m keeps the marker line"
    future = out_json(run_opsctl("logs", "nginx-access", "--since", "2099-01-01T00:00:00Z", env=admin))
    assert future["entries"] == [], f"nothing is newer than 2099: {future['entries'][:3]}"
    warn = out_json(run_opsctl("logs", "nginx-access", "--tail", "200", "--level", "warn", env=admin))
    assert all(e["level"] in ("warn", "error") for e in warn["entries"]), warn["entries"][:5]


def test_unknown_log_service_exits_4_and_lists_the_known_ones(admin, tokens):
    proc = run_opsctl("logs", "no-such-service", env=admin)
    line = assert_error_line(proc, 4, "unknown_service", secrets_=[tokens["admin"]])
    assert "nginx-access" in line, f"the error should list the known services: {line!r}"


# --- frontend logs --------------------------------------------------------------------------------


def test_frontend_logs_json_and_plain(stack, tokens, admin):
    t = "opsctl" + secrets.token_hex(4)
    route = f"/{t}/page"
    hostile = "boom\n\x1b[31mred\x1b[0m <b>x</b>"
    for i in range(2):
        body = json.dumps({"message": hostile, "route": route, "type": "TypeError", "build_hash": "b-1",
                           "browser": "Chromium 120"}).encode()
        resp = helpers.raw_request(stack.url, "POST", "/api/ops/frontend-log",
                                   headers={"Content-Type": "text/plain;charset=UTF-8"}, body=body,
                                   source=helpers.fresh_client_address())
        assert resp.status_code == 204, helpers.describe(resp)
    # Both reports are written within the workers' flush interval after their 204.
    helpers.wait_until(lambda: api_json(stack, tokens["admin"], "/api/ops/frontend-logs",
                                        {"since": "5m", "route": route})["received_total"] == 2,
                       5, what="the two reports written")
    mine = out_json(run_opsctl("frontend-logs", "--since", "5m", "--route", route, env=admin))
    api = api_json(stack, tokens["admin"], "/api/ops/frontend-logs", {"since": "5m", "route": route})
    assert mine == api, f"opsctl frontend-logs differs from the API:\n{mine}\n{api}"
    assert len(mine["entries"]) == 2 and mine["entries"][0]["message"] == hostile
    grouped = out_json(run_opsctl("frontend-logs", "--since", "5m", "--route", route, "--group", env=admin))
    assert grouped == api_json(stack, tokens["admin"], "/api/ops/frontend-logs",
                               {"since": "5m", "route": route, "group": "1"})
    assert [g["count"] for g in grouped["groups"]] == [2], grouped
    plain = run_opsctl("frontend-logs", "--since", "5m", "--route", route, "--plain", env=admin)
    assert plain.returncode == 0, show(plain)
    out = text(plain)
    assert "\x1b" not in out, "a browser's message must not reach the terminal as an escape sequence"
    rows = assert_table(out.split("\n\n")[0].splitlines(), ["RECEIVED", "ROUTE", "TYPE", "MESSAGE", "BUILD", "BROWSER"])
    assert len(rows) == 2 and all(r[1] == route and r[3].startswith("boom\\n") for r in rows), rows
    gplain = run_opsctl("frontend-logs", "--since", "5m", "--route", route, "--group", "--plain", env=admin)
    grows = assert_table(text(gplain).split("\n\n")[0].splitlines(),
                         ["COUNT", "LAST_SEEN", "TYPE", "ROUTES", "MESSAGE", "FINGERPRINT"])
    assert grows[0][0] == "2", grows


# --- support bundle -------------------------------------------------------------------------------


def test_bundle_is_written_0600_under_the_servers_name(admin, tmp_path):
    work = tmp_path / "out"
    work.mkdir()
    proc = run_opsctl("bundle", "--lines", "20", env=admin, cwd=work, timeout=180)
    assert proc.returncode == 0, show(proc)
    files = list(work.iterdir())
    assert len(files) == 1 and re.match(r"^opsplane-support-\d{8}T\d{6}Z\.json\.gz$", files[0].name), files
    path = files[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    bundle = json.loads(gzip.decompress(path.read_bytes()))
    assert list(bundle)[0] == "manifest" and "context" in bundle and "logs" in bundle, list(bundle)
    assert proc.stdout == b""
    assert path.name in err(proc) and str(path.stat().st_size) in err(proc), \
        f"stderr should give the path and size: {err(proc)!r}"
    # The same name again: refused, the file kept; --force replaces it.
    same = path.name
    again = run_opsctl("bundle", "-o", same, env=admin, cwd=work, timeout=180)
    assert_error_line(again, 1, "file_exists")
    forced = run_opsctl("bundle", "-o", same, "--force", "--lines", "5", env=admin, cwd=work, timeout=180)
    assert forced.returncode == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600, show(forced)
    # -o FILE and -o - (stdout).
    named = run_opsctl("bundle", "-o", tmp_path / "b.json.gz", "--lines", "5", env=admin, timeout=180)
    assert named.returncode == 0 and stat.S_IMODE((tmp_path / "b.json.gz").stat().st_mode) == 0o600, show(named)
    piped = run_opsctl("bundle", "-o", "-", "--lines", "5", env=admin, timeout=180)
    assert piped.returncode == 0 and "manifest" in json.loads(gzip.decompress(piped.stdout)), show(piped)


# --- health and alerts (the monitor's routes; 501 until issue 6 is merged) -------------------------


def skip_if_not_implemented(stack, token, path):
    resp = api_get(stack, token, path)
    if resp.status_code == 501 and resp.json().get("error", {}).get("code") == "not_implemented":
        pytest.skip(f"GET {path} answers 501 not_implemented: the monitor's routes (issue 6) are not merged yet")
    return resp


def test_health_json_and_plain(stack, tokens, admin):
    skip_if_not_implemented(stack, tokens["admin"], "/api/monitoring/health")
    mine = out_json(run_opsctl("health", env=admin))
    api = api_json(stack, tokens["admin"], "/api/monitoring/health")
    assert mine.keys() == api.keys() and {"status", "timestamp", "modules"} <= mine.keys(), (mine.keys(), api.keys())
    assert mine["modules"].keys() == api["modules"].keys()
    proc = run_opsctl("health", "--plain", env=admin)
    assert proc.returncode == 0, show(proc)
    out = text(proc)
    assert re.search(rf"^status +{re.escape(str(mine['status']))}$", out, re.M) or re.search(r"^status +\S+$", out, re.M), out
    table = [l for l in out.split("\n\n", 1)[1].splitlines() if not l.startswith("warning: ")]
    rows = assert_table(table, ["MODULE", "STATUS", "RESPONSE_MS", "ERRORS", "TREND", "CHECKED"])
    assert {r[0] for r in rows} == set(api["modules"]), rows


@pytest.fixture
def own_alerts(stack):
    """A firing and a resolved alert of our own (rule opsctl_e2e), removed afterwards."""
    ops = Ops(stack.env)
    tag = secrets.token_hex(4)
    ids = ops.sql("""
        INSERT INTO ops.alerts (rule, severity, state, dedupe_key, title, service, value, threshold, resolved_at)
        VALUES ('opsctl_e2e', 'warning', 'firing', :'k1', :'t1', 'opsctl-e2e', 7.5, 5, NULL),
               ('opsctl_e2e', 'info', 'resolved', :'k2', :'t2', 'opsctl-e2e', 1, 5, now())
        RETURNING id;""", k1=f"opsctl-{tag}-1", k2=f"opsctl-{tag}-2", t1=f"opsctl firing {tag}",
        t2=f"opsctl resolved {tag}").split()
    yield [int(i) for i in ids]
    ops.sql("DELETE FROM ops.alerts WHERE rule = 'opsctl_e2e';")


def test_alerts_list_and_ack(stack, tokens, admin, own_alerts):
    skip_if_not_implemented(stack, tokens["admin"], "/api/ops/alerts")
    firing, resolved = own_alerts
    mine = out_json(run_opsctl("alerts", "--state", "firing", "--limit", "500", env=admin))
    api = api_json(stack, tokens["admin"], "/api/ops/alerts", {"state": "firing", "limit": "500"})
    assert mine.keys() == api.keys() and "alerts" in mine
    assert firing in [a["id"] for a in mine["alerts"]], f"our firing alert {firing} is not listed: {mine}"
    assert [a["id"] for a in mine["alerts"]] == [a["id"] for a in api["alerts"]]
    plain = run_opsctl("alerts", "--state", "firing", "--limit", "500", "--plain", env=admin)
    assert plain.returncode == 0, show(plain)
    rows = assert_table(text(plain).split("\n\n")[0].splitlines(),
                        ["ID", "SEVERITY", "STATE", "SERVICE", "RULE", "TITLE", "VALUE", "THRESHOLD", "FIRES", "LAST_FIRED"])
    ours = [r for r in rows if r[0] == str(firing)]
    assert ours and ours[0][1:5] == ["warning", "firing", "opsctl-e2e", "opsctl_e2e"], rows
    # Acknowledge with a note.
    ack = run_opsctl("alerts", "ack", firing, "--note", "looking into it (opsctl e2e)", env=admin)
    assert ack.returncode == 0, show(ack)
    json.loads(ack.stdout)
    acked = api_json(stack, tokens["admin"], "/api/ops/alerts", {"state": "acknowledged", "limit": "500"})
    mine_acked = [a for a in acked["alerts"] if a["id"] == firing]
    assert mine_acked and mine_acked[0]["ack_note"] == "looking into it (opsctl e2e)", acked
    # Unknown id → 4; a resolved alert → 409 → 1; each one error line without the token.
    assert_error_line(run_opsctl("alerts", "ack", 987654321, env=admin), 4, None, secrets_=[tokens["admin"]])
    assert_error_line(run_opsctl("alerts", "ack", resolved, env=admin), 1, None, secrets_=[tokens["admin"]])


# --- exit codes -----------------------------------------------------------------------------------


def test_bad_token_exits_3_without_echoing_it(stack, home):
    bad = helpers.remember_secret("ops_" + secrets.token_hex(32))
    for args in (["summary"], ["logs", "nginx-access"], ["bundle", "-o", "-"]):
        proc = run_opsctl(*args, env=opsctl_env(home, url=stack.url, token=bad))
        assert_error_line(proc, 3, "unauthenticated", secrets_=[bad, bad[4:]])


def test_viewer_token_on_admin_commands_exits_3(stack, tokens, home):
    env = opsctl_env(home, url=stack.url, token=tokens["viewer"])
    for args in (["summary"], ["context"], ["top"], ["logs", "nginx-access"]):
        assert_error_line(run_opsctl(*args, env=env), 3, "forbidden", secrets_=[tokens["viewer"]])
    # whoami is for any signed-in role.
    assert out_json(run_opsctl("whoami", env=env))["role"] == "viewer"


def test_no_token_configured_exits_3(stack, home):
    proc = run_opsctl("summary", env=opsctl_env(home, url=stack.url))
    line = assert_error_line(proc, 3, "no_token")
    assert "OPSCTL_TOKEN" in line and "opsctl login" in line, line


def test_server_stopped_exits_5(tokens, home):
    url = f"http://127.0.0.1:{free_port()}"    # nothing listens there
    env = opsctl_env(home, url=url, token=tokens["admin"])
    for args in (["summary"], ["logs", "workers"], ["bundle"], ["events"], ["health"], ["alerts", "ack", "1"]):
        proc = run_opsctl(*args, env=env, timeout=30)
        assert_error_line(proc, 5, "unreachable", secrets_=[tokens["admin"]])


def test_usage_errors_exit_2_on_one_line(admin):
    for args in (["no-such-command"], ["timeseries"], ["timeseries", "runs_by_hour", "--window", "1y"],
                 ["top", "--kind", "planets"], ["top", "--limit", "0"], ["logs"], ["logs", "x", "--tail", "0"],
                 ["alerts", "--state", "sleeping"], ["summary", "--url", "ftp://example.com"]):
        proc = run_opsctl(*args, env=admin)
        assert_error_line(proc, 2, "usage" if args[-1] != "ftp://example.com" else "bad_url")
    # No URL anywhere.
    env = dict(admin)
    del env["OPSCTL_URL"]
    assert_error_line(run_opsctl("summary", env=env), 2, "no_url")


def test_a_refused_parameter_exits_1(admin, tokens):
    # The server validates --since of frontend-logs (at most 7d): a 400, which is exit 1.
    proc = run_opsctl("frontend-logs", "--since", "8d", env=admin)
    assert_error_line(proc, 1, "invalid_parameter", secrets_=[tokens["admin"]])


def test_token_flag_warns_about_ps_and_works(stack, tokens, home):
    proc = run_opsctl("whoami", "--token", tokens["admin"], env=opsctl_env(home, url=stack.url))
    assert proc.returncode == 0, show(proc)
    leaked = contains(err(proc), tokens["admin"])
    assert not leaked, "the token appears in the warning"
    assert "visible to other users" in err(proc), err(proc)


# --- login and the config file --------------------------------------------------------------------


def test_login_writes_a_0600_file_that_later_commands_use(stack, tokens, tmp_path):
    home = tmp_path / "h"
    xdg = tmp_path / "xdg"
    home.mkdir()
    env = opsctl_env(home, XDG_CONFIG_HOME=xdg)
    # Piped on stdin, never on the command line.
    proc = run_opsctl("login", "--url", stack.url + "/", env=env, input=(tokens["admin"] + "\n").encode())
    assert proc.returncode == 0, show(proc)
    assert json.loads(proc.stdout)["role"] == "admin"
    leaked = contains(err(proc), tokens["admin"])
    assert not leaked, "login printed the token on stderr"
    config = xdg / "opsctl" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600, oct(config.stat().st_mode)
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    stored = json.loads(config.read_text())
    right = stored == {"url": stack.url, "token": tokens["admin"]}
    assert right, f"login stores the URL and the token, and nothing else: keys {sorted(stored)}"
    assert not (home / ".config").exists(), "XDG_CONFIG_HOME wins over HOME"
    # Later commands need neither OPSCTL_URL nor OPSCTL_TOKEN.
    assert out_json(run_opsctl("whoami", env=env))["role"] == "admin"
    assert out_json(run_opsctl("summary", env=env)).keys() == api_json(stack, tokens["admin"], "/api/ops/summary").keys()
    # Without XDG_CONFIG_HOME: ~/.config/opsctl/config.json.
    env2 = opsctl_env(home)
    assert run_opsctl("login", "--url", stack.url, env=env2, input=tokens["viewer"].encode()).returncode == 0
    assert stat.S_IMODE((home / ".config" / "opsctl" / "config.json").stat().st_mode) == 0o600
    assert out_json(run_opsctl("whoami", env=env2))["role"] == "viewer"
    # The stored token is not sent to another server named in OPSCTL_URL.
    other = opsctl_env(home, url=f"http://127.0.0.1:{free_port()}")
    assert_error_line(run_opsctl("summary", env=other), 3, "no_token", secrets_=[tokens["viewer"]])
    # A file others can read is refused, with how to fix it.
    config.chmod(0o644)
    line = assert_error_line(run_opsctl("whoami", env=env), 3, "config_permissions", secrets_=[tokens["admin"]])
    assert "chmod 600" in line, line
    config.chmod(0o600)
    assert run_opsctl("whoami", env=env).returncode == 0


def test_login_prompts_on_a_terminal_without_echo(stack, tokens, tmp_path):
    """On a terminal the token is typed at a prompt, and the terminal does not echo it."""
    import fcntl
    import select
    import termios
    master, slave = os.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    proc = subprocess.Popen([str(opsctl_binary()), "login", "--url", stack.url], env=opsctl_env(tmp_path),
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=controlling_terminal)
    os.close(slave)
    seen = b""

    def read_some(timeout):
        nonlocal seen
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:   # EIO: the child has gone
                return False
        return True
    try:
        deadline = time.monotonic() + 15
        while b"Token for" not in seen and time.monotonic() < deadline and read_some(0.5):
            pass
        assert b"Token for " + stack.url.encode() in seen, f"no prompt on the terminal: {seen!r}"
        os.write(master, tokens["admin"].encode() + b"\n")
        stdout, stderr = proc.communicate(timeout=30)
        while read_some(0.2):
            if not select.select([master], [], [], 0)[0]:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, f"exit {proc.returncode}: {stdout!r} {stderr!r}"
    echoed = contains(seen, tokens["admin"])
    assert not echoed, "the terminal echoed the token"
    assert json.loads(stdout)["role"] == "admin"
    config = tmp_path / ".config" / "opsctl" / "config.json"
    stored_right = json.loads(config.read_text())["token"] == tokens["admin"]
    assert stored_right, "login did not store the token typed at the prompt"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_readme_documents_opsctl():
    readme = (helpers.REPO / "README.md").read_text()
    if not re.search(r"^#+ opsctl", readme, re.M):
        pytest.skip("README.md has no opsctl section yet (the lead adds it when merging issue 9)")
    section = readme[re.search(r"^#+ opsctl", readme, re.M).start():]
    section = section[:re.search(r"^## ", section[3:], re.M).start() + 3] if re.search(r"^## ", section[3:], re.M) else section
    for needed in ("OPSCTL_URL", "OPSCTL_TOKEN", "OPSCTL_CACERT", "opsctl login", "--plain",
                   "--generate-completion-script", "config.json", "0600"):
        assert needed in section, f"README's opsctl section does not mention {needed}"
    for code in range(6):
        assert re.search(rf"^\|? *`?{code}`? *\|", section, re.M), f"README's opsctl section does not list exit code {code}"


def test_login_refuses_a_bad_token_and_keeps_the_old_file(stack, tokens, tmp_path):
    env = opsctl_env(tmp_path)
    assert run_opsctl("login", "--url", stack.url, env=env, input=tokens["admin"].encode()).returncode == 0
    config = tmp_path / ".config" / "opsctl" / "config.json"
    before = config.read_text()
    bad = helpers.remember_secret("ops_" + secrets.token_hex(32))
    proc = run_opsctl("login", "--url", stack.url, env=env, input=bad.encode())
    assert_error_line(proc, 3, "unauthenticated", secrets_=[bad])
    assert config.read_text() == before, "a refused token must not replace the stored one"
    empty = run_opsctl("login", "--url", stack.url, env=env, input=b"")
    assert_error_line(empty, 2, "no_token")
    # --token is not an option of login: a token never belongs on the command line.
    assert run_opsctl("login", "--url", stack.url, "--token", "x", env=env, input=b"").returncode == 2


# --- responses the stack does not give on demand: a local server of our own ----------------------


class FakeServer:
    """HTTP(S) on 127.0.0.1 answering every request with the configured (status, headers, body);
    records the requests it received (method, path, headers, body)."""

    def __init__(self, tls_context=None):
        self.answer = (200, {"Content-Type": "application/json"}, b"{}")
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "body": self.rfile.read(length) if length else b""})
                status, headers, body = outer.answer
                if callable(body):
                    body = body(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls_context else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    servers = []

    def make(tls_context=None):
        s = FakeServer(tls_context)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def envelope(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize("status,body,ctype,exit_code,code", [
    (503, envelope("database_unavailable", "The database is not reachable."), "application/json", 5, "database_unavailable"),
    (500, envelope("internal", "Something broke."), "application/json", 5, "internal"),
    (502, b"<html><body>Bad Gateway</body></html>", "text/html", 5, "http_502"),
    (429, envelope("rate_limited", "Slow down."), "application/json", 1, "rate_limited"),
    (409, envelope("conflict", "Already resolved."), "application/json", 1, "conflict"),
    (404, b"not here", "text/plain", 4, "http_404"),
    (403, envelope("forbidden", "Admins only."), "application/json", 3, "forbidden"),
    (302, b"", "text/plain", 1, "redirect"),
])
def test_status_to_exit_code_mapping(fake, home, status, body, ctype, exit_code, code):
    server = fake()
    token = "ops_" + secrets.token_hex(32)
    headers = {"Content-Type": ctype}
    if status == 302:
        headers["Location"] = "https://elsewhere.example/"
    server.answer = (status, headers, body)
    proc = run_opsctl("summary", env=opsctl_env(home, url=server.url, token=token))
    assert_error_line(proc, exit_code, code, secrets_=[token])
    assert len(server.requests) == 1, "opsctl must not follow a redirect (the token would go along)"
    sent = server.requests[0]["headers"]
    assert sent.get("Authorization") == f"Bearer {token}" and sent.get("User-Agent", "").startswith("opsctl/"), sent


def test_a_server_that_echoes_the_token_does_not_get_it_printed(fake, home):
    server = fake()
    token = "ops_" + secrets.token_hex(32)
    server.answer = (400, {"Content-Type": "application/json"},
                     lambda h: envelope("bad_header", f"bad header {h.headers['Authorization']}\nsecond line"))
    proc = run_opsctl("summary", env=opsctl_env(home, url=server.url, token=token))
    line = assert_error_line(proc, 1, "bad_header", secrets_=[token, token[4:]])
    assert "Bearer [redacted]" in line, line


def test_json_output_is_the_body_exactly(fake, home):
    server = fake()
    body = b'{"z": 1,   "a": [1.50, "\\u00e9"], "n": null}'
    server.answer = (200, {"Content-Type": "application/json"}, body)
    proc = run_opsctl("summary", env=opsctl_env(home, url=server.url, token="t"))
    assert proc.returncode == 0 and proc.stdout == body + b"\n", show(proc)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (its own CA) and the server's TLS context."""
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / "key.pem",
                    "-out", d / "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return d / "cert.pem", ctx


def test_tls_is_verified_and_cacert_trusts_a_self_signed_server(fake, home, self_signed):
    cert, ctx = self_signed
    server = fake(ctx)
    server.answer = (200, {"Content-Type": "application/json"}, b'{"subject":"s","role":"admin"}')
    token = "ops_" + secrets.token_hex(32)
    refused = run_opsctl("whoami", env=opsctl_env(home, url=server.url, token=token))
    assert_error_line(refused, 5, "tls", secrets_=[token])
    ok = run_opsctl("whoami", "--cacert", cert, env=opsctl_env(home, url=server.url, token=token))
    assert ok.returncode == 0 and json.loads(ok.stdout)["role"] == "admin", show(ok)
    via_env = run_opsctl("whoami", env=opsctl_env(home, url=server.url, token=token, OPSCTL_CACERT=cert))
    assert via_env.returncode == 0, show(via_env)
    missing = run_opsctl("whoami", "--cacert", home / "nope.pem", env=opsctl_env(home, url=server.url, token=token))
    assert_error_line(missing, 2, "bad_cacert")


HEALTH = {"status": "degraded", "timestamp": "2026-11-22T04:00:00Z",
          "modules": {"postgres": {"status": "healthy", "response_time_ms": 1.2, "error_count": 0},
                      "redis": {"status": "down", "response_time_ms": None, "error_count": 4}},
          "counts": {"healthy": 1, "down": 1}, "warnings": ["redis: connection refused"]}
ALERTS = {"alerts": [{"id": 41, "rule": "service_down", "severity": "critical", "state": "firing", "service": "redis",
                      "title": "redis is down", "value": None, "threshold": None,
                      "first_fired_at": "2026-11-22T03:00:00Z", "last_fired_at": "2026-11-22T04:00:00Z",
                      "fire_count": 3, "acknowledged_at": None, "acknowledged_by": None, "ack_note": None,
                      "resolved_at": None}],
          "counts": {"firing": 1, "acknowledged": 0, "resolved": 0}}


def test_health_and_alerts_speak_the_monitors_contract(fake, home):
    """Until the monitor's routes are merged, a stand-in with the documented shapes: the
    requests opsctl sends and how it prints the answers."""
    server = fake()
    env = opsctl_env(home, url=server.url, token="t")
    server.answer = (200, {"Content-Type": "application/json"}, json.dumps(HEALTH).encode())
    proc = run_opsctl("health", env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout) == HEALTH, show(proc)
    assert server.requests[-1]["path"] == "/api/monitoring/health"
    out = text(run_opsctl("health", "--plain", env=env))
    assert re.search(r"^status +degraded$", out, re.M), out
    table, _, rest = out.split("\n\n", 1)[1].partition("warning:")
    rows = assert_table(table.splitlines(), ["MODULE", "STATUS", "RESPONSE_MS", "ERRORS", "TREND", "CHECKED"])
    assert rows == [["postgres", "healthy", "1.2", "0", "-", "-"], ["redis", "down", "-", "4", "-", "-"]], rows
    assert "redis: connection refused" in rest, out

    server.answer = (200, {"Content-Type": "application/json"}, json.dumps(ALERTS).encode())
    proc = run_opsctl("alerts", "--state", "firing", "--limit", "10", env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout) == ALERTS, show(proc)
    assert server.requests[-1]["path"] == "/api/ops/alerts?state=firing&limit=10"
    assert run_opsctl("alerts", env=env).returncode == 0 and server.requests[-1]["path"] == "/api/ops/alerts"
    out = text(run_opsctl("alerts", "--plain", env=env))
    rows = assert_table(out.split("\n\n")[0].splitlines(),
                        ["ID", "SEVERITY", "STATE", "SERVICE", "RULE", "TITLE", "VALUE", "THRESHOLD", "FIRES", "LAST_FIRED"])
    assert rows == [["41", "critical", "firing", "redis", "service_down", "redis is down", "-", "-", "3",
                     "2026-11-22T04:00:00Z"]], rows

    acked = dict(ALERTS["alerts"][0], state="acknowledged", ack_note="on it")
    server.answer = (200, {"Content-Type": "application/json"}, json.dumps(acked).encode())
    proc = run_opsctl("alerts", "ack", "41", "--note", "on it", env=env)
    assert proc.returncode == 0 and json.loads(proc.stdout) == acked, show(proc)
    request = server.requests[-1]
    assert request["method"] == "POST" and request["path"] == "/api/ops/alerts/41/ack", request
    assert json.loads(request["body"]) == {"note": "on it"}, request["body"]
    assert request["headers"].get("Content-Type") == "application/json"
    assert run_opsctl("alerts", "ack", "41", env=env).returncode == 0
    assert json.loads(server.requests[-1]["body"]) == {}
    server.answer = (404, {"Content-Type": "application/json"}, envelope("not_found", "No alert 41."))
    assert_error_line(run_opsctl("alerts", "ack", "41", env=env), 4, "not_found")
    server.answer = (409, {"Content-Type": "application/json"}, envelope("conflict", "Alert 41 is resolved."))
    assert_error_line(run_opsctl("alerts", "ack", "41", env=env), 1, "conflict")
