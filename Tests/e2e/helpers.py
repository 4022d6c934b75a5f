"""Plain helpers shared by the end-to-end tests (fixtures live in conftest.py)."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import fcgi_client

REPO = Path(__file__).resolve().parents[2]

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TIMEOUT = 10


class RawResponse:
    """What a client saw: status, headers (lower-case names), body bytes."""

    def __init__(self, status, headers, body):
        self.status_code = status
        self.headers = headers
        self.content = body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def raw_request(base_url, method, target, headers=None, body=None, timeout=TIMEOUT, source=None):
    """Send the request target exactly as given (no URL normalisation or re-quoting).

    `requests` re-quotes invalid percent-escapes and removes dot segments, which would hide
    the very inputs these tests are about. A body that is an iterator goes out chunked.
    `source`: the client address to connect from (see fresh_client_address).
    """
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def describe(resp):
    """One line describing a response the way a user would have seen it."""
    status = getattr(resp, "status_code", None)
    ctype = resp.headers.get("content-type", "?")
    text = resp.text if len(resp.text) < 300 else resp.text[:300] + "…"
    return f"HTTP {status} ({ctype}): {text!r}"


def assert_error_envelope(resp, status, code=None):
    """Assert the response is `status` with body {"error":{"code","message"}} (code if given)."""
    assert resp.status_code == status, f"expected HTTP {status}, the client saw {describe(resp)}"
    ctype = resp.headers.get("content-type", "")
    assert "application/json" in ctype, f"error is not JSON (Content-Type {ctype!r}): {describe(resp)}"
    body = parse_json(resp)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), \
        f'error body is not {{"error":{{...}}}}: {describe(resp)}'
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], f"error envelope has no code: {describe(resp)}"
    assert isinstance(err.get("message"), str) and err["message"].strip(), \
        f"error envelope has no human message: {describe(resp)}"
    if code is not None:
        assert err["code"] == code, f"expected error code {code!r}, got {err['code']!r}: {describe(resp)}"
    return err


def parse_json(resp):
    try:
        return json.loads(resp.content)
    except ValueError:
        raise AssertionError(f"body is not JSON: {describe(resp)}") from None


def wait_until(probe, timeout, interval=0.25, what="condition"):
    """Call probe() until it returns a truthy value; return it, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except Exception as exc:  # a probe that raises counts as "not yet"
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s (last: {last!r})")
        time.sleep(interval)


def wait_for_status(fetch, status, timeout, what):
    """Call fetch() until the response has `status`; return that response."""
    seen = []

    def probe():
        seen[:] = [fetch()]
        return seen[0].status_code == status
    try:
        wait_until(probe, timeout, what=what)
    except AssertionError:
        last = describe(seen[0]) if seen else "no answer"
        raise AssertionError(f"{what}: not reached within {timeout} s; last answer: {last}") from None
    return seen[0]


def process_alive(pid):
    """True when the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def worker_answers(socket_path):
    """Ask one worker, on its own socket and bypassing nginx, for /api/ops/ping."""
    return fcgi_client.request(socket_path, "GET", "/api/ops/ping", timeout=5)


def parse_env_file(path):
    """Read KEY=VALUE lines (optionally `export`, optionally quoted) as written to run.env."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


# Worker processes -------------------------------------------------------------------------------

def opsplane_binary():
    path = Path(os.environ.get("OPSPLANE_BIN", REPO / ".build" / "release" / "opsplane"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it with `swift build -c release` (or set OPSPLANE_BIN)")
    return path


def wait_for_socket(path, proc=None, timeout=15):
    def ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode} before listening on {path}")
        resp = worker_answers(str(path))
        return resp is not None and resp.status == 200
    wait_until(ready, timeout, what=f"worker answering on {path}")


class ProcessSnapshot:
    """How a running process was started (argv, environment, cwd), to start it again the same way."""

    def __init__(self, pid):
        self.pid = pid
        self.argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        self.env = dict(item.split(b"=", 1) for item in
                        Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item)
        self.cwd = os.readlink(f"/proc/{pid}/cwd")

    def start(self, log_path):
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return proc


def stop_process(proc, timeout=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)



# Client addresses ------------------------------------------------------------------------------

def fresh_client_address():
    """A loopback address of its own (127.x.y.z; Linux answers the whole 127/8 on `lo`).

    nginx rate-limits sign-in per client address. Tests that sign in connect from an address
    of their own, so they neither use up each other's attempts nor meet the 429 that the
    rate-limit test provokes, and the production limits need no test-only knob.
    """
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


# Routes, tokens and JWTs ------------------------------------------------------------------------

ACCESS_VALUES = ("public", "authenticated", "admin", "ingest")


def opsplane_routes():
    """The route table as the binary declares it: [{"method","path","access","summary"}]."""
    proc = subprocess.run([str(opsplane_binary()), "routes"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"`opsplane routes` failed with exit {proc.returncode}: {proc.stderr}"
    routes = json.loads(proc.stdout)
    assert routes, "`opsplane routes` lists no route"
    return routes


def fill_path(pattern, value="999999"):
    """/api/ops/tokens/{id}/revoke -> /api/ops/tokens/999999/revoke"""
    return re.sub(r"\{[^/}]+\}", value, pattern)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# Every credential a test sends is remembered here; the log audit (test_access_zz_logs.py)
# greps the stack's logs for all of them after the suite.
SECRETS_USED = set()


def remember_secret(value):
    if value:
        SECRETS_USED.add(value)
    return value


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(secret, claims, alg="HS256", header=None):
    """An HS256 JWT signed with `secret` (alg "none": no signature, as an attacker would send)."""
    head = header if header is not None else {"alg": alg, "typ": "JWT"}
    segment = lambda obj: b64url(json.dumps(obj, separators=(",", ":")).encode())
    signing_input = segment(head) + "." + segment(claims)
    if alg == "none":
        return remember_secret(signing_input + ".")
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return remember_secret(signing_input + "." + b64url(sig))


def jwt_claims(sub, lifetime=600, **extra):
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + lifetime}
    claims.update(extra)
    return claims


def cookie_from(resp, name):
    """(value, {attribute: value}) of the response's Set-Cookie for `name`, else None.

    Read by hand: the session cookie is `Secure`, and requests' cookie jar (rightly) never
    sends a Secure cookie over the plain http:// of the test stack. The workers send one
    Set-Cookie at most; attribute names are lower-cased.
    """
    pieces = [p.strip() for p in resp.headers.get("set-cookie", "").split(";")]
    if not pieces or "=" not in pieces[0]:
        return None
    key, value = pieces[0].split("=", 1)
    if key.strip() != name:
        return None
    attrs = {}
    for p in pieces[1:]:
        k, _, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip()
    return value, attrs
