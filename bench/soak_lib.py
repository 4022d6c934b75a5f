"""Pieces of bench/soak_run.py: the stack's processes, HTTP load generators with a record of
every answer, WebSocket clients, Postgres checks by psql, resident-memory sampling.

Nothing here kills by name: processes are found through the stack's pid files, and a process
is identified by (pid, start time) so a reused pid is never taken for the same process.
"""

import asyncio
import http.client
import json
import os
import random
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def env_float(name, default):
    v = os.environ.get(name, "")
    return float(v) if v.strip() else float(default)


def env_int(name, default):
    return int(env_float(name, default))


def read_env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


# --- processes --------------------------------------------------------------------------

def proc_start(pid):
    """Start time of pid in clock ticks since boot, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return int(s[s.rindex(")") + 2:].split()[19])


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return s[s.rindex(")") + 2]
    except OSError:
        return None


def alive(pid):
    st = proc_state(pid)
    return st is not None and st != "Z"


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        if int(s[s.rindex(")") + 2:].split()[1]) == ppid:
            out.append(int(d))
    return out


def read_pidfile(path, marker=None):
    try:
        with open(path) as f:
            pid = int(f.readline().strip() or 0)
    except (OSError, ValueError):
        return None
    if not pid or not alive(pid):
        return None
    if marker:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:   # NULs as spaces, like stack.sh's pid_cmdline
                if marker.encode() not in f.read().replace(b"\0", b" "):
                    return None
        except OSError:
            return None
    return pid


def connections_to(sock):
    """Connected (accepted) sockets of the unix listener at `sock`, from /proc/net/unix: with
    fastcgi_keep_conn off, each one is a request nginx has handed to that worker."""
    n = 0
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == sock and parts[5] == "03":
                    n += 1
    except OSError:
        pass
    return n


class Stack:
    """A stack started by deploy/stack.sh: its run.env, pid files, Postgres and logs."""

    def __init__(self, state, port):
        self.state = state
        self.port = port
        self.env = read_env_file(os.path.join(state, "run.env"))
        self.run_dir = os.path.join(state, "run")
        self.log_dir = os.path.join(state, "logs")
        self.pg_data = os.path.join(state, "pg", "data")
        self.pg_run = os.path.join(state, "pg", "run")
        self.pg_bin = self.env["OPS_PG_BIN"]
        self.pg_port = self.env["OPS_PG_PORT"]
        self.db_url = self.env["OPS_DATABASE_URL"]
        self.workers = int(self.env["OPS_WORKERS"])

    def worker_sock(self, n):
        return os.path.join(self.run_dir, f"fcgi-{n}.sock")

    def pids(self):
        """{name: pid} of the stack's long-running processes (None when not running)."""
        p = {}
        for n in range(1, self.workers + 1):
            p[f"fcgi-{n}"] = read_pidfile(os.path.join(self.run_dir, f"fcgi-{n}.pid"), self.worker_sock(n))
        p["ticker"] = read_pidfile(os.path.join(self.run_dir, "ticker.pid"), "ticker --port")
        p["monitor"] = read_pidfile(os.path.join(self.run_dir, "monitor.pid"), "opsplane monitor")
        p["nginx"] = read_pidfile(os.path.join(self.run_dir, "nginx.pid"), os.path.join(self.state, "nginx"))
        p["redis"] = read_pidfile(os.path.join(self.run_dir, "redis.pid"), "redis-server")
        p["postgres"] = read_pidfile(os.path.join(self.pg_data, "postmaster.pid"))
        return p

    def identities(self):
        """{name: (pid, start time)}: a process restarted under the same pid still differs."""
        return {k: (v, proc_start(v)) if v else None for k, v in self.pids().items()}

    # -- Postgres through psql ----------------------------------------------------------
    def psql_super(self, sql, timeout=120):
        """As the cluster's superuser over the local socket (trust), for amcheck."""
        cmd = [os.path.join(self.pg_bin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
               "-h", self.pg_run, "-p", self.pg_port, "-U", "postgres", "-d", "opsplane"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=timeout, cwd="/")
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def psql(self, sql, timeout=120):
        r = subprocess.run([os.path.join(self.pg_bin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            self.db_url], input=sql, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def missing_runs(self, ids, scratch):
        """How many of `ids` have no row in ops.runs (by run_id)."""
        if not ids:
            return 0
        path = os.path.join(scratch, f"ids-{os.getpid()}-{time.monotonic_ns()}.txt")
        with open(path, "w") as f:
            f.write("\n".join(ids) + "\n")
        try:
            out = self.psql(f"CREATE TEMP TABLE soak_ids (id text);\n\\copy soak_ids FROM '{path}'\n"
                            "SELECT count(*) FROM soak_ids s WHERE NOT EXISTS "
                            "(SELECT 1 FROM ops.runs r WHERE r.run_id = s.id);\n")
        finally:
            os.unlink(path)
        return int(out.splitlines()[-1])

    def count_runs_like(self, prefix):
        return int(self.psql(f"SELECT count(*) FROM ops.runs WHERE run_id LIKE '{prefix}%';"))

    def pg_ctl(self, *args, timeout=120):
        cmd = [os.path.join(self.pg_bin, "pg_ctl"), "-D", self.pg_data] + list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/")

    def health(self, timeout=3):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            c.request("GET", "/api/ops/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        except OSError:
            return None

    def access_log_since(self, t0, t1=None, uri_prefix=None):
        """Entries of nginx's access log with msec in [t0, t1]."""
        out = []
        with open(os.path.join(self.log_dir, "access.log"), errors="replace") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                m = e.get("msec", 0)
                if m < t0 or (t1 is not None and m > t1):
                    continue
                if uri_prefix and not e.get("uri", "").startswith(uri_prefix):
                    continue
                out.append(e)
        return out


# --- HTTP load --------------------------------------------------------------------------

class Result:
    __slots__ = ("kind", "t0", "t1", "status", "code", "envelope", "error", "n", "message")

    def __init__(self, kind, t0, t1, status, code=None, envelope=False, error=None, n=0, message=None):
        self.kind, self.t0, self.t1, self.status = kind, t0, t1, status
        self.code, self.envelope, self.error, self.n = code, envelope, error, n
        self.message = message


def http_request(port, method, path, body=None, headers=None, timeout=30.0):
    """One request on a fresh connection: (status, body bytes) or raises OSError/HTTPException."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def error_envelope(body):
    """(code, message) of {"error":{"code","message"}}, or (None, None) for any other body."""
    try:
        e = json.loads(body)["error"]
        if isinstance(e.get("code"), str) and isinstance(e.get("message"), str) and e["message"]:
            return e["code"], e["message"]
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None, None


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run_records(prefix, n):
    """n runs in their final state with ids prefix-1..n, times within the last few minutes."""
    now = time.time()
    lines = []
    for j in range(1, n + 1):
        fin = now - random.uniform(1, 240)
        d = random.uniform(0.2, 30)
        st = "failed" if random.random() < 0.05 else "success"
        pt, ct = random.randint(100, 4000), random.randint(10, 800)
        lines.append(json.dumps({
            "kind": "run", "run_id": f"{prefix}-{j}", "agent_id": f"soak-agent-{random.randint(1, 30):02d}",
            "user_id": f"soak-u-{random.randint(1, 300):03d}", "status": st,
            "created_at": iso(fin - d - 0.5), "started_at": iso(fin - d), "finished_at": iso(fin),
            "duration_ms": int(d * 1000), "model": "gpt-4o-mini", "prompt_tokens": pt,
            "completion_tokens": ct, "cost_usd": round((pt * 0.15 + ct * 0.6) / 1e6, 6),
            "error": "timeout" if st == "failed" else None}, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


class Load:
    """Threads sending one kind of request, paced (rate > 0, requests/s over all threads) or
    back to back (rate 0), until stop(). Every answer is kept as a Result."""

    def __init__(self, stack, kind, threads=1, rate=0.0, timeout=30.0, **opts):
        self.stack, self.kind, self.nthreads, self.rate, self.timeout = stack, kind, threads, rate, timeout
        self.opts = opts
        self.results = []
        self.acked_ids = []      # ingest: ids of records in batches answered 2xx
        self.unacked_ids = []    # ingest: ids of batches that got no 2xx (may or may not be stored)
        self.accepted = 0
        self.rejected = 0
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = []
        self.seq = 0
        self.nonce = opts.get("nonce") or f"soak{int(time.time())}{random.randint(0, 999):03d}"

    def start(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self._loop, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(self.timeout + 5)

    def _loop(self, i):
        interval = self.nthreads / self.rate if self.rate > 0 else 0
        nxt = time.monotonic() + (interval * i / self.nthreads if interval else 0)
        while not self.stop_event.is_set():
            if interval:
                delay = nxt - time.monotonic()
                if delay > 0 and self.stop_event.wait(delay):
                    break
                nxt = max(nxt + interval, time.monotonic() - interval)
            self._one(i)

    def _next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def _one(self, i):
        seq = self._next_seq()
        port = self.stack.port
        env = self.stack.env
        ids = None
        if self.kind == "ingest":
            batch = self.opts.get("batch", 100)
            prefix = f"{self.opts.get('phase', 'p')}-{self.nonce}-{seq}"
            body = run_records(prefix, batch)
            ids = [f"{prefix}-{j}" for j in range(1, batch + 1)]
            method, path = "POST", "/api/ops/ingest"
            headers = {"Authorization": f"Bearer {env['OPS_INGEST_TOKEN']}", "Content-Type": "application/x-ndjson"}
        elif self.kind == "read":
            paths = ["/api/ops/summary", "/api/ops/timeseries?metric=runs_by_hour&window=today",
                     "/api/ops/top?kind=agents&window=today&limit=5", "/api/ops/timeseries?metric=cost_by_hour&window=7d",
                     "/api/ops/top?kind=users&window=today&limit=10", "/api/ops/healthz"]
            method, path, body = "GET", paths[seq % len(paths)], None
            headers = {"Authorization": f"Bearer {env['OPS_ADMIN_TOKEN']}"}
        elif self.kind == "beacon":
            k = seq % 20
            route = f"/soak/page-{seq % 10}/{seq}"
            rep = {"message": f"TypeError: soak kind {chr(97 + k)} cannot read property of undefined",
                   "type": "error", "route": route, "build_hash": "soak",
                   "stack": f"TypeError: soak\n    at handler{k} (https://app.example/assets/app.js:1:{k})\n"
                            f"    at render{k % 3} (https://app.example/assets/app.js:2:3)",
                   "ts": int(time.time() * 1000)}
            method, path, body = "POST", "/api/ops/frontend-log", json.dumps(rep).encode()
            headers = {"Content-Type": "text/plain;charset=UTF-8"}
        elif self.kind == "logs":
            services = ["workers", "nginx-access", "postgres", "ticker", "monitor"]
            method = "GET"
            path, body = f"/api/ops/logs?service={services[seq % len(services)]}&tail=200", None
            headers = {"Authorization": f"Bearer {env['OPS_ADMIN_TOKEN']}"}
        else:
            raise ValueError(self.kind)
        t0 = time.time()
        try:
            status, rbody = http_request(port, method, path, body, headers, self.timeout)
        except (OSError, http.client.HTTPException) as e:
            r = Result(self.kind, t0, time.time(), None, error=f"{type(e).__name__}: {e}")
            with self.lock:
                self.results.append(r)
                if ids:
                    self.unacked_ids.extend(ids)
            return
        t1 = time.time()
        code, message = error_envelope(rbody) if status >= 400 else (None, None)
        r = Result(self.kind, t0, t1, status, code=code, envelope=code is not None, n=len(ids or []),
                   message=message)
        with self.lock:
            self.results.append(r)
            if ids:
                if 200 <= status < 300:
                    self.acked_ids.extend(ids)
                    try:
                        a = json.loads(rbody)
                        self.accepted += int(a.get("accepted", 0))
                        self.rejected += int(a.get("rejected", 0))
                    except ValueError:
                        pass
                else:
                    self.unacked_ids.extend(ids)


def summarize(results, hang_s):
    """Counts over Results: sent, 2xx, by status, 5xx by code, transport errors, slow ones."""
    s = {"sent": len(results), "ok": 0, "status": {}, "codes_5xx": {}, "errors": 0, "slow": 0,
         "max_s": 0.0, "first_error": None, "messages": {}}
    for r in results:
        d = r.t1 - r.t0
        s["max_s"] = max(s["max_s"], d)
        if d > hang_s:
            s["slow"] += 1
        if r.status is None:
            s["errors"] += 1
            s["first_error"] = s["first_error"] or r.error
            continue
        s["status"][str(r.status)] = s["status"].get(str(r.status), 0) + 1
        if 200 <= r.status < 300:
            s["ok"] += 1
        if r.status >= 500:
            key = r.code or f"{r.status}-no-envelope"
            s["codes_5xx"][key] = s["codes_5xx"].get(key, 0) + 1
            s["messages"].setdefault(f"{r.status} {key}", r.message)
    s["n5xx"] = sum(s["codes_5xx"].values())
    s["max_s"] = round(s["max_s"], 3)
    return s


def last_failure_end(results, after):
    """End time of the last request (started after `after`) that did not get 2xx/4xx."""
    t = None
    for r in results:
        if r.t0 >= after - 1 and (r.status is None or r.status >= 500):
            t = r.t1 if t is None else max(t, r.t1)
    return t


# --- WebSocket clients --------------------------------------------------------------------

class WSClients:
    """N ticker clients through nginx (/api/ws), run by asyncio in a child process of their own
    (so the HTTP load threads do not starve them of the GIL on a busy machine). Per client: the
    frames received, the first and last event id, the gaps in the ids it saw, its disconnects
    with their close codes, and catch-up truncations. Shared counters (`count`, `last`, `disc`)
    are live; the rest comes back from the child at stop()."""

    def __init__(self, stack, n):
        import multiprocessing as mp
        self.mp = mp.get_context("fork")
        self.stack, self.n = stack, n
        self.count = self.mp.Array("q", n)
        self.last = self.mp.Array("q", n)
        self.disc = self.mp.Array("q", n)
        self.stop_flag = self.mp.Event()
        self.ready = self.mp.Event()
        self.proc = None
        self.parent_conn = None
        self.clients = None

    def start(self, wait_s=20):
        self.parent_conn, child_conn = self.mp.Pipe(duplex=False)
        self.proc = self.mp.Process(target=self._child, args=(child_conn,), daemon=True)
        self.proc.start()
        self.ready.wait(wait_s)
        return self

    def stop(self):
        self.stop_flag.set()
        if self.parent_conn.poll(30):
            self.clients = self.parent_conn.recv()
        self.proc.join(10)
        if self.clients is None:
            self.clients = [{"received": self.count[i], "first": None, "last": self.last[i], "gaps": [],
                             "disconnects": self.disc[i], "close_codes": [], "truncated": 0,
                             "errors": ["client process sent no result"]} for i in range(self.n)]

    def _child(self, conn):
        self.stats = [{"received": 0, "first": None, "last": None, "gaps": [], "disconnects": 0,
                       "close_codes": [], "truncated": 0, "errors": [], "connected": False}
                      for _ in range(self.n)]
        asyncio.run(self._main())
        conn.send(self.stats)
        conn.close()

    async def _main(self):
        tasks = [asyncio.create_task(self._client(i)) for i in range(self.n)]
        while not self.stop_flag.is_set():
            if all(c["connected"] for c in self.stats):
                self.ready.set()
            await asyncio.sleep(0.2)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _client(self, i):
        import websockets
        c = self.stats[i]
        url = f"ws://127.0.0.1:{self.stack.port}/api/ws"
        headers = {"Authorization": f"Bearer {self.stack.env['OPS_ADMIN_TOKEN']}"}
        while not self.stop_flag.is_set():
            try:
                async with websockets.connect(url, additional_headers=headers, open_timeout=10,
                                              max_size=2 ** 22) as ws:
                    msg = {"type": "subscribe", "topics": ["ops:events"]}
                    if c["last"] is not None:
                        msg["since"] = c["last"]
                    await ws.send(json.dumps(msg))
                    async for raw in ws:
                        f = json.loads(raw)
                        t = f.get("type")
                        if t == "ops_event":
                            eid = f["id"]
                            prev = c["last"] if c["last"] is not None else c["first"]
                            if prev is not None and eid > prev + 1:
                                c["gaps"].append((prev, eid))
                            if c["last"] is None or eid > c["last"]:
                                c["last"] = eid
                                self.last[i] = eid
                            c["received"] += 1
                            self.count[i] = c["received"]
                        elif t == "subscribed":
                            c["connected"] = True
                            if c["first"] is None:
                                c["first"] = f.get("last_event_id") or 0
                        elif t == "catchup_truncated":
                            c["truncated"] += 1
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a drop: counted, then reconnect with `since` (catch-up)
                code = getattr(getattr(e, "rcvd", None), "code", None)
                c["close_codes"].append(code)
                if len(c["errors"]) < 3:
                    c["errors"].append(f"{type(e).__name__}: {e}"[:200])
            c["connected"] = False
            if self.stop_flag.is_set():
                break
            c["disconnects"] += 1
            self.disc[i] = c["disconnects"]
            await asyncio.sleep(1)

    def check(self, stack):
        """Per client: frames received, events expected in its window (rows of ops.events after
        the id it subscribed at, up to the last it got), lost = events in the gaps it saw."""
        out = []
        for c in self.clients:
            lost = 0
            for a, b in c["gaps"]:
                lost += int(stack.psql(f"SELECT count(*) FROM ops.events WHERE id > {int(a)} AND id < {int(b)};"))
            expected = 0
            if c["last"] is not None:
                expected = int(stack.psql(f"SELECT count(*) FROM ops.events WHERE id > {int(c['first'] or 0)} "
                                          f"AND id <= {int(c['last'])};"))
            out.append({"received": c["received"], "expected": expected, "lost": lost, "last": c["last"],
                        "disconnects": c["disconnects"], "close_codes": c["close_codes"],
                        "truncated": c["truncated"], "errors": c["errors"]})
        return out


def ticker_counters(stack):
    """(frames_dropped, slow_disconnects) summed over the tickers' rows in ops.ticker_stats."""
    out = stack.psql("SELECT coalesce(sum(frames_dropped), 0) || ' ' || coalesce(sum(slow_disconnects), 0) "
                     "FROM ops.ticker_stats;")
    d, s = out.split()
    return int(d), int(s)


# --- memory -------------------------------------------------------------------------------

class MemorySampler:
    """Every `every` seconds: VmRSS of each Opsplane process (workers, ticker, monitor), the sum
    of nginx's master and workers, Postgres' postmaster and backends (RSS and PSS: backends map
    the same shared buffers, so their RSS sum counts those many times), and Redis."""

    def __init__(self, stack, every):
        self.stack, self.every = stack, every
        self.samples = []   # (t, {name: kb})
        self.stop_event = threading.Event()
        self.thread = None

    def sample(self):
        p = self.stack.pids()
        row = {}
        for name in [k for k in p if k.startswith("fcgi-")] + ["ticker", "monitor"]:
            if p.get(name):
                row[name] = rss_kb(p[name])
        for name in ("nginx", "postgres"):
            if p.get(name):
                pids = [p[name]] + children(p[name])
                row[name] = sum(rss_kb(x) or 0 for x in pids)
                if name == "postgres":
                    row["postgres-pss"] = sum(pss_kb(x) or 0 for x in pids)
        if p.get("redis"):
            row["redis"] = rss_kb(p["redis"])
        self.samples.append((time.time(), row))

    def start(self):
        def loop():
            while True:
                self.sample()
                if self.stop_event.wait(self.every):
                    break
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        if self.thread:
            self.thread.join(10)
        self.sample()


def slope_mb_per_h(points):
    """Least-squares slope of [(t s, kb)] in MB per hour; None with fewer than 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return None
    num = sum((t - mt) * (v - mv) for t, v in points)
    return num / den * 3600 / 1024


def utc_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_s(x):
    return "-" if x is None else f"{x:.1f}"

