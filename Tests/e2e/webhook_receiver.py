"""A local stand-in for a Discord webhook, for the monitor's notification tests.

`WebhookReceiver()` listens on 127.0.0.1 (a free port) in a thread of the test process and
records every request: arrival time, path, headers, body, and how it was answered. Answers
follow a script of actions, taken one per request in order; when the script is empty the
`default` action answers (204 unless changed):

    ok(status=204, headers=None)              a success, optionally with X-RateLimit-* headers
    rate_limited(retry_after=1.5, glob=False) 429 with Discord's JSON body and headers
    fail(status=500)                          an error status
    hang(seconds)                             no answer for `seconds` (longer than the client's
                                              timeout: the client gives up; not a delivery)

A request counts as *delivered* when it was answered 2xx and not hung: that is what Discord
would have posted to the channel. `alert_ids(req)` reads the alert ids out of a delivered
message (each embed's footer "Opsplane alert #<id> · <event>").

Also here, for the alert and Discord tests (test_monitor_alerts*.py, test_monitor_discord*.py):
`MonitorProcess`, an `opsplane monitor` of the test's own (its own OPS_MONITOR_LOCK and
configuration file, Discord variables as given), stopped by pid; `webhook_hash(url)`, the
outbox's name of a webhook; `outbox_rows(...)`, alert changes written straight into
ops.notification_outbox in the payload format of AlertStore.
"""

import collections
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def ok(status=204, headers=None):
    return ("ok", status, dict(headers or {}))


def rate_limited(retry_after=1.5, glob=False, headers=None):
    h = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
         "X-RateLimit-Reset-After": str(retry_after), "Retry-After": str(int(retry_after + 0.999))}
    h.update(headers or {})
    return ("429", retry_after, glob, h)


def fail(status=500):
    return ("fail", status)


def hang(seconds):
    return ("hang", seconds)


FOOTER_RE = re.compile(r"Opsplane alert #(\d+) · (\w+)")


class Received:
    """One request as the receiver saw it."""

    def __init__(self, path, headers, body, arrived):
        self.path = path
        self.headers = headers
        self.body = body
        self.arrived = arrived          # time.monotonic() when the request was read
        self.answered = None            # time.monotonic() when the answer was written
        self.status = None
        self.hung = False

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def delivered(self):
        return self.status is not None and 200 <= self.status < 300 and not self.hung

    def __repr__(self):
        return f"<{self.status}{' hung' if self.hung else ''} {self.body[:120]!r}>"


class WebhookReceiver:
    def __init__(self, default=None):
        self.requests = []
        self.script = collections.deque()
        self.default = default or ok()
        self.lock = threading.Lock()
        self.token = secrets.token_hex(8)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                rec = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                               time.monotonic())
                with receiver.lock:
                    receiver.requests.append(rec)
                    action = receiver.script.popleft() if receiver.script else receiver.default
                try:
                    receiver._answer(self, rec, action)
                except (BrokenPipeError, ConnectionResetError):
                    rec.hung = True   # the client was gone before the answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/api/webhooks/4242/{self.token}"

    def _answer(self, handler, rec, action):
        kind = action[0]
        if kind == "hang":
            time.sleep(action[1])
            rec.hung = True
            self._write(handler, rec, 204, {}, b"")
            return
        if kind == "ok":
            self._write(handler, rec, action[1], action[2], b"")
        elif kind == "429":
            body = json.dumps({"message": "You are being rate limited.", "retry_after": action[1],
                               "global": action[2]}).encode()
            self._write(handler, rec, 429, {"Content-Type": "application/json", **action[3]}, body)
        elif kind == "fail":
            body = json.dumps({"message": "Internal Server Error", "code": 0}).encode()
            self._write(handler, rec, action[1], {"Content-Type": "application/json"}, body)

    @staticmethod
    def _write(handler, rec, status, headers, body):
        handler.send_response(status)
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)
        handler.wfile.flush()
        rec.answered = time.monotonic()
        if rec.status is None:
            rec.status = status

    # Script ------------------------------------------------------------------------------------
    def then(self, *actions):
        with self.lock:
            self.script.extend(actions)
        return self

    def set_default(self, action):
        with self.lock:
            self.default = action

    # Reading -----------------------------------------------------------------------------------
    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def delivered(self):
        return [r for r in self.snapshot() if r.delivered]

    @staticmethod
    def alert_ids(rec):
        """[(alert_id, event)] of the embeds of one message."""
        out = []
        for embed in rec.json.get("embeds", []):
            m = FOOTER_RE.search((embed.get("footer") or {}).get("text", ""))
            if m:
                out.append((int(m.group(1)), m.group(2)))
        return out

    def delivered_alerts(self):
        """Every (alert_id, event) delivered, in order, duplicates included."""
        return [pair for rec in self.delivered() for pair in self.alert_ids(rec)]

    def digests(self):
        return [r for r in self.delivered()
                if any((e.get("title") or "").startswith("Daily digest") for e in r.json.get("embeds", []))]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# Monitor processes ---------------------------------------------------------------------------

def webhook_hash(url):
    """How ops.notification_outbox names a webhook: the SHA-256 of its URL, never the URL."""
    return hashlib.sha256(url.encode()).hexdigest()


def wait_for(probe, timeout, what, interval=0.1):
    """probe() until truthy (exceptions count as not yet); its value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - a probe that raises is "not yet"
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s (last: {last!r})")
        time.sleep(interval)


class MonitorProcess:
    """`opsplane monitor` with a configuration and environment of the test's own.

    Its OPS_MONITOR_LOCK is unique unless `lock` is given, so it acts next to the stack's own
    monitor; DISCORD_* come only from the arguments (never from the caller's environment).
    """

    def __init__(self, binary, stack_env, config, workdir, lock=None, webhook_url="", enable=True,
                 digest_cron="0 0 1 1 *", dashboard_url="http://dashboard.example/admin/ops/", **extra_env):
        self.binary = str(binary)
        self.config_path = os.path.join(str(workdir), f"monitor-{secrets.token_hex(4)}.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.lock = lock or f"e2e-alerts-{secrets.token_hex(6)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPS_", "DISCORD_", "DAILY_"))}
        env.update({k: v for k, v in stack_env.items() if k.startswith(("OPS_", "DAILY_"))})
        env.update(OPS_MONITOR_CONFIG=self.config_path, OPS_MONITOR_LOCK=self.lock, OPS_DASHBOARD_URL=dashboard_url,
                   DISCORD_WEBHOOK_URL=webhook_url, DISCORD_ENABLE_ALERTS="true" if enable else "false",
                   DISCORD_DAILY_DIGEST_CRON=digest_cron, OPS_SHUTDOWN_GRACE_S="5")
        env.update({k: str(v) for k, v in extra_env.items()})
        self.env = env
        self.workdir = str(workdir)
        self.procs = []
        self.log_path = None

    def start(self, wait_active=True):
        self.log_path = os.path.join(self.workdir, f"monitor-{self.lock}-{secrets.token_hex(3)}.log")
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen([self.binary, "monitor"], env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        if wait_active:
            wait_for(lambda: proc.poll() is not None or "monitor lock acquired" in self.log(),
                     20, f"monitor {self.lock} taking its lock")
            assert proc.poll() is None, f"the monitor exited with {proc.returncode}:\n{self.log()[-3000:]}"
        return proc

    @property
    def proc(self):
        return self.procs[-1]

    @property
    def instance(self):
        return f"{socket.gethostname()}:{self.proc.pid}"

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        """Signal the current process (SIGKILL: no chance to hand anything back) and reap it."""
        proc = self.proc
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            proc.wait(20)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def alert_payload(alert_id, title, event="fired", severity="warning", service="e2e-service", rule="e2e_rule"):
    """An outbox payload as AlertStore writes it."""
    return {"event": event, "alert_id": alert_id, "rule": rule, "severity": severity, "title": title,
            "service": service, "value": 150, "threshold": 100, "value_text": "150 jobs", "threshold_text": "> 100 jobs",
            "fire_count": 1, "at": "2030-01-01T00:00:00Z"}


def outbox_rows(stack, url, payloads, tag):
    """Queue alert notifications for the webhook `url` directly; returns their outbox ids."""
    out = stack.sql(
        "INSERT INTO ops.notification_outbox (webhook, kind, dedupe_key, payload) "
        "SELECT :'webhook', 'alert', :'tag' || ':' || (e->>'alert_id') || ':' || (e->>'event'), e "
        "FROM jsonb_array_elements(:'rows'::jsonb) AS e RETURNING id;",
        webhook=webhook_hash(url), tag=tag, rows=json.dumps(payloads))
    return [int(x) for x in out.split()]
