"""The operator's guide (deploy/OPERATIONS.md), followed step by step on this machine.

deploy/install.sh runs in its test mode (--root: everything below a temporary directory, no
systemd) against a Postgres cluster of the test's own (deploy/lib-pg.sh). The processes are then
started with exactly the ExecStart lines of the installed systemd units (with %i and their
EnvironmentFile=, StandardOutput=append:), nginx with the rendered production site inside
Debian's stock nginx.conf, HTTPS on 127.0.0.1 with the generated self-signed certificate. The
test checks what an operator would: TLS, HTTP→HTTPS, HSTS and security headers, auth with the
printed admin token, gzip, a live ticker event over wss://, an upgrade (install.sh again), and
scale-out: two worker groups in one upstream (one killed: requests still succeed), two tickers
each delivering, a second monitor on standby.

Needs no running stack (it builds its own); uses the prebuilt binary of helpers.opsplane_binary().
Ports: free ones, or OPS_INSTALL_TEST_PORT_BASE..+9 when set.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import websockets
import yaml

import helpers

REPO = helpers.REPO
UNITS = REPO / "deploy" / "systemd"

# Debian 12's stock /etc/nginx/nginx.conf (comments left out); the site is included from
# sites-enabled/ exactly as on a real host. Paths are moved below the test root.
DEBIAN_NGINX_CONF = """\
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;
events {
\tworker_connections 768;
}
http {
\tsendfile on;
\ttcp_nopush on;
\ttypes_hash_max_size 2048;
\tinclude /etc/nginx/mime.types;
\tdefault_type application/octet-stream;
\tssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
\tssl_prefer_server_ciphers on;
\taccess_log /var/log/nginx/access.log;
\tgzip on;
\tinclude /etc/nginx/conf.d/*.conf;
\tinclude /etc/nginx/sites-enabled/*;
}
"""


def port_free(port):
    with socket.socket() as s:
        # As servers bind: connections of an earlier run in TIME_WAIT do not make it busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def choose_ports(n):
    base = os.environ.get("OPS_INSTALL_TEST_PORT_BASE")
    if base:
        ports = [int(base) + i for i in range(n)]
        busy = [p for p in ports if not port_free(p)]
        assert not busy, f"ports {busy} (OPS_INSTALL_TEST_PORT_BASE={base}) are in use"
        return ports
    import random
    ports = []
    while len(ports) < n:
        p = random.randrange(15000, 32000)
        if p not in ports and port_free(p):
            ports.append(p)
    return ports


def parse_env_file(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def unit_service(path):
    """The [Service] keys of a unit file: {key: [values]}."""
    section, keys = None, {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


class Installed:
    """The test host: the temp root, its Postgres, the installed files, the running processes."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="opsi-", dir="/tmp"))
        os.chmod(self.root, 0o755)  # postgres and nginx's www-data workers go through it
        names = ["http", "https", "pg", "ticker1", "ticker2", "worker3", "worker4", "worker5"]
        self.ports = dict(zip(names, choose_ports(len(names))))
        self.procs = {}
        self.nginx_pid = None
        self.pg_dir = self.root / "pg"
        self.prefix = self.root / "opt" / "opsplane"
        self.etc = self.root / "etc" / "opsplane"
        self.unit_dir = self.root / "etc" / "systemd" / "system"
        self.log_dir = self.root / "var" / "log" / "opsplane"
        self.nginx_log_dir = self.root / "var" / "log" / "nginx"
        self.url = f"https://localhost:{self.ports['https']}"
        self.cert = self.etc / "tls" / "cert.pem"
        self.install_out = []

    # Postgres, through deploy/lib-pg.sh ----------------------------------------------------------
    def pg(self, commands):
        script = f"""set -euo pipefail
. "{REPO}/deploy/lib-common.sh"; . "{REPO}/deploy/lib-pg.sh"
STATE="{self.root}"; PG_DIR="{self.pg_dir}"; PG_DATA="$PG_DIR/data"; PG_RUN="$PG_DIR/run"
PG_PORT_FILE="$PG_DIR/port"; PG_PASSWORD_FILE="$PG_DIR/password"
PG_LOG="{self.root}/var/log/postgresql/postgresql-15-main.log"; mkdir -p "$(dirname "$PG_LOG")"
OPS_PG_SHARED_BUFFERS=64MB
pg_find_bin
{commands}
"""
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"Postgres step failed:\n{commands}\n{proc.stderr[-3000:]}"
        return proc.stdout

    def pg_admin(self):
        return f"host={self.pg_dir / 'run'} port={self.ports['pg']} user=postgres dbname=postgres"

    # install.sh ----------------------------------------------------------------------------------
    def install_args(self):
        p = self.ports
        return [str(REPO / "deploy" / "install.sh"), "--root", str(self.root),
                "--bin-dir", str(helpers.opsplane_binary().parent), "--pg-admin", self.pg_admin(),
                "--server-name", "localhost", "--server-name", "127.0.0.1", "--listen-addr", "127.0.0.1",
                "--http-port", str(p["http"]), "--https-port", str(p["https"]), "--workers", "2",
                "--worker", f"127.0.0.1:{p['worker3']}", "--worker", f"127.0.0.1:{p['worker4']}",
                "--ticker-port", str(p["ticker1"]), "--ticker", f"127.0.0.1:{p['ticker2']}"]

    def install(self):
        proc = subprocess.run(self.install_args(), capture_output=True, text=True, timeout=300, cwd="/")
        self.install_out.append(proc.stderr)
        assert proc.returncode == 0, f"install.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        return proc.stdout

    def env(self):
        return parse_env_file(self.etc / "opsplane.env")

    # Units -------------------------------------------------------------------------------------
    def unit_command(self, unit, instance=None):
        """(argv, env, log path) of an installed unit, as systemd would start it."""
        keys = unit_service(self.unit_dir / unit)

        def expand(value):
            return value.replace("%i", instance or "")
        argv = expand(keys["ExecStart"][0]).split()
        env = {}
        for f in keys.get("EnvironmentFile", []):
            env.update(parse_env_file(expand(f).lstrip("-")))
        out = expand(keys["StandardOutput"][0])
        assert out.startswith("append:"), f"{unit}: StandardOutput={out}"
        return argv, env, Path(out[len("append:"):])

    def start(self, name, unit, instance=None, extra_env=None, wait=None):
        argv, env, log = self.unit_command(unit, instance)
        env = dict(env, PATH=os.environ.get("PATH", "/usr/bin:/bin"), **(extra_env or {}))
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
        self.procs[name] = (proc, log)
        if wait is not None:
            helpers.wait_until(lambda: wait() or (proc.poll() is not None and pytest.fail(
                f"{name} ({' '.join(argv)}) exited {proc.returncode}:\n{helpers.tail(log)}")),
                15, what=f"{name} to be ready")
        return proc

    def stop(self, name, sig=signal.SIGTERM):
        proc, _ = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # nginx ----------------------------------------------------------------------------------
    def nginx_conf(self):
        r = str(self.root)
        text = DEBIAN_NGINX_CONF
        text = text.replace("pid /run/nginx.pid;", f"pid {r}/run/nginx.pid;")
        text = text.replace("/var/log/nginx/", f"{r}/var/log/nginx/")
        text = text.replace("include /etc/nginx/conf.d/*.conf;", "")
        text = text.replace("include /etc/nginx/sites-enabled/*;", f"include {r}/etc/nginx/sites-enabled/*;")
        tmp = "".join(f"\t{kind}_temp_path {r}/var/lib/nginx/{kind};\n"
                      for kind in ("client_body", "fastcgi", "proxy", "uwsgi", "scgi"))
        text = text.replace("http {\n", "http {\n" + tmp, 1)
        if os.geteuid() != 0:
            text = text.replace("user www-data;\n", "")
        path = self.root / "etc" / "nginx" / "nginx.conf"
        path.write_text(text)
        (self.root / "var" / "lib" / "nginx").mkdir(parents=True, exist_ok=True)
        return path

    def nginx_args(self):
        return ["nginx", "-c", str(self.nginx_conf()), "-e", str(self.nginx_log_dir / "error.log")]

    def start_nginx(self):
        args = self.nginx_args()
        test = subprocess.run(args + ["-t", "-q"], capture_output=True, text=True, timeout=30)
        assert test.returncode == 0, f"nginx -t rejected the production site:\n{test.stderr}"
        started = subprocess.run(args, capture_output=True, text=True, timeout=30, env=dict(os.environ, TZ="UTC"))
        assert started.returncode == 0, f"nginx did not start:\n{started.stderr}"
        pidfile = self.root / "run" / "nginx.pid"
        helpers.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, what="nginx's pid file")
        self.nginx_pid = int(pidfile.read_text().strip())

    def teardown(self):
        # SIGTERM to every process at once (each one stops gracefully in parallel), then wait.
        running = [proc for proc, _ in self.procs.values() if proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(8)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.nginx_pid and helpers.process_alive(self.nginx_pid):
            os.kill(self.nginx_pid, signal.SIGQUIT)
            for _ in range(100):
                if not helpers.process_alive(self.nginx_pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(self.nginx_pid, signal.SIGKILL)
        try:
            self.pg("pg_stop")
        except AssertionError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def ticker_port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def host():
    started = time.monotonic()
    h = Installed()
    try:
        # Guide step 0: a Postgres server (here the test's own cluster, created like make run's).
        h.pg(f"pg_init; pg_start_on {h.ports['pg']}")
        h.timings = {"postgres": time.monotonic() - started}
        # Guide step 1: deploy/install.sh.
        out = h.install()
        h.timings["install.sh"] = time.monotonic() - started - h.timings["postgres"]
        tokens = re.findall(r"^OPS_ADMIN_TOKEN=(ops_\S+)$", out, re.M)
        assert len(tokens) == 1, f"install.sh printed no admin token on stdout: {out!r}"
        h.admin_token = helpers.remember_secret(tokens[0])
        # Guide step 2: start the units (systemctl enable --now …), here from their ExecStart lines.
        migrate, env, log = h.unit_command("opsplane-migrate.service")
        proc = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=60, cwd="/")
        assert proc.returncode == 0, f"the migrate unit's command failed: {proc.stdout}{proc.stderr}"
        run_dir = h.root / "run" / "opsplane"
        for i in (1, 2):
            sock = run_dir / f"fcgi-{i}.sock"
            h.start(f"fcgi-{i}", "opsplane-fcgi@.service", str(i), wait=sock.exists)
        for w in ("worker3", "worker4"):
            port = h.ports[w]
            h.start(w, "opsplane-fcgi-tcp@.service", f"127.0.0.1:{port}",
                    extra_env={"FCGI_WEB_SERVER_ADDRS": "127.0.0.1"}, wait=lambda p=port: ticker_port_open(p))
        h.start("ticker1", "opsplane-ticker.service", wait=lambda: ticker_port_open(h.ports["ticker1"]))
        # A second ticker "on another host": the same unit, its own OPS_TICKER_PORT.
        h.start("ticker2", "opsplane-ticker.service", extra_env={"OPS_TICKER_PORT": str(h.ports["ticker2"])},
                wait=lambda: ticker_port_open(h.ports["ticker2"]))
        h.start("monitor1", "opsplane-monitor.service")
        h.start_nginx()
        helpers.wait_until(lambda: requests.get(h.url + "/api/ops/healthz", verify=str(h.cert), timeout=5).status_code == 200,
                           20, what="the installed site's health check over HTTPS")
        h.setup_s = time.monotonic() - started
        yield h
    finally:
        h.teardown()


def get(host, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(host.url + path, headers=headers, verify=str(host.cert), timeout=15, **kw)


def sql(host, statement):
    proc = subprocess.run(["psql", host.env()["OPS_DATABASE_URL"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-c", statement], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# --- what install.sh wrote ------------------------------------------------------------------------

def test_installed_units_run_the_shipped_commands_below_the_prefix(host):
    for unit in sorted(UNITS.glob("*.service")):
        shipped = unit_service(unit)
        installed = unit_service(host.unit_dir / unit.name)
        expected = [re.sub(r"(/opt/opsplane|/etc/opsplane|/var/log/opsplane|/run/opsplane)",
                           lambda m: str(host.root) + m.group(1), v) for v in shipped["ExecStart"]]
        assert installed["ExecStart"] == expected, unit.name
        assert shipped.get("Restart") == ["on-failure"] or unit.name == "opsplane-migrate.service", unit.name
        for key, value in (("User", "opsplane"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""),
                           ("EnvironmentFile", "/etc/opsplane/opsplane.env")):
            assert shipped.get(key) == [value], f"{unit.name}: {key}={shipped.get(key)}"


def test_units_pass_systemd_analyze_verify(host):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # Templates are verified as an instance (a copy named NAME@I.service). The TCP worker's real
    # instances hold a colon (opsplane-fcgi-tcp@10.0.0.5:9001), which systemd accepts but
    # `systemd-analyze verify` cannot take in a file name (it splits its search path at colons).
    for unit in sorted(host.unit_dir.glob("*.service")):
        target = unit
        if unit.name.endswith("@.service"):
            # Beside the others: verify resolves Requires= (opsplane-migrate.service) there.
            target = host.unit_dir / unit.name.replace("@.service", "@9001.service")
            shutil.copy(unit, target)
        proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(target)], capture_output=True,
                              text=True, timeout=60)
        if target != unit:
            target.unlink()
        out = (proc.stdout + proc.stderr).strip()
        assert proc.returncode == 0 and not out, f"systemd-analyze verify {unit.name}: exit {proc.returncode}\n{out}"


def test_env_file_has_generated_secrets_and_private_mode(host):
    env_file = host.etc / "opsplane.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o640"
    env = host.env()
    assert re.fullmatch(r"[0-9a-f]{64}", env["OPS_SESSION_SECRET"])
    assert re.fullmatch(r"postgresql://opsplane:[0-9a-f]{48}@127\.0\.0\.1:\d+/opsplane", env["OPS_DATABASE_URL"])
    key = host.etc / "tls" / "key.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"


# --- HTTPS ------------------------------------------------------------------------------------------

SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


def embedded_csp():
    text = (REPO / "nginx" / "opsplane-server.conf").read_text()
    return re.search(r'add_header Content-Security-Policy "([^"]+)"', text).group(1)


def test_dashboard_over_https_has_hsts_csp_and_revalidates_index(host):
    resp = get(host, "/admin/ops/")
    assert resp.status_code == 200 and '<main id="panels"' in resp.text, helpers.describe(resp)
    assert resp.headers["Strict-Transport-Security"] == "max-age=63072000"
    for k, v in SECURITY.items():
        assert resp.headers.get(k) == v, (k, resp.headers)
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert csp == embedded_csp(), "production CSP differs from the embedded dashboard's (nginx/opsplane-server.conf)"
    assert resp.headers["Cache-Control"] == "no-cache" and resp.headers.get("ETag")
    again = get(host, "/admin/ops/", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_versioned_assets_are_immutable_and_compressed(host):
    plain = get(host, "/admin/ops/app.js", headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == 200 and plain.headers["Cache-Control"] == "no-cache"
    assert plain.headers.get("Content-Encoding") == "gzip", plain.headers
    versioned = get(host, "/admin/ops/app.css?v=3f9c2a1b")
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_http_redirects_to_https(host):
    resp = requests.get(f"http://127.0.0.1:{host.ports['http']}/api/ops/summary?window=today",
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 301
    assert resp.headers["Location"] == f"https://localhost:{host.ports['https']}/api/ops/summary?window=today"


def test_plain_http_answers_only_the_health_check(host):
    """The monitor's probe (and a load balancer on the host) checks health over plain HTTP."""
    resp = requests.get(f"http://127.0.0.1:{host.ports['http']}/api/ops/healthz", allow_redirects=False, timeout=10)
    assert resp.status_code == 200 and resp.json()["status"] == "ok", helpers.describe(resp)
    login = requests.get(f"http://127.0.0.1:{host.ports['http']}/admin/ops/login", allow_redirects=False, timeout=10)
    assert login.status_code == 301


def test_ocsp_stapling_is_rendered_only_when_asked_or_possible(host):
    site = (host.root / "etc" / "nginx" / "sites-available" / "opsplane.conf").read_text()
    assert "# OCSP stapling off: the certificate names no OCSP responder" in site
    assert "ocsp-stapling.conf;" not in site
    # OPS_TLS_OCSP=on renders the include, and nginx accepts the result (it only warns that a
    # self-signed certificate has no responder).
    scratch = host.root / "ocsp"
    settings = (host.etc / "nginx.env").read_text()
    settings = re.sub(r"^OPS_TLS_OCSP=.*$", "OPS_TLS_OCSP=on", settings, flags=re.M)
    settings = re.sub(r"^OPS_NGINX_CONF_DIR=.*$", f"OPS_NGINX_CONF_DIR={scratch}/conf", settings, flags=re.M)
    settings = re.sub(r"^OPS_NGINX_SITE=.*$", f"OPS_NGINX_SITE={scratch}/sites/opsplane.conf", settings, flags=re.M)
    scratch.mkdir()
    (scratch / "nginx.env").write_text(settings + "OPS_RESOLVER=127.0.0.1\n")
    render = subprocess.run([str(host.prefix / "share" / "opsplane" / "deploy" / "render-nginx.sh"), str(scratch / "nginx.env")],
                            capture_output=True, text=True, timeout=60)
    assert render.returncode == 0, render.stderr
    rendered = (scratch / "sites" / "opsplane.conf").read_text()
    assert f"include {scratch}/conf/production/ocsp-stapling.conf;" in rendered
    main = host.nginx_conf().read_text().replace(f"include {host.root}/etc/nginx/sites-enabled/*;",
                                                 f"include {scratch}/sites/opsplane.conf;")
    (scratch / "nginx.conf").write_text(main)
    test = subprocess.run(["nginx", "-t", "-c", str(scratch / "nginx.conf"), "-e", str(scratch / "error.log")],
                          capture_output=True, text=True, timeout=30)
    assert test.returncode == 0, test.stderr


def test_tls_profile_h2_and_no_legacy_protocols(host):
    port = host.ports["https"]

    def handshake(ctx):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.version(), tls.selected_alpn_protocol()

    ctx = ssl.create_default_context(cafile=str(host.cert))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    assert handshake(ctx) == ("TLSv1.3", "h2")

    tls12 = ssl.create_default_context(cafile=str(host.cert))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert handshake(tls12)[0] == "TLSv1.2"

    # A TLS 1.2 client offering only static-RSA key exchange: not in the intermediate profile.
    static_rsa = ssl.create_default_context(cafile=str(host.cert))
    static_rsa.maximum_version = ssl.TLSVersion.TLSv1_2
    static_rsa.set_ciphers("AES128-GCM-SHA256:AES256-GCM-SHA384")
    with pytest.raises(ssl.SSLError):
        handshake(static_rsa)

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    try:
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return  # this OpenSSL cannot even offer TLS 1.1
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(old)


def test_api_needs_the_printed_admin_token_and_json_is_gzipped(host):
    anonymous = get(host, "/api/ops/summary")
    assert anonymous.status_code == 401, helpers.describe(anonymous)
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    assert anonymous.headers["Strict-Transport-Security"] == "max-age=63072000"
    resp = get(host, "/api/ops/summary", token=host.admin_token)
    assert resp.status_code == 200 and isinstance(resp.json(), dict), helpers.describe(resp)
    # A JSON answer above gzip_min_length (512 bytes): 30 zero-filled days.
    series = get(host, "/api/ops/timeseries?metric=runs_by_hour&window=30d", token=host.admin_token,
                 headers={"Accept-Encoding": "gzip"})
    assert series.status_code == 200 and len(series.json()) == 30, helpers.describe(series)
    assert series.headers.get("Content-Encoding") == "gzip", series.headers
    assert "Accept-Encoding" in series.headers.get("Vary", "")


# --- the live ticker ------------------------------------------------------------------------------

def ingest_token(host):
    """Guide, "Tokens": a service token for the host app, made with `opsplane token create`."""
    if not hasattr(host, "ingest_token"):
        argv, env, _ = host.unit_command("opsplane-ticker.service")
        proc = subprocess.run([argv[0], "token", "create", "--role", "ingest", "--name", "host-app"],
                              env=env, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        host.ingest_token = helpers.remember_secret(proc.stdout.strip())
    return host.ingest_token


def ingest_run(host, run_id):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = json.dumps({"kind": "run", "run_id": run_id, "agent_id": "install-agent", "user_id": "install-user",
                       "status": "running", "created_at": now, "started_at": now}) + "\n"
    resp = requests.post(host.url + "/api/ops/ingest", data=body.encode(), verify=str(host.cert), timeout=15,
                         headers={"Authorization": f"Bearer {ingest_token(host)}",
                                  "Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, helpers.describe(resp)


async def wait_for_run(ws, run_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no ops_event for {run_id}"
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        if frame.get("type") == "ops_event" and frame["data"].get("run_id") == run_id:
            return frame


async def subscribed(ws):
    await ws.send(json.dumps({"type": "subscribe", "topics": ["ops:events"]}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ack.get("type") == "subscribed", ack


def test_live_ticker_event_arrives_over_wss(host):
    ctx = ssl.create_default_context(cafile=str(host.cert))
    run_id = f"inst-{uuid.uuid4().hex[:8]}"
    wss = host.url.replace("https://", "wss://") + "/api/ws"

    async def go():
        async with websockets.connect(wss, ssl=ctx, additional_headers={"Authorization": f"Bearer {host.admin_token}"},
                                      open_timeout=10) as ws:
            await subscribed(ws)
            await asyncio.to_thread(ingest_run, host, run_id)
            frame = await wait_for_run(ws, run_id)
            assert frame["data"]["type"] == "run_started"
    asyncio.run(go())


def test_each_of_two_tickers_delivers_the_event(host):
    """Both tickers LISTEN to Postgres on their own: a client of each gets the one event."""
    run_id = f"inst2-{uuid.uuid4().hex[:8]}"

    async def go():
        clients = [await websockets.connect(f"ws://127.0.0.1:{host.ports[t]}/api/ws", open_timeout=10,
                                            additional_headers={"X-Ops-Role": "admin", "X-Ops-Subject": "test"})
                   for t in ("ticker1", "ticker2")]
        try:
            for ws in clients:
                await subscribed(ws)
            await asyncio.to_thread(ingest_run, host, run_id)
            for ws in clients:
                await wait_for_run(ws, run_id)
        finally:
            for ws in clients:
                await ws.close()
    asyncio.run(go())


# --- the monitor ------------------------------------------------------------------------------------

def test_second_monitor_stands_by_while_the_first_holds_the_lock(host):
    first, _ = host.procs["monitor1"]

    def row(pid):
        text = sql(host, f"SELECT active FROM ops.monitor_instances WHERE pid = {int(pid)} ORDER BY started_at DESC LIMIT 1")
        return text or None
    helpers.wait_until(lambda: row(first.pid) == "t", 20, what="the first monitor to hold the lock")
    second = host.start("monitor2", "opsplane-monitor.service")
    helpers.wait_until(lambda: row(second.pid) == "f", 20, what="the second monitor to register as standby")
    assert second.poll() is None, helpers.tail(host.procs["monitor2"][1])
    assert row(first.pid) == "t"
    health = get(host, "/api/monitoring/health", token=host.admin_token).json()
    assert health["monitor"]["active_instance"].endswith(f":{first.pid}"), health["monitor"]


# --- upgrade -------------------------------------------------------------------------------------------

def test_reinstall_is_an_upgrade_that_keeps_secrets_and_tokens(host):
    before = (host.etc / "opsplane.env").read_text()
    out = host.install()
    assert "OPS_ADMIN_TOKEN" not in out, "a second install.sh made another admin token"
    after = (host.etc / "opsplane.env").read_text()
    strip = lambda t: [l for l in t.splitlines() if not l.startswith("OPS_GIT_SHA=")]  # noqa: E731
    assert strip(before) == strip(after)
    migrate, env, _ = host.unit_command("opsplane-migrate.service")
    status = subprocess.run([migrate[0], "migrate", "--status"], env=env, capture_output=True, text=True, timeout=30)
    assert status.returncode == 0 and re.search(r"\b0 pending", status.stdout), status.stdout
    assert get(host, "/api/ops/whoami", token=host.admin_token).status_code == 200


def test_backup_with_pg_dump_restores_into_a_new_database(host):
    url = host.env()["OPS_DATABASE_URL"]
    dump = host.root / "opsplane.dump"
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), url], check=True, timeout=60)
    restored = url.rsplit("/", 1)[0] + "/opsplane_restore"
    # As the guide says: a superuser restores (the dump creates the pg_stat_statements
    # extension); the dump's own ALTER ... OWNER keeps every object the application role's.
    host.pg(f'pg_as psql -X -q -h "$PG_RUN" -p {host.ports["pg"]} -U postgres -d postgres '
            f'-c "CREATE DATABASE opsplane_restore OWNER opsplane"\n'
            f'pg_as pg_restore --exit-on-error -h "$PG_RUN" -p {host.ports["pg"]} '
            f'-U postgres -d opsplane_restore "{dump}"')
    count = subprocess.run(["psql", restored, "-X", "-A", "-t", "-c", "SELECT count(*) FROM ops.api_tokens"],
                           capture_output=True, text=True, timeout=30)
    assert count.returncode == 0 and int(count.stdout.strip()) >= 1, count.stderr


def test_logrotate_copies_and_truncates_while_the_workers_keep_writing(host):
    """Guide, "Logs": /etc/logrotate.d/opsplane as installed, forced once."""
    log = host.log_dir / "fcgi-1.log"
    assert log.stat().st_size > 0
    state = host.root / "logrotate.state"
    proc = subprocess.run(["logrotate", "--force", "--state", str(state), str(host.root / "etc" / "logrotate.d" / "opsplane")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rotated = host.log_dir / "fcgi-1.log.1"
    assert rotated.exists() and rotated.stat().st_size > 0, sorted(p.name for p in host.log_dir.iterdir())
    tag = f"rot-{uuid.uuid4().hex[:8]}"
    for i in range(8):  # round robin over four workers: both local ones answer some
        get(host, "/api/ops/whoami", token=host.admin_token, headers={"X-Request-Id": f"{tag}-{i}"})
    # The worker writes at the new end of the truncated file (O_APPEND): no hole of NULs before it.
    for name in ("fcgi-1.log", "fcgi-2.log"):
        text = (host.log_dir / name).read_bytes()
        assert not text.startswith(b"\0"), f"{name} starts with NULs after copytruncate"
    assert any(tag in (host.log_dir / n).read_text() for n in ("fcgi-1.log", "fcgi-2.log"))


def fcgi_ping(port):
    """GET /api/ops/ping straight to a TCP worker; None when it closes the connection unanswered."""
    import fcgi_client
    conn = fcgi_client.FcgiConnection.__new__(fcgi_client.FcgiConnection)
    conn.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        conn.begin()
        conn.send_params_bytes(fcgi_client.encode_params(fcgi_client.cgi_params("GET", "/api/ops/ping")))
        conn.end_params()
        conn.send_stdin(b"")
        return conn.read_response()
    except (BrokenPipeError, ConnectionResetError):
        return None
    finally:
        conn.close()


def test_tcp_worker_answers_only_the_addresses_in_fcgi_web_server_addrs(host):
    """Guide, "Scaling out": FCGI_WEB_SERVER_ADDRS keeps other hosts off a worker's TCP port."""
    allowed = fcgi_ping(host.ports["worker3"])  # started with FCGI_WEB_SERVER_ADDRS=127.0.0.1
    assert allowed is not None and allowed.status == 200, allowed
    port = host.ports["worker5"]
    host.start("worker5", "opsplane-fcgi-tcp@.service", f"127.0.0.1:{port}",
               extra_env={"FCGI_WEB_SERVER_ADDRS": "192.0.2.1"}, wait=lambda: ticker_port_open(port))
    assert fcgi_ping(port) is None, "a worker answered an address that FCGI_WEB_SERVER_ADDRS does not list"
    host.stop("worker5")


# --- scale-out: last, it kills a worker group ------------------------------------------------------------

def test_requests_succeed_with_one_worker_group_killed(host):
    """Group A: the unix-socket workers of this host; group B: TCP workers ("another host")."""
    for name in ("fcgi-1", "fcgi-2"):
        host.stop(name, signal.SIGKILL)
    tag = uuid.uuid4().hex[:8]
    statuses = [get(host, "/api/ops/whoami", token=host.admin_token,
                    headers={"X-Request-Id": f"kill-{tag}-{i}"}).status_code for i in range(20)]
    assert statuses == [200] * 20, statuses
    # nginx's access log says which workers answered: the TCP group, after trying dead sockets.
    served = [entry["upstream_addr"] for entry in map(json.loads, (host.nginx_log_dir / "opsplane.access.log")
                                                        .read_text().splitlines())
              if entry["request_id"].startswith(f"kill-{tag}-")]
    tcp = (f"127.0.0.1:{host.ports['worker3']}", f"127.0.0.1:{host.ports['worker4']}")
    assert len(served) == 20 and all(s.split(", ")[-1] in tcp for s in served), served
    print(f"setup {host.setup_s:.1f}s: " + ", ".join(f"{k} {v:.1f}s" for k, v in host.timings.items()))


# --- docker-compose.yml: structure only (no Docker on this machine; it was never run here) --------

def test_compose_file_describes_the_same_topology_as_the_units():
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    workers = sorted(name for name in services if name.startswith("fcgi-"))
    assert {"postgres", "migrate", "ticker", "monitor", "nginx"} <= set(services) and len(workers) >= 2, list(services)

    def args_of(unit, instance=""):
        argv = unit_service(UNITS / unit)["ExecStart"][0].replace("%i", instance).split()
        assert argv[0] == "/opt/opsplane/bin/opsplane"
        return argv[1:]
    assert services["migrate"]["command"] == args_of("opsplane-migrate.service")
    assert services["ticker"]["command"] == args_of("opsplane-ticker.service")
    assert services["monitor"]["command"] == args_of("opsplane-monitor.service")
    sockets = []
    for name in workers:
        n = name.split("-", 1)[1]
        assert services[name]["command"] == args_of("opsplane-fcgi@.service", n), name
        sockets.append(f"unix:/run/opsplane/fcgi-{n}.sock")
        assert "sockets:/run/opsplane" in services[name]["volumes"], name

    # Order: Postgres healthy → migrations done → the rest, as Requires=/After= in the units.
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in workers + ["ticker", "monitor"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services[name]["restart"] == "on-failure", name

    # Only nginx is reachable from outside; it reaches the workers through the socket volume.
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"nginx"}, published
    assert "sockets:/run/opsplane" in services["nginx"]["volumes"]
    nginx_env = parse_env_file(REPO / "deploy" / "docker" / "nginx.env")
    assert nginx_env["OPS_FCGI_UPSTREAMS"].split() == sockets
    assert nginx_env["OPS_TICKER_UPSTREAMS"] == "ticker:8091"
    assert set(doc["volumes"]) >= {"pgdata", "sockets", "nginx-logs", "tls"}

    # Every build target the file names exists in the Dockerfile.
    targets = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", (REPO / "Dockerfile").read_text(), re.M))
    for name, s in services.items():
        if "build" in s:
            assert s["build"]["target"] in targets, (name, s["build"], targets)
