"""opsctl's streaming commands against the real stack: `events` prints live ticker events (and
replays missed ones with --since), `logs --follow` prints each new line once, both end with
exit 0 on SIGINT, and neither the token nor anything else is handed to another process (the
token is in no command line: opsctl's own, or a child's, of which there are none).

A stand-in ticker of our own (TLS, 127.0.0.1) checks wss:// with --cacert and the close codes
that end `events` with exit 3."""

import datetime as dt
import json
import os
import queue
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import serve

import helpers
from activity_helpers import Ops, now, run
from test_opsctl import assert_error_line, contains, err, free_port, opsctl_binary, opsctl_env, run_opsctl, self_signed, show  # noqa: F401


class Streaming:
    """A running opsctl whose stdout lines are collected by a thread."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([str(opsctl_binary()), *map(str, args)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.queue.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.queue.put(None)

    def collect(self):
        while True:
            try:
                line = self.queue.get_nowait()
            except queue.Empty:
                return self.lines
            if line is not None:
                self.lines.append(line)

    def wait_for(self, predicate, timeout, what, poke=None):
        """Wait until some collected line satisfies predicate; poke() is called now and then."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.collect():
                if predicate(line):
                    return line
            if self.proc.poll() is not None:
                self.collect()
                raise AssertionError(f"opsctl exited ({self.proc.returncode}) before {what}; "
                                     f"stdout {self.lines[-5:]!r}, stderr {self.proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not seen within {timeout} s; last lines {self.lines[-5:]!r}")
            if poke:
                poke()
            time.sleep(0.2)

    def interrupt(self):
        """SIGINT by pid; returns (exit status, stderr)."""
        os.kill(self.proc.pid, signal.SIGINT)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("opsctl did not end within 15 s of SIGINT")
        self.thread.join(5)
        self.collect()
        return rc, self.proc.stderr.read().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def streams():
    started = []

    def start(args, env):
        s = Streaming(args, env)
        started.append(s)
        return s
    yield start
    for s in started:
        s.kill()


def children(pid):
    """Every process whose parent is pid, recursively."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child] + children(child)
    return found


def assert_token_in_no_command_line(pid, token):
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert cmdline.split(b"\0")[0].endswith(b"opsctl"), cmdline
    leaked = contains(cmdline, token) or contains(cmdline, token[4:])
    assert not leaked, "the token is in opsctl's command line"
    kids = children(pid)
    for kid in kids:
        leaked = contains(Path(f"/proc/{kid}/cmdline").read_bytes(), token)
        assert not leaked, f"child {kid} has the token in argv"
    assert kids == [], f"opsctl should start no processes; it has children {kids}"


def event(line):
    frame = json.loads(line)
    assert frame["v"] == 1 and frame["type"] == "ops_event" and frame["topic"] == "ops:events", frame
    assert isinstance(frame["id"], int) and isinstance(frame["ts"], int) and isinstance(frame["data"], dict), frame
    return frame


# --- events -------------------------------------------------------------------------------------


def test_events_prints_live_run_events_and_ends_on_sigint(stack, tokens, tmp_path, streams):
    ops = Ops(stack.env)
    env = opsctl_env(tmp_path, url=stack.url, token=tokens["admin"])
    s = streams(["events"], env)
    tag = secrets.token_hex(4)
    sent = []

    def start_a_run():
        # Until opsctl has subscribed, an event may pass it by: keep starting new runs.
        if not sent or time.monotonic() - sent[-1][1] > 0.5:
            rid = f"opsctl-ev-{tag}-{len(sent)}"
            t = now()
            ops.ingest_ok([run(rid, "opsctl-agent", "running", t, started_at=t, user_id="opsctl-user")])
            sent.append((rid, time.monotonic()))

    ours = {f"opsctl-ev-{tag}-{i}" for i in range(200)}
    line = s.wait_for(lambda l: json.loads(l).get("data", {}).get("run_id") in ours, 20,
                      "a run_started event of ours from `opsctl events`", poke=start_a_run)
    started = event(line)
    assert started["data"]["type"] == "run_started", started
    rid = started["data"]["run_id"]
    # The run finishes: run_success follows, live.
    t = now()
    ops.ingest_ok([run(rid, "opsctl-agent", "success", t - dt.timedelta(seconds=2), started_at=t - dt.timedelta(seconds=2),
                       finished_at=t, user_id="opsctl-user")])
    done = event(s.wait_for(lambda l: json.loads(l).get("data", {}).get("run_id") == rid
                            and json.loads(l)["data"].get("type") == "run_success", 15, "run_success of our run"))
    assert done["id"] > started["id"]
    assert_token_in_no_command_line(s.proc.pid, tokens["admin"])
    rc, stderr = s.interrupt()
    assert rc == 0, f"SIGINT should end `opsctl events` with exit 0, got {rc}; stderr {stderr!r}"
    leaked = contains(stderr, tokens["admin"])
    assert not leaked, "the token is in the stderr of `opsctl events`"
    for l in s.lines:
        event(l)
    ids = [json.loads(l)["id"] for l in s.lines]
    assert ids == sorted(set(ids)), "events are printed once each, in order"
    ops.http.close()


def test_events_since_replays_what_was_missed_and_count_ends_it(stack, tokens, tmp_path, streams):
    ops = Ops(stack.env)
    before = ops.max_event_id()
    tag = secrets.token_hex(4)
    t = now()
    rids = [f"opsctl-since-{tag}-{i}" for i in range(3)]
    ops.ingest_ok([run(r, "opsctl-agent", "running", t, started_at=t, user_id="opsctl-user") for r in rids])
    env = opsctl_env(tmp_path, url=stack.url, token=tokens["admin"])
    s = streams(["events", "--since", before], env)
    for r in rids:
        s.wait_for(lambda l, r=r: json.loads(l).get("data", {}).get("run_id") == r, 15, f"the replayed event of {r}")
    rc, stderr = s.interrupt()
    assert rc == 0, stderr
    frames = [event(l) for l in s.lines]
    assert all(f["id"] > before for f in frames), "nothing before --since is replayed"
    ids = [f["id"] for f in frames]
    assert ids == sorted(set(ids)), f"in order, once each: {ids}"
    ours = [f["data"]["run_id"] for f in frames if f["data"].get("run_id") in rids]
    assert ours == rids, f"our three runs, in the order they were ingested: {ours}"
    # --count: exits 0 by itself after that many events.
    proc = run_opsctl("events", "--since", before, "--count", "2", env=env, timeout=30)
    assert proc.returncode == 0, show(proc)
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 2 and all(event(l)["id"] > before for l in lines), lines
    ops.http.close()


def test_events_refused_tokens_exit_3(stack, tokens, tmp_path):
    viewer = run_opsctl("events", env=opsctl_env(tmp_path, url=stack.url, token=tokens["viewer"]), timeout=30)
    line = assert_error_line(viewer, 3, "forbidden", secrets_=[tokens["viewer"]])
    assert "4403" in line, line
    bad = helpers.remember_secret("ops_" + secrets.token_hex(32))
    refused = run_opsctl("events", env=opsctl_env(tmp_path, url=stack.url, token=bad), timeout=30)
    assert_error_line(refused, 3, "unauthenticated", secrets_=[bad])


class FakeTicker:
    """A WebSocket server on 127.0.0.1 (TLS when given a context) that plays a script per
    connection: "refuse" (HTTP 401), "event" (subscribed, then one event), "forbid" (error
    frame, close 4403)."""

    def __init__(self, ssl_context, token):
        self.token = token
        self.mode = "event"
        self.subscriptions = []
        self.headers = []

        def process_request(connection, request):
            self.headers.append(dict(request.headers.raw_items()))
            if self.mode == "refuse" or request.headers.get("Authorization") != f"Bearer {token}":
                body = json.dumps({"error": {"code": "unauthenticated", "message": "No valid credentials."}}).encode()
                return Response(401, "Unauthorized", Headers([("Content-Type", "application/json"),
                                                               ("Content-Length", str(len(body)))]), body)
            return None

        def handler(ws):
            self.subscriptions.append(json.loads(ws.recv(timeout=10)))
            if self.mode == "forbid":
                ws.send(json.dumps({"v": 1, "type": "error", "error": {"code": "forbidden", "message": "Admins only."}}))
                ws.close(4403, "admins only")
                return
            ws.send(json.dumps({"v": 1, "type": "subscribed", "topics": ["ops:events"], "last_event_id": 41}))
            ws.send(json.dumps({"v": 1, "type": "ops_event", "topic": "ops:events", "id": 42, "ts": 1,
                                "data": {"type": "run_started", "run_id": "fake-1"}}))
            try:
                ws.recv(timeout=10)
            except Exception:
                pass

        self.server = serve(handler, "127.0.0.1", 0, ssl=ssl_context, process_request=process_request)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()


def test_events_over_wss_with_cacert_and_close_codes(tmp_path, self_signed):
    cert, ctx = self_signed
    token = "ops_" + secrets.token_hex(32)
    ticker = FakeTicker(ctx, token)
    try:
        url = f"https://127.0.0.1:{ticker.port}"
        env = opsctl_env(tmp_path, url=url, token=token)
        # TLS is verified: without the CA the connection fails (exit 5) …
        assert_error_line(run_opsctl("events", env=env, timeout=30), 5, "tls", secrets_=[token])
        # … and with it, wss:// works.
        proc = run_opsctl("events", "--cacert", cert, "--count", "1", env=env, timeout=30)
        assert proc.returncode == 0, show(proc)
        assert json.loads(proc.stdout) == {"v": 1, "type": "ops_event", "topic": "ops:events", "id": 42, "ts": 1,
                                           "data": {"type": "run_started", "run_id": "fake-1"}}
        assert ticker.subscriptions[-1] == {"type": "subscribe", "topics": ["ops:events"]}, ticker.subscriptions
        assert ticker.headers[-1].get("Authorization") == f"Bearer {token}"
        assert proc.stderr == b"", err(proc)
        ticker.mode = "forbid"
        line = assert_error_line(run_opsctl("events", "--cacert", cert, env=env, timeout=30), 3, "forbidden",
                                 secrets_=[token])
        assert "4403" in line
        ticker.mode = "refuse"
        assert_error_line(run_opsctl("events", "--cacert", cert, env=env, timeout=30), 3, "unauthenticated",
                          secrets_=[token])
    finally:
        ticker.close()


# --- logs --follow --------------------------------------------------------------------------------


def test_logs_follow_prints_new_lines_once_and_ends_on_sigint(stack, tokens, tmp_path, streams):
    env = opsctl_env(tmp_path, url=stack.url, token=tokens["admin"])
    as_json = streams(["logs", "nginx-access", "--follow", "--interval", "0.5", "--tail", "1"], env)
    as_plain = streams(["logs", "nginx-access", "--follow", "--interval", "0.5", "--tail", "1", "--plain"], env)
    # Both have printed what was there (and so made their first request) before the markers.
    as_json.wait_for(lambda l: True, 15, "the first line of `logs --follow`")
    as_plain.wait_for(lambda l: l.startswith("TS "), 15, "the header of `logs --follow --plain`")
    markers = [f"opsctl-follow-{secrets.token_hex(4)}-{i}" for i in range(3)]
    for m in markers:
        requests.get(f"{stack.url}/api/ops/ping", params={"m": m}, timeout=helpers.TIMEOUT)
    for s in (as_json, as_plain):
        s.wait_for(lambda l: markers[-1] in l, 20, "the last marker request in `logs --follow`")
        # Several more polls go by (each poll is itself a new access-log line) …
        seen = len(s.collect())
        s.wait_for(lambda l, n=seen: len(s.lines) >= n + 3, 20, "three more lines after the markers")
    assert_token_in_no_command_line(as_json.proc.pid, tokens["admin"])
    assert_token_in_no_command_line(as_plain.proc.pid, tokens["admin"])
    for s in (as_json, as_plain):
        rc, stderr = s.interrupt()
        assert rc == 0, f"SIGINT should end `logs --follow` with exit 0, got {rc}; stderr {stderr!r}"
        leaked = contains(stderr, tokens["admin"])
        assert not leaked, "the token is in the stderr of `logs --follow`"
        # … and still every marker was printed exactly once, in order.
        hits = [next(m for m in markers if m in l) for l in s.lines if any(m in l for m in markers)]
        assert hits == markers, f"each marker once, in order: {hits}"
    for l in as_json.lines:
        entry = json.loads(l)
        assert entry.keys() == {"ts", "level", "message"}, entry
    assert as_plain.lines[0].split() == ["TS", "LEVEL", "MESSAGE"]
    assert sum(1 for l in as_plain.lines if l.startswith("TS ")) == 1, "the header is printed once"
    column = as_plain.lines[0].index("MESSAGE")
    for l in as_plain.lines[1:]:
        assert l[column - 2:column] == "  " and l[column] != " ", f"not aligned with the header: {l!r}"


def test_logs_follow_with_a_bad_token_or_service_exits_at_once(stack, tokens, tmp_path):
    env = opsctl_env(tmp_path, url=stack.url, token=tokens["admin"])
    assert_error_line(run_opsctl("logs", "no-such-service", "--follow", env=env, timeout=30), 4, "unknown_service",
                      secrets_=[tokens["admin"]])
    bad = helpers.remember_secret("ops_" + secrets.token_hex(32))
    assert_error_line(run_opsctl("logs", "workers", "--follow", env=opsctl_env(tmp_path, url=stack.url, token=bad),
                                 timeout=30), 3, "unauthenticated", secrets_=[bad])
