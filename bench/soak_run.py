#!/usr/bin/env python3
"""The phases of `make soak` (bench/soak.sh starts the stack and runs this against it).

Each phase adds one row to the table: what was done, requests sent / answered 2xx,
acknowledged items lost (records of batches answered 2xx that are not in ops.runs, beacons
answered 204 that were not stored, ticker frames a connected client never got), 5xx answers,
recovery time (fault until the last failed request ended) and processes restarted.

Knobs (environment, defaults in brackets):
  fault phases  SOAK_FAULT_CONNS [4] ingest clients sending back to back; SOAK_KILL_BATCH [500]
                records a batch in phase 1, SOAK_FAULT_BATCH [100] in phase 2;
                SOAK_FAULT_LEAD_S [4] load before the fault, SOAK_FAULT_TAIL_S [6] load after
                it; SOAK_KILL_DOWN_S [3] how long the killed worker stays down;
                SOAK_HANG_S [10] an answer slower than this counts as a hang
  phase 3       SOAK_DISK_HEADROOM_MB [6] free space left beside the filler file,
                SOAK_DISK_MAX_S [90] longest ingest into the full disk
  phase 4       SOAK_MINUTES [30]; SOAK_INGEST_RPS [2] batches/s of SOAK_BATCH [100] records;
                SOAK_READ_RPS [4] summary/timeseries/top/healthz; SOAK_BEACON_RPS [4];
                SOAK_LOG_RPS [0.2] log tails of 200 lines; SOAK_WS_CLIENTS [20];
                SOAK_SAMPLE_S [10] memory sampling; SOAK_MEM_WARMUP_S [min(120, a third of
                the run)] left out of the slope; a process is flat when its least-squares
                slope is below SOAK_FLAT_MB_PER_H [10] MB/h or its fitted growth over the
                measured window below SOAK_FLAT_MIN_MB [1]; SOAK_RSS_TARGET_MB [256]
  SOAK_STRICT [0]  1: unclean errors and memory misses fail the run too
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_lib import (Load, MemorySampler, Stack, WSClients, alive, connections_to, env_float,  # noqa: E402
                      env_int, last_failure_end, slope_mb_per_h, summarize, ticker_counters, utc_now)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK_SH = os.path.join(REPO, "deploy", "stack.sh")
STATE = os.environ["SOAK_STATE"]
PORT = int(os.environ["SOAK_PORT"])
PHASES = os.environ.get("SOAK_PHASES", "1234")
HANG_S = env_float("SOAK_HANG_S", 10)
STRICT = os.environ.get("SOAK_STRICT", "0") == "1"

rows = []
checks = []   # {"phase","check","ok","fatal","detail"}
report = {"started_at": utc_now(), "state": STATE, "port": PORT, "phases": {}}


def say(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def check(phase, name, ok, detail, fatal):
    checks.append({"phase": phase, "check": name, "ok": bool(ok), "fatal": fatal, "detail": detail})
    say(f"{'ok    ' if ok else ('FAILED' if fatal else 'MISSED')} phase {phase}: {name}: {detail}")


def restarts(before, after, on_purpose):
    """(restarted on purpose, restarted unexpectedly) by process name."""
    purposely, unexpected = [], []
    for name, ident in before.items():
        if ident is None:
            continue
        if after.get(name) != ident:
            (purposely if name in on_purpose else unexpected).append(name)
    return purposely, unexpected


def restart_cell(purposely, unexpected):
    cells = [f"{n} (killed)" if n.startswith("fcgi") else f"{n} (restarted)" for n in purposely]
    cells += [f"{n} UNEXPECTED" for n in unexpected]
    return ", ".join(cells) or "none"


def five_xx_cell(s):
    if not s["n5xx"]:
        return "0"
    return f"{s['n5xx']} (" + ", ".join(f"{k} {v}" for k, v in sorted(s["codes_5xx"].items())) + ")"


def add_row(phase, done, s, lost, recovery, restarted, extra=None):
    rows.append({"phase": phase, "done": done, "sent": s["sent"], "accepted": s["ok"], "lost": lost,
                 "5xx": five_xx_cell(s), "recovery_s": recovery, "restarted": restarted})
    report["phases"][phase] = {"summary": s, "lost": lost, "recovery_s": recovery, "restarted": restarted,
                               **(extra or {})}


def merge(*summaries):
    out = {"sent": 0, "ok": 0, "status": {}, "codes_5xx": {}, "errors": 0, "slow": 0, "max_s": 0.0,
           "first_error": None, "messages": {}}
    for s in summaries:
        for k in ("sent", "ok", "errors", "slow"):
            out[k] += s[k]
        out["max_s"] = max(out["max_s"], s["max_s"])
        out["first_error"] = out["first_error"] or s["first_error"]
        for k, v in s["messages"].items():
            out["messages"].setdefault(k, v)
        for d in ("status", "codes_5xx"):
            for k, v in s[d].items():
                out[d][k] = out[d].get(k, 0) + v
    out["n5xx"] = sum(out["codes_5xx"].values())
    return out


def ingest_loss(stack, load):
    missing = stack.missing_runs(load.acked_ids, STATE)
    stored_unacked = len(load.unacked_ids) - stack.missing_runs(load.unacked_ids, STATE) if load.unacked_ids else 0
    return missing, stored_unacked


# --- phase 1: kill -9 a worker under ingest load ----------------------------------------

def restart_worker(stack, n, argv, environ):
    """Starts worker n again exactly as stack.sh's worker_start did: same binary, arguments and
    environment (read from /proc before the kill), setsid + nohup, its log appended, pid file."""
    sock = stack.worker_sock(n)
    if os.path.exists(sock):
        os.unlink(sock)
    log = os.path.join(stack.log_dir, f"fcgi-{n}.log")
    env = {}
    for kv in environ.split(b"\0"):
        if b"=" in kv:
            k, v = kv.split(b"=", 1)
            env[k.decode()] = v.decode()
    r = subprocess.run(["bash", "-c", 'log=$1; shift; nohup setsid "$@" >>"$log" 2>&1 </dev/null & echo $!',
                        "bash", log] + argv, env=env, capture_output=True, text=True, check=True)
    pid = int(r.stdout.strip())
    with open(os.path.join(stack.run_dir, f"fcgi-{n}.pid"), "w") as f:
        f.write(f"{pid}\n")
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(sock) and alive(pid):
            return pid
        time.sleep(0.05)
    raise RuntimeError(f"restarted worker {n} (pid {pid}) did not open {sock}")


def phase_kill(stack):
    # Batches of 500 (as bench/activity.sh): a worker spends most of its time inside requests,
    # so the kill usually catches one in flight (the case that needs `non_idempotent`).
    conns, batch = env_int("SOAK_FAULT_CONNS", 4), env_int("SOAK_KILL_BATCH", 500)
    before = stack.identities()
    victim = "fcgi-1"
    pid = before[victim][0]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = f.read()
    say(f"phase 1: ingest load ({conns} clients, batches of {batch}), then kill -9 {victim} (pid {pid})")
    load = Load(stack, "ingest", threads=conns, batch=batch, phase="p1").start()
    time.sleep(env_float("SOAK_FAULT_LEAD_S", 4))
    err_log = os.path.join(stack.log_dir, "nginx-error.log")
    err_offset = os.path.getsize(err_log) if os.path.exists(err_log) else 0
    # Kill while the worker holds requests (up to 3 s of waiting for one), so the phase tests
    # what happens to a request in flight, not only connects to a dead socket.
    wait_until = time.time() + 3
    while connections_to(stack.worker_sock(1)) < 2 and time.time() < wait_until:
        time.sleep(0.002)
    in_flight_at_kill = connections_to(stack.worker_sock(1))
    t_kill = time.time()
    os.kill(pid, signal.SIGKILL)
    while alive(pid) and time.time() < t_kill + 5:
        time.sleep(0.01)
    time.sleep(env_float("SOAK_KILL_DOWN_S", 3))
    new_pid = restart_worker(stack, 1, argv, environ)
    t_back = time.time()
    say(f"phase 1: {victim} started again as pid {new_pid} after {t_back - t_kill:.1f} s")
    time.sleep(env_float("SOAK_FAULT_TAIL_S", 6))
    load.stop()
    after = stack.identities()
    s = summarize(load.results, HANG_S)
    missing, stored_unacked = ingest_loss(stack, load)
    entries = stack.access_log_since(t_kill - 1, uri_prefix="/api/ops/ingest")
    retried = [e for e in entries if "," in e.get("upstream_addr", "")]
    retried_ok = sum(1 for e in retried if 200 <= e["status"] < 300)
    # Why nginx moved on, from its error log: a request the killed worker had already taken
    # (connection reset / closed early: retried only thanks to `non_idempotent`) or a connect()
    # to the dead worker's socket (refused: retried for any method).
    with open(err_log, errors="replace") as f:
        f.seek(err_offset)
        elog = f.read()
    in_flight = sum(1 for ln in elog.splitlines() if "fcgi-1.sock" in ln and
                    ("prematurely closed" in ln or "reset by peer" in ln or "Broken pipe" in ln))
    refused = sum(1 for ln in elog.splitlines() if "fcgi-1.sock" in ln and "connect() to" in ln)
    purposely, unexpected = restarts(before, after, {victim})
    lf = last_failure_end(load.results, t_kill)
    recovery = round(lf - t_kill, 2) if lf else 0.0
    done = (f"kill -9 {victim} under ingest ({conns} clients x {batch} records); nginx retried {len(retried)} "
            f"batches on the other worker ({retried_ok} 2xx; {in_flight_at_kill} connections open on the worker "
            f"at the kill, {in_flight} requests cut in flight, "
            f"{refused} connects to its socket failed); worker restarted by the soak after {t_back - t_kill:.1f} s")
    add_row("1 kill -9 worker", done, s, missing, recovery, restart_cell(purposely, unexpected),
            {"acked_records": len(load.acked_ids), "missing_records": missing,
             "unacked_records_stored": stored_unacked, "unacked_records": len(load.unacked_ids),
             "nginx_retried": len(retried), "nginx_retried_2xx": retried_ok,
             "connections_at_kill": in_flight_at_kill, "nginx_in_flight_on_killed": in_flight, "nginx_connect_refused": refused,
             "worker_back_s": round(t_back - t_kill, 2), "accepted": load.accepted, "rejected": load.rejected})
    check("1", "acknowledged records stored", missing == 0,
          f"{len(load.acked_ids)} acknowledged, {missing} missing", True)
    check("1", "no unexpected restart", not unexpected, restart_cell(purposely, unexpected), True)
    check("1", "killed worker running again", new_pid in (after.get(victim) or (None,)), f"pid {new_pid}", True)
    check("1", "no failed request (nginx retried elsewhere)", s["ok"] == s["sent"],
          f"{s['sent'] - s['ok']} of {s['sent']} not 2xx {s['status']}", STRICT)


# --- phase 2: restart Postgres under load ------------------------------------------------

def phase_pg_restart(stack):
    conns, batch = env_int("SOAK_FAULT_CONNS", 4), env_int("SOAK_FAULT_BATCH", 100)
    before = stack.identities()
    say(f"phase 2: ingest ({max(1, conns - 1)} clients) and reads (2 clients) and one ticker client, "
        "then pg_ctl restart -m fast")
    ws = WSClients(stack, 1).start()
    ingest = Load(stack, "ingest", threads=max(1, conns - 1), batch=batch, phase="p2").start()
    reads = Load(stack, "read", threads=2).start()
    time.sleep(env_float("SOAK_FAULT_LEAD_S", 4))
    frames_before = ws.count[0]
    t0 = time.time()
    r = stack.pg_ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", os.path.join(stack.log_dir, "postgres.log"))
    t1 = time.time()
    say(f"phase 2: pg_ctl restart took {t1 - t0:.1f} s (exit {r.returncode})")
    time.sleep(env_float("SOAK_FAULT_TAIL_S", 6))
    ingest.stop()
    reads.stop()
    time.sleep(1)
    frames_after = ws.count[0] - frames_before
    ws.stop()
    after = stack.identities()
    si, sr = summarize(ingest.results, HANG_S), summarize(reads.results, HANG_S)
    s = merge(si, sr)
    missing, stored_unacked = ingest_loss(stack, ingest)
    lf = max([x for x in (last_failure_end(ingest.results, t0), last_failure_end(reads.results, t0)) if x] or [0])
    recovery = round(lf - t0, 2) if lf else 0.0
    purposely, unexpected = restarts(before, after, {"postgres"})
    unclean = {k: v for k, v in s["codes_5xx"].items() if k not in ("database_unavailable",)}
    done = (f"pg_ctl restart -m fast ({t1 - t0:.1f} s) under ingest + reads; 5xx were "
            f"{'only database_unavailable envelopes' if not unclean else 'NOT all clean'}; "
            f"ticker client: {ws.disc[0]} disconnects, {frames_after} frames after the restart")
    add_row("2 restart Postgres", done, s, missing, recovery, restart_cell(purposely, unexpected),
            {"acked_records": len(ingest.acked_ids), "missing_records": missing,
             "unacked_records_stored": stored_unacked, "pg_restart_s": round(t1 - t0, 2),
             "pg_ctl_exit": r.returncode, "ingest": si, "reads": sr, "ws_disconnects": ws.disc[0],
             "ws_frames_after_restart": frames_after})
    check("2", "acknowledged records stored", missing == 0, f"{len(ingest.acked_ids)} acknowledged, {missing} missing", True)
    check("2", "no unexpected restart (workers, ticker, monitor, nginx keep their pids)", not unexpected,
          restart_cell(purposely, unexpected), True)
    check("2", "pg_ctl restart succeeded", r.returncode == 0, r.stderr.strip()[-200:] or "exit 0", True)
    check("2", "clean errors: only 503 database_unavailable envelopes, no transport error, no hang",
          not unclean and s["errors"] == 0 and s["slow"] == 0,
          f"5xx {s['codes_5xx']}, transport errors {s['errors']}, slower than {HANG_S:g} s {s['slow']}, "
          f"max {s['max_s']} s", STRICT)
    check("2", "ticker client stayed connected and got events after the restart",
          ws.disc[0] == 0 and frames_after > 0, f"{ws.disc[0]} disconnects, {frames_after} frames", STRICT)


# --- phase 3: a full disk ------------------------------------------------------------------

def phase_disk():
    dstate = os.environ["SOAK_DISK_STATE"]
    if os.environ.get("SOAK_DISK_SKIP"):
        rows.append({"phase": "3 full disk", "done": f"skipped: {os.environ['SOAK_DISK_SKIP']}", "sent": 0,
                     "accepted": 0, "lost": 0, "5xx": "-", "recovery_s": None, "restarted": "-"})
        return
    dport = int(os.environ["SOAK_DISK_PORT"])
    mnt = os.path.join(dstate, "pg")
    env = dict(os.environ, STATE=dstate, PORT=str(dport), OPS_WORKERS="1", MONITOR="0", DEMO="0",
               OPS_PG_SHARED_BUFFERS="16MB")
    say(f"phase 3: a second stack in {dstate} (Postgres on a {os.environ['SOAK_DISK_MB']} MB tmpfs)")
    subprocess.run([STACK_SH, "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        _phase_disk(Stack(dstate, dport), mnt)
    finally:
        subprocess.run([STACK_SH, "down"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _phase_disk(ds, mnt):
    before = ds.identities()
    headroom = env_float("SOAK_DISK_HEADROOM_MB", 6) * 2 ** 20
    filler = os.path.join(mnt, "soak-filler")
    st = os.statvfs(mnt)
    want = st.f_bavail * st.f_frsize - headroom
    chunk = b"\0" * 2 ** 20
    written = 0
    with open(filler, "wb") as f:
        try:
            while written + len(chunk) <= want:
                f.write(chunk)
                written += len(chunk)
        except OSError:
            pass
    st = os.statvfs(mnt)
    say(f"phase 3: filler of {written / 2 ** 20:.0f} MB, {st.f_bavail * st.f_frsize / 2 ** 20:.1f} MB left; ingest until refused")
    load = Load(ds, "ingest", threads=2, batch=200, phase="p3").start()
    t_start = time.time()
    max_s = env_float("SOAK_DISK_MAX_S", 90)
    t_full = None
    while time.time() - t_start < max_s:
        time.sleep(0.5)
        with load.lock:
            res = list(load.results)
        bad = [r for r in res if r.status is None or r.status >= 300]
        if bad and t_full is None:
            t_full = bad[0].t0
        tail = res[-8:]
        if len(tail) == 8 and all(r.status is None or r.status >= 300 for r in tail):
            break
    load.stop()
    full_health = ds.health()
    st = os.statvfs(mnt)
    free_mb = st.f_bavail * st.f_frsize / 2 ** 20
    say(f"phase 3: disk full after {((t_full or time.time()) - t_start):.1f} s; healthz {full_health}; "
        f"{free_mb:.1f} MB free")
    pg_log = os.path.join(ds.log_dir, "postgres.log")
    with open(pg_log, errors="replace") as f:
        log = f.read()
    panics = log.count("PANIC:")
    enospc = log.count("No space left on device")
    pg_was_running = ds.pg_ctl("status").returncode == 0

    # Free the space; start Postgres again if it went down (the same port: the workers keep it).
    t_free = time.time()
    os.unlink(filler)
    pg_started = False
    if ds.pg_ctl("status").returncode != 0:
        say("phase 3: Postgres is down after the full disk: deploy/stack.sh pg-start")
        subprocess.run([STACK_SH, "pg-start"], env=dict(os.environ, STATE=ds.state), check=True,
                       stdout=subprocess.DEVNULL)
        pg_started = True
    t_healthy = None
    while time.time() - t_free < 60:
        if ds.health() == 200:
            t_healthy = time.time()
            break
        time.sleep(0.2)
    recovery = round(t_healthy - t_free, 2) if t_healthy else None
    # Writes work again.
    after_load = Load(ds, "ingest", threads=1, batch=200, phase="p3b")
    for _ in range(5):
        after_load._one(0)
    # The cluster restarts: `-m immediate` is a crash, so startup replays the WAL written while
    # the disk was full; the worker reconnects by itself.
    r = ds.pg_ctl("restart", "-m", "immediate", "-w", "-t", "60", "-l", pg_log)
    pg_restarted = r.returncode == 0
    t_r = time.time()
    while time.time() - t_r < 60 and ds.health() != 200:
        time.sleep(0.2)
    for _ in range(2):
        after_load._one(0)
    s_after = summarize(after_load.results, HANG_S)
    s = summarize(load.results, HANG_S)
    missing, stored_unacked = ingest_loss(ds, load)
    missing_after = ds.missing_runs(after_load.acked_ids, STATE)
    # Nothing corrupted: every B-tree index of ops (with all heap tuples present in it) and every
    # table's heap, by amcheck; and a full count.
    amcheck = ds.psql_super(
        "CREATE EXTENSION IF NOT EXISTS amcheck;\n"
        "SELECT count(*) FROM (SELECT bt_index_check(c.oid, true) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND n.nspname = 'ops' "
        "AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready) x;\n"
        "SELECT coalesce(sum((SELECT count(*) FROM verify_heapam(c.oid))), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ops' AND c.relkind IN ('r', 'm', 't');\n"
        "SELECT count(*) FROM ops.runs;\n")
    idx_checked, heap_corrupt, runs_total = (int(x) for x in amcheck.splitlines()[-3:])
    after = ds.identities()
    purposely, unexpected = restarts(before, after, {"postgres"})
    bad = {k: v for k, v in s["status"].items() if not k.startswith("2")}
    unclean = s["errors"] + s["slow"] + sum(v for k, v in s["codes_5xx"].items() if k.endswith("no-envelope"))
    clean_codes = ", ".join(f"{k} {v}" for k, v in sorted(s["codes_5xx"].items())) or "none"
    done = (f"Postgres dir on a tmpfs, filled to {os.environ.get('SOAK_DISK_HEADROOM_MB', '6')} MB free, ingest until "
            f"refused (statuses {bad}; Postgres log: {panics} PANIC, {enospc} ENOSPC; postmaster "
            f"{'survived' if pg_was_running else 'stopped'}); space freed"
            f"{', pg-start' if pg_started else ''}; crash restart (pg_ctl restart -m immediate) "
            f"{'ok' if pg_restarted else 'FAILED'}; amcheck: {idx_checked} indexes + heaps ok={heap_corrupt == 0}")
    restarted = restart_cell(purposely, unexpected)
    add_row("3 full disk", done, merge(s, s_after), missing + missing_after, recovery, restarted,
            {"acked_records": len(load.acked_ids), "missing_records": missing, "unacked_records_stored": stored_unacked,
             "filler_mb": round(written / 2 ** 20), "free_mb_when_full": round(free_mb, 1),
             "seconds_to_full": round((t_full or time.time()) - t_start, 1), "healthz_when_full": full_health,
             "pg_panics": panics, "pg_enospc_lines": enospc, "postmaster_survived": pg_was_running,
             "pg_started_again": pg_started, "crash_restart_ok": pg_restarted, "indexes_checked": idx_checked, "heap_corruption_rows": heap_corrupt,
             "runs_total": runs_total, "after_recovery": s_after, "codes": s["codes_5xx"]})
    check("3", "disk filled: ingest was refused", bool(bad), f"statuses {s['status']}", True)
    check("3", "clear errors: 5xx with an error envelope, no transport error or hang", unclean == 0,
          f"5xx codes: {clean_codes}; transport errors {s['errors']}; slow {s['slow']}", STRICT)
    # A client should learn that the database is full and that retrying later may work (503 with
    # Retry-After, or 507), not get the 500 of a bug.
    named = bool(s["codes_5xx"]) and all(k != "internal_error" and not k.endswith("no-envelope")
                                         for k in s["codes_5xx"])
    check("3", "the refusal tells the client the database is full / unavailable (not internal_error)", named,
          "; ".join(f"{k}: {v}" for k, v in s["messages"].items()) or "no 5xx", STRICT)
    check("3", "acknowledged records stored", missing == 0 and missing_after == 0,
          f"{len(load.acked_ids)} acknowledged before the disk filled, {missing} missing; "
          f"{len(after_load.acked_ids)} after, {missing_after} missing", True)
    check("3", "recovered after freeing space", t_healthy is not None and s_after["ok"] == s_after["sent"],
          f"healthz 200 after {recovery} s; {s_after['ok']}/{s_after['sent']} batches 2xx after "
          "(5 after freeing the space, 2 after the crash restart)", True)
    check("3", "the cluster restarts after the full disk (pg_ctl restart -m immediate: WAL replay)", pg_restarted,
          r.stderr.strip()[-200:] or "exit 0", True)
    check("3", "amcheck: indexes and heaps intact", heap_corrupt == 0 and idx_checked > 0,
          f"{idx_checked} B-tree indexes checked (heapallindexed), {heap_corrupt} heap corruption rows, "
          f"{runs_total} runs", True)
    check("3", "no unexpected restart", not unexpected, restarted, True)


# --- phase 4: mixed load and memory ------------------------------------------------------

def phase_mixed(stack):
    minutes = env_float("SOAK_MINUTES", 30)
    duration = minutes * 60
    batch = env_int("SOAK_BATCH", 100)
    rates = {"ingest": env_float("SOAK_INGEST_RPS", 2), "read": env_float("SOAK_READ_RPS", 4),
             "beacon": env_float("SOAK_BEACON_RPS", 4), "logs": env_float("SOAK_LOG_RPS", 0.2)}
    nws = env_int("SOAK_WS_CLIENTS", 20)
    every = env_float("SOAK_SAMPLE_S", 10)
    before = stack.identities()
    beacons0 = int(stack.psql("SELECT coalesce(sum(written), 0) FROM ops.frontend_log_routes WHERE route LIKE '/soak/%';"))
    say(f"phase 4: {minutes:g} min mixed load: ingest {rates['ingest']:g} batches/s x {batch}, reads "
        f"{rates['read']:g}/s, beacons {rates['beacon']:g}/s, log tails {rates['logs']:g}/s, {nws} ticker clients")
    ticker0 = ticker_counters(stack)
    ws = WSClients(stack, nws).start()
    sampler = MemorySampler(stack, every).start()
    loads = {k: Load(stack, k, threads=2 if k in ("ingest", "read") else 1, rate=r, batch=batch, phase="p4").start()
             for k, r in rates.items() if r > 0}
    t0 = time.time()
    while time.time() - t0 < duration:
        time.sleep(min(60, max(0.1, duration - (time.time() - t0))))
        tot = {k: len(l.results) for k, l in loads.items()}
        say(f"phase 4: {int(time.time() - t0)} s of {int(duration)}: requests {tot}")
    for ld in loads.values():
        ld.stop()
    # The ticker clients read up to the last event before they stop (a client that lags on a
    # busy machine would otherwise leave its tail unread, which is not a loss but hides one).
    last_event = int(stack.psql("SELECT coalesce(max(id), 0) FROM ops.events;"))
    t_drain = time.time()
    while time.time() - t_drain < 60 and any(x < last_event for x in ws.last):
        time.sleep(0.2)
    drain_s = round(time.time() - t_drain, 1)
    ws.stop()
    sampler.stop()
    after = stack.identities()
    summaries = {k: summarize(ld.results, HANG_S) for k, ld in loads.items()}
    s = merge(*summaries.values())
    lost_records, stored_unacked = ingest_loss(stack, loads["ingest"]) if "ingest" in loads else (0, 0)
    beacons_written = int(stack.psql(
        "SELECT coalesce(sum(written), 0) FROM ops.frontend_log_routes WHERE route LIKE '/soak/%';")) - beacons0
    beacons_204 = summaries.get("beacon", {}).get("status", {}).get("204", 0)
    lost_beacons = max(0, beacons_204 - beacons_written)
    wsc = ws.check(stack)
    behind = sum(1 for c in wsc if (c["last"] or 0) < last_event)
    dropped, slow = (x - y for x, y in zip(ticker_counters(stack), ticker0))
    lost_frames = sum(c["lost"] for c in wsc)
    ws_disc = sum(c["disconnects"] for c in wsc)
    by_policy = dropped > 0 or slow > 0
    fatal_frames = 0 if by_policy else lost_frames
    purposely, unexpected = restarts(before, after, set())
    mem = memory_table(sampler.samples, duration)
    done = (f"{minutes:g} min: {len(loads.get('ingest').acked_ids) if 'ingest' in loads else 0} records acked, "
            f"{summaries.get('read', {}).get('ok', 0)} reads, {beacons_204} beacons (204), "
            f"{summaries.get('logs', {}).get('ok', 0)} log tails, {nws} ticker clients got "
            f"{sum(c['received'] for c in wsc)} frames; lost = {lost_records} records + {lost_beacons} beacons + "
            f"{fatal_frames} frames" + (f" ({lost_frames} frames missed by clients the ticker counted as too slow: "
                                        f"{dropped} dropped, {slow} slow disconnects)" if by_policy and lost_frames else ""))
    add_row("4 mixed load", done, s, lost_records + lost_beacons + fatal_frames, None,
            restart_cell(purposely, unexpected),
            {"minutes": minutes, "rates": rates, "batch": batch, "per_kind": summaries,
             "acked_records": len(loads["ingest"].acked_ids) if "ingest" in loads else 0,
             "missing_records": lost_records, "unacked_records_stored": stored_unacked,
             "beacons_204": beacons_204, "beacons_stored": beacons_written, "ws_clients": wsc,
             "ws_frames_lost": lost_frames, "ws_disconnects": ws_disc, "ws_drain_s": drain_s,
             "ticker_frames_dropped": dropped, "ticker_slow_disconnects": slow,
             "ws_last_event": last_event, "memory": mem,
             "memory_samples": [[round(t, 1), r] for t, r in sampler.samples]})
    check("4", "acknowledged records stored", lost_records == 0, f"{lost_records} missing", True)
    check("4", "beacons answered 204 stored", lost_beacons == 0, f"{beacons_204} answered 204, {beacons_written} stored", True)
    codes = sorted({str(x) for c in wsc for x in c["close_codes"]})
    detail = (f"{lost_frames} frames missed, {ws_disc} disconnects (close codes {', '.join(codes) or '-'}), "
              f"{sum(c['truncated'] for c in wsc)} catch-ups truncated, {behind} clients short of the last event "
              f"{last_event} (waited {drain_s} s after the load stopped); the ticker counted {dropped} frames "
              f"dropped for slow clients and {slow} slow disconnects")
    # Frames the ticker itself dropped or cut off for a client that did not keep up are its
    # documented back-pressure (bounded queue, 4408 after a 15 s stall, catch-up capped at
    # 1,000), and the events stay in ops.events: a miss the ticker accounts for that way is
    # printed, not fatal; a miss it does not account for is a loss.
    clean = lost_frames == 0 and ws_disc == 0 and behind == 0
    check("4", "ticker clients got every event", clean, detail, not by_policy)
    if not clean and by_policy:
        check("4", "ticker: frames missed only by its slow-client policy (clients could not keep up)", True,
              "see the line above; rerun on a quieter machine or with fewer SOAK_WS_CLIENTS", False)
    check("4", "no unexpected restart", not unexpected, restart_cell(purposely, unexpected), True)
    check("4", "no 5xx or transport error", s["n5xx"] == 0 and s["errors"] == 0,
          f"5xx {s['codes_5xx']}, transport errors {s['errors']} ({s['first_error']})", STRICT)
    for name, m in mem["processes"].items():
        if m.get("opsplane"):
            check("4", f"memory flat: {name}", m["flat"], f"slope {m['slope_mb_h']} MB/h, fitted growth "
                  f"{m['growth_in_window_mb']} MB over the measured window (flat: below {mem['flat_mb_per_h']:g} MB/h "
                  f"or {env_float('SOAK_FLAT_MIN_MB', 1):g} MB)", STRICT)
    tot = mem["opsplane_total"]
    check("4", f"Opsplane processes together under {mem['target_mb']:g} MB resident", tot["max_mb"] < mem["target_mb"],
          f"max {tot['max_mb']} MB", STRICT)


def memory_table(samples, duration):
    flat = env_float("SOAK_FLAT_MB_PER_H", 10)
    target = env_float("SOAK_RSS_TARGET_MB", 256)
    warm = env_float("SOAK_MEM_WARMUP_S", min(120, duration / 3))
    min_mb = env_float("SOAK_FLAT_MIN_MB", 1)
    if not samples:
        return {"processes": {}, "opsplane_total": {"max_mb": 0}, "flat_mb_per_h": flat, "target_mb": target}
    t_first = samples[0][0]
    names = []
    for _, r in samples:
        for k in r:
            if k not in names:
                names.append(k)
    ours = [n for n in names if n.startswith("fcgi-") or n in ("ticker", "monitor")]
    series = {n: [(t, r[n]) for t, r in samples if r.get(n) is not None] for n in names}
    series["opsplane total"] = [(t, sum(r.get(n) or 0 for n in ours)) for t, r in samples]
    out = {}
    for n, pts in series.items():
        if not pts:
            continue
        steady = [(t, v) for t, v in pts if t - t_first >= warm]
        if len(steady) < 3:
            steady = pts
        sl = slope_mb_per_h(steady)
        window_h = (steady[-1][0] - steady[0][0]) / 3600
        # Flat: slope under `flat` MB/h, or a fitted growth over the measured window under
        # SOAK_FLAT_MIN_MB (default 1 MB): allocators grow in steps, so a run of a few minutes
        # cannot tell a slope below that from noise (the 30-minute default run can).
        growth = None if sl is None else sl * window_h
        out[n] = {"start_mb": round(pts[0][1] / 1024, 1), "end_mb": round(pts[-1][1] / 1024, 1),
                  "max_mb": round(max(v for _, v in pts) / 1024, 1),
                  "slope_mb_h": None if sl is None else round(sl, 1),
                  "growth_in_window_mb": None if growth is None else round(growth, 2),
                  "flat": sl is not None and (sl < flat or growth < min_mb),
                  "opsplane": n in ours or n == "opsplane total", "samples": len(pts)}
    return {"processes": {k: v for k, v in out.items() if k != "opsplane total"},
            "opsplane_total": out["opsplane total"], "flat_mb_per_h": flat, "target_mb": target,
            "warmup_s": warm, "sample_every_s": env_float("SOAK_SAMPLE_S", 10)}


# --- the report ------------------------------------------------------------------------------

def table(header, body):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def render():
    out = [f"make soak: {report['started_at']} .. {utc_now()}, stack {STATE} on 127.0.0.1:{PORT}, "
           f"{os.environ.get('OPS_WORKERS', '2')} workers x {os.environ.get('OPS_FCGI_THREADS', '4')} threads", ""]
    out.append(table(["phase", "sent", "2xx", "lost", "5xx", "recovery s", "restarted"],
                     [[r["phase"], r["sent"], r["accepted"], r["lost"], r["5xx"],
                       "-" if r["recovery_s"] is None else f"{r['recovery_s']:.2f}", r["restarted"]] for r in rows]))
    out.append("")
    for r in rows:
        out.append(f"{r['phase']}: {r['done']}")
    out.append("")
    out.append("sent = requests; 2xx = answered 2xx; lost = acknowledged items missing afterwards (records of 2xx "
               "ingest batches not in ops.runs, 204 beacons not stored, ticker frames a connected client never got); "
               "recovery = from the fault (phase 3: from freeing the space) until the last failed request ended "
               "(phase 3: until healthz answered 200).")
    mem = report["phases"].get("4 mixed load", {}).get("memory")
    if mem and mem["processes"]:
        out.append("")
        out.append(f"resident memory in phase 4 (MB; sampled every {mem['sample_every_s']:g} s; slope by least squares "
                   f"after the first {mem['warmup_s']:.0f} s; flat = below {mem['flat_mb_per_h']:g} MB/h, or fitted growth "
                   f"over that window under {env_float('SOAK_FLAT_MIN_MB', 1):g} MB)")
        body = []
        for n, m in list(mem["processes"].items()) + [("opsplane total", mem["opsplane_total"])]:
            kind = "opsplane" if m.get("opsplane") else ("sum of workers" if n in ("workers",) else "")
            if n == "opsplane total":
                kind = f"target < {mem['target_mb']:g} MB: {'ok' if m['max_mb'] < mem['target_mb'] else 'MISSED'}"
            elif n == "postgres":
                kind = "postmaster + backends, RSS sum (shared buffers counted per process)"
            elif n == "postgres-pss":
                kind = "the same, proportional set size (shared pages split)"
            elif n == "nginx":
                kind = "master + workers"
            elif n == "redis":
                kind = "the stack's Redis (not Opsplane)"
            verdict = ("flat" if m["flat"] else "GROWING") if m.get("opsplane") else "(not judged)"
            body.append([n, m["start_mb"], m["end_mb"], m["max_mb"], "-" if m["slope_mb_h"] is None else m["slope_mb_h"],
                         verdict, kind])
        out.append(table(["process", "start", "end", "max", "MB/h", "", "note"], body))
    out.append("")
    out.append("checks:")
    for c in checks:
        mark = "ok    " if c["ok"] else ("FAILED" if c["fatal"] else "MISSED")
        out.append(f"  {mark} [{c['phase']}] {c['check']}: {c['detail']}")
    failed = [c for c in checks if not c["ok"] and c["fatal"]]
    out.append("")
    out.append("result: " + ("PASS (nothing acknowledged lost, no unexpected restart)" if not failed
                             else f"FAIL ({len(failed)} failed check(s))"))
    return "\n".join(out), not failed


def main():
    # SIGTERM (timeout, a CI cancel) ends the run like Ctrl-C: the report of what was done so far
    # is still printed and written, then soak.sh takes the stacks down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = Stack(STATE, PORT)
    phases = {"1": phase_kill, "2": phase_pg_restart, "3": lambda _s: phase_disk(), "4": phase_mixed}
    try:
        for p in "1234":
            if p in PHASES:
                try:
                    phases[p](stack)
                except Exception as e:  # a phase that broke is a failed check, the others still run
                    check(p, "phase ran to its end", False, f"{type(e).__name__}: {e}", True)
                    say(f"phase {p} broke: {type(e).__name__}: {e}")
    finally:
        text, ok = render()
        report["finished_at"] = utc_now()
        report["rows"] = rows
        report["checks"] = checks
        report["pass"] = ok
        with open(os.path.join(STATE, "soak-report.json"), "w") as f:
            json.dump(report, f, indent=1)
        with open(os.path.join(STATE, "soak-report.txt"), "w") as f:
            f.write(text + "\n")
        print(text, flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
