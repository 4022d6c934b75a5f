"""Helpers for the monitor's health end-to-end tests (issue 6): our own `opsplane monitor`
processes with their own lock and configuration, a local HTTP server that can be made slow,
failing or silent, a private redis-server, and JSON reads from Postgres.

Results are read from the database tables the monitor writes (ops.service_status,
ops.probe_samples, ops.system_errors, ops.capacity_samples, ops.monitor_instances, ...), not
through the API, whose monitoring routes are written separately.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import activity_helpers
import helpers

REPO = helpers.REPO


def unique(prefix="hc"):
    """A name no other test (or the stack's own monitor) uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check, timeout=30.0, interval=0.3):
    """activity_helpers.eventually with the monitor's longer defaults (probes run on intervals)."""
    return activity_helpers.eventually(check, timeout, interval)


# --- Postgres ---------------------------------------------------------------------------------

class DB:
    """psql against the stack's database; `rows(sql, name=value)` returns a list of dicts."""

    def __init__(self, url):
        self.url = url

    def run(self, statement, **variables):
        cmd = ["psql", self.url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            cmd += ["-v", f"{name}={value}"]
        proc = subprocess.run(cmd, input=statement, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"psql failed ({proc.returncode}): {proc.stderr}\nSQL: {statement}"
        return proc.stdout

    def rows(self, query, **variables):
        """Rows of `query` as dicts (through json_agg, so jsonb columns arrive parsed)."""
        out = self.run(f"SELECT coalesce(json_agg(q), '[]') FROM ({query}) q;\n", **variables).strip()
        return json.loads(out or "[]")

    def row(self, query, **variables):
        rows = self.rows(query, **variables)
        return rows[0] if rows else None

    def status(self, service):
        return self.row("SELECT * FROM ops.service_status WHERE service = :'s'", s=service)


# --- our own monitor ----------------------------------------------------------------------------

class MonitorProcess:
    """`opsplane monitor` with its own config file and lock name; logs to a file."""

    def __init__(self, env, config, lock, log_path, extra_env=None):
        self.config_path = Path(tempfile.mkstemp(prefix="ops-monitor-", suffix=".json")[1])
        self.config_path.write_text(json.dumps(config, indent=2))
        os.chmod(self.config_path, 0o600)
        self.log_path = Path(log_path)
        self.lock = lock
        full = dict(os.environ)
        full.update({k: v for k, v in env.items() if k.startswith("OPS_")})
        full.update({"OPS_MONITOR_LOCK": lock, "OPS_MONITOR_CONFIG": str(self.config_path),
                     # Alerts and Discord are not what these tests look at.
                     "DISCORD_ENABLE_ALERTS": "false", "DISCORD_WEBHOOK_URL": ""})
        full.update(extra_env or {})
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([str(helpers.opsplane_binary()), "monitor"], env=full, cwd=REPO,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        return helpers.tail(self.log_path, 40)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.config_path.unlink(missing_ok=True)
        return self.proc.returncode


class Monitors:
    """Starts monitors for a test module and stops every one of them at the end."""

    def __init__(self, stack, log_dir):
        self.stack = stack
        self.log_dir = Path(log_dir)
        self.started = []

    def start(self, services, lock=None, data_directories=None, extra_env=None):
        config = {"services": services}
        if data_directories is not None:
            config["data_directories"] = data_directories
        lock = lock or unique("hc-lock")
        m = MonitorProcess(self.stack.env, config, lock, self.log_dir / f"monitor-{len(self.started)}.log", extra_env)
        self.started.append(m)
        return m

    def stop_all(self):
        for m in self.started:
            m.stop()


def wait_active(db, monitor, timeout=30):
    """Waits until `monitor` says it holds its lock (ops.monitor_instances)."""
    def check():
        assert monitor.alive(), f"monitor pid {monitor.pid} exited:\n{monitor.log()}"
        r = instance_row(db, monitor)
        assert r is not None and r["active"], f"monitor pid {monitor.pid} not active yet: {r}"
    eventually(check, timeout)


def instance_row(db, monitor):
    """The monitor's row in ops.monitor_instances (by pid: the instance is `host:pid`)."""
    return db.row("SELECT * FROM ops.monitor_instances WHERE pid = :'p' ORDER BY started_at DESC LIMIT 1",
                  p=monitor.pid)


def wait_status(db, service, expected, timeout=30, monitor=None):
    """Waits until the service's status is `expected` (a string or a set); returns the row."""
    want = {expected} if isinstance(expected, str) else set(expected)

    def check():
        if monitor is not None:
            assert monitor.alive(), f"monitor pid {monitor.pid} exited:\n{monitor.log()}"
        r = db.status(service)
        assert r is not None and r["status"] in want, (
            f"{service}: expected status {sorted(want)}, have {r}"
            + (f"\nmonitor log:\n{monitor.log()}" if monitor is not None else ""))
        return r
    return eventually(check, timeout)


def forget_services(db, like):
    """Removes what monitors wrote about services named LIKE `like` (stop those monitors first),
    so later tests and the API see only the stack's own services."""
    db.run("""
    DELETE FROM ops.monitor_services WHERE name LIKE :'p';
    DELETE FROM ops.service_status WHERE service LIKE :'p';
    DELETE FROM ops.probe_samples WHERE service LIKE :'p';
    DELETE FROM ops.probe_rollups WHERE service LIKE :'p';
    DELETE FROM ops.system_errors WHERE service LIKE :'p';
    """, p=like)


def http_service(name, url, **fields):
    s = {"name": name, "kind": "http", "target": url, "interval_s": 1, "timeout_ms": 1000}
    s.update(fields)
    return s


# --- a local HTTP server that does what it is told ------------------------------------------------

class TargetServer:
    """Answers GET /<path> as set in `behaviour[path]`: ("ok",), ("status", code),
    ("slow", seconds) or ("hang", seconds); counts requests per path."""

    def __init__(self):
        self.behaviour = {}
        self.hits = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path.split("?")[0]
                with server.lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    what = server.behaviour.get(path, ("status", 404))
                if what[0] in ("slow", "hang"):
                    time.sleep(what[1])
                code = what[1] if what[0] == "status" else 200
                body = b'{"ok":true}' if code < 400 else b'{"error":"told to fail"}'
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the probe gave up (timeout)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path, *what):
        with self.lock:
            self.behaviour[path] = what

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- a private redis-server ----------------------------------------------------------------------

class Redis:
    def __init__(self, workdir):
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (deploy/install-deps.sh installs it)"
        self.port = free_port()
        self.log = Path(workdir) / "redis.log"
        self.proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(workdir), "--maxmemory", "16mb"],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        eventually(lambda: self._assert_answers(), timeout=10, interval=0.1)

    def _assert_answers(self):
        try:
            assert self.command("PING") == b"+PONG\r\n"
        except OSError as exc:
            raise AssertionError(f"redis on {self.port} not answering: {exc}") from None

    def command(self, *parts):
        """Sends one command; returns the raw reply bytes (enough for the short replies used)."""
        payload = f"*{len(parts)}\r\n".encode()
        for p in parts:
            b = str(p).encode()
            payload += f"${len(b)}\r\n".encode() + b + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(payload)
            return s.recv(65536)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# --- the scheduler's start offsets (ProbeSchedule.startOffset), to pick a late first check ---------

def start_offset(name, interval):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return (h % 1_000_000) / 1_000_000 * min(interval, 30.0)


def name_with_late_start(prefix, interval, at_least=25.0):
    """A unique service name whose first check comes at least `at_least` s after activation."""
    while True:
        name = unique(prefix)
        if start_offset(name, interval) >= at_least:
            return name


# --- fixtures (imported by the test modules: `from monitor_health_helpers import db, monitors`) ---

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def db(stack):
    return DB(stack.env["OPS_DATABASE_URL"])


@pytest.fixture(scope="module")
def monitors(stack, tmp_path_factory):
    m = Monitors(stack, tmp_path_factory.mktemp("monitors"))
    yield m
    m.stop_all()


@pytest.fixture(scope="module")
def target():
    server = TargetServer()
    yield server
    server.close()
