"""Fixtures for the end-to-end tests: they run against a stack that is already up.

`make test` starts an isolated stack, exports its run.env and runs these tests. By hand:

    STATE=.opsplane-e2e PORT=18180 deploy/stack.sh up
    set -a; . .opsplane-e2e/run.env; set +a
    python3 -m pytest -q Tests/e2e
    STATE=.opsplane-e2e PORT=18180 deploy/stack.sh down

(`STATE=.opsplane-e2e python3 -m pytest -q Tests/e2e` also works: run.env is read from $STATE.)
Tests marked `disruptive` (Postgres outage, SIGTERM) run after the others and put the stack back
as they found it: Postgres started again, a stopped worker restarted with its own command line.
Tests marked `last` (the log audit for leaked secrets) run after those.

The access-control tests sign host-app JWTs with OPS_JWT_HS256_SECRET and use the cookie named
by OPS_JWT_COOKIE; deploy/test.sh exports both for the stack and for pytest. By hand, export
them before `deploy/stack.sh up` and keep them exported for pytest (JWT tests skip without them).
"""

import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

import helpers

REPO = helpers.REPO

HOW_TO_RUN = """\
OPS_URL is not set, so there is no stack to test. These tests talk to a running Opsplane stack.
Either run them the supported way:
    make test
or start a stack and point the tests at it:
    STATE=.opsplane-e2e PORT=18180 deploy/stack.sh up
    set -a; . .opsplane-e2e/run.env; set +a
    python3 -m pytest -q Tests/e2e
    STATE=.opsplane-e2e PORT=18180 deploy/stack.sh down"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "disruptive: stops Postgres or a worker; runs after every other test")
    config.addinivalue_line(
        "markers", "last: audits what the whole suite left behind (logs); runs after everything")


def pytest_collection_modifyitems(session, config, items):
    # Stable sort: ordinary tests, then disruptive ones, then `last`, each group in file order.
    def group(item):
        if item.get_closest_marker("last") is not None:
            return 2
        return 1 if item.get_closest_marker("disruptive") is not None else 0
    items.sort(key=group)


class Stack:
    """The stack under test, as described by its run.env."""

    def __init__(self, env):
        self.env = env
        self.url = env["OPS_URL"].rstrip("/")
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port or 80
        # Relative to the current directory, as deploy/stack.sh takes it.
        self.state = Path(env.get("OPS_STATE") or os.environ.get("STATE") or REPO / ".opsplane").resolve()
        self.run_dir = self.state / "run"
        self.log_dir = self.state / "logs"

    # Workers ---------------------------------------------------------------------------------
    def worker_pids(self):
        """{worker name: pid} from $STATE/run/fcgi-N.pid."""
        pids = {}
        for pidfile in sorted(self.run_dir.glob("fcgi-*.pid")):
            text = pidfile.read_text().strip()
            if text:
                pids[pidfile.stem] = int(text)
        return pids

    def worker_socket(self, name):
        return self.run_dir / f"{name}.sock"

    def worker_log(self, name):
        return self.log_dir / f"{name}.log"

    def worker_logs(self):
        return sorted(self.log_dir.glob("fcgi-*.log"))

    # Commands --------------------------------------------------------------------------------
    def cli(self, *args, timeout=30):
        """Run `opsplane ARGS` against this stack's database; returns the CompletedProcess."""
        env = dict(os.environ)
        env.update({k: v for k, v in self.env.items() if k.startswith("OPS_")})
        proc = subprocess.run([str(helpers.opsplane_binary()), *args], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, (
            f"opsplane {' '.join(args)} failed with exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def sql(self, statement, **variables):
        """Run SQL through psql on the stack's database; :'name' in the text is a quoted variable."""
        cmd = ["psql", self.env["OPS_DATABASE_URL"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            cmd += ["-v", f"{name}={value}"]
        proc = subprocess.run(cmd, input=statement, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"psql failed ({proc.returncode}): {proc.stderr}\nSQL: {statement}"
        return proc.stdout

    def stack_sh(self, command, timeout=60):
        env = dict(os.environ, STATE=str(self.state), PORT=str(self.port))
        proc = subprocess.run([str(REPO / "deploy" / "stack.sh"), command], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, (
            f"deploy/stack.sh {command} failed with exit {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc


def _load_env():
    env = {k: v for k, v in os.environ.items() if k.startswith("OPS_")}
    if "OPS_URL" not in env and os.environ.get("STATE"):
        run_env = Path(os.environ["STATE"]) / "run.env"
        if run_env.exists():
            env.update(helpers.parse_env_file(run_env))
    return env


@pytest.fixture(scope="session")
def stack():
    env = _load_env()
    if not env.get("OPS_URL"):
        pytest.exit(HOW_TO_RUN, returncode=2)
    s = Stack(env)
    try:
        requests.get(s.url + "/api/ops/ping", timeout=5)
    except requests.RequestException as exc:
        pytest.exit(f"OPS_URL={s.url} does not answer ({exc}). Is the stack up?\n\n{HOW_TO_RUN}",
                    returncode=2)
    assert s.worker_pids(), f"no worker pid files in {s.run_dir} (expected fcgi-N.pid)"
    return s


@pytest.fixture(scope="session")
def base_url(stack):
    return stack.url


@pytest.fixture
def api(base_url):
    """A requests session against the stack; `api.get("/api/ops/ping")`."""

    class Api(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", helpers.TIMEOUT)
            return super().request(method, base_url + url, *args, **kwargs)

    with Api() as session:
        yield session


class WorkersUnharmed:
    """Snapshot of the workers before a test; check() proves every one of them survived it."""

    def __init__(self, stack):
        self.stack = stack
        self.before = stack.worker_pids()

    def check(self):
        after = self.stack.worker_pids()
        assert after == self.before, f"worker pids changed: before {self.before}, after {after}"
        for name, pid in after.items():
            assert helpers.process_alive(pid), (
                f"worker {name} (pid {pid}) died; last log lines:\n"
                f"{helpers.tail(self.stack.worker_log(name))}")
            resp = helpers.worker_answers(str(self.stack.worker_socket(name)))
            assert resp is not None and resp.status == 200, (
                f"worker {name} no longer answers /api/ops/ping on its socket: {resp!r}")
        resp = requests.get(self.stack.url + "/api/ops/ping", timeout=helpers.TIMEOUT)
        assert resp.status_code == 200, f"/api/ops/ping through nginx: {helpers.describe(resp)}"


@pytest.fixture
def workers_unharmed(stack):
    return WorkersUnharmed(stack)


@pytest.fixture
def own_worker(stack, tmp_path):
    """Start an extra `opsplane fcgi` on a fresh socket, outside nginx; stopped after the test.

    Returns a function: own_worker(**extra_env) -> (Popen, socket path, log path).
    """
    started = []
    sock_dir = Path(tempfile.mkdtemp(prefix="ops-e2e-", dir="/tmp"))  # sun_path holds 108 bytes

    def start(**extra_env):
        n = len(started)
        sock = sock_dir / f"worker-{n}.sock"
        log = tmp_path / f"own-worker-{n}.log"
        env = dict(os.environ)
        env.update({k: v for k, v in stack.env.items() if k.startswith("OPS_")})
        env.update({k: str(v) for k, v in extra_env.items()})
        cmd = [str(helpers.opsplane_binary()), "fcgi", "--socket", str(sock)]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        started.append((proc, sock))
        try:
            helpers.wait_for_socket(sock, proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncommand: {' '.join(cmd)}\nlog:\n{helpers.tail(log)}") from None
        return proc, sock, log

    yield start
    for proc, _ in started:
        helpers.stop_process(proc)
    shutil.rmtree(sock_dir, ignore_errors=True)


# Access control ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tokens(stack):
    """The stack's own tokens from run.env: {"admin": …, "viewer": …, "ingest": …}."""
    found = {}
    for role in ("admin", "viewer", "ingest"):
        value = stack.env.get(f"OPS_{role.upper()}_TOKEN", "")
        assert value.startswith("ops_"), (
            f"run.env has no real {role} token (OPS_{role.upper()}_TOKEN={value[:20]!r}…): "
            f"`opsplane token create` failed during `stack.sh up`; see {stack.log_dir}/stack.log")
        found[role] = helpers.remember_secret(value)
    return found


@pytest.fixture(scope="session")
def jwt_settings(stack):
    """(secret, cookie name) of the host-app JWTs the stack accepts; skips when JWTs are off."""
    secret = stack.env.get("OPS_JWT_HS256_SECRET", "")
    cookie = stack.env.get("OPS_JWT_COOKIE", "")
    if len(secret) < 32 or not cookie:
        pytest.skip("OPS_JWT_HS256_SECRET/OPS_JWT_COOKIE are not set for this stack "
                    "(deploy/test.sh sets them; see conftest.py for a stack started by hand)")
    helpers.remember_secret(secret)
    return secret, cookie


@pytest.fixture
def new_token(stack):
    """new_token(role) -> (name, token): a fresh API token made with `opsplane token create`."""
    def create(role, name=None):
        name = name or f"e2e-{role}-{secrets.token_hex(4)}"
        out = stack.cli("token", "create", "--role", role, "--name", name).stdout.strip()
        assert out.startswith("ops_") and "\n" not in out, f"`opsplane token create` printed {out!r}"
        return name, helpers.remember_secret(out)
    return create
