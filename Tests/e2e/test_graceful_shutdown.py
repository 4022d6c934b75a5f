"""SIGTERM to a worker: it stops accepting, finishes what it accepted, exits 0 within 10 s,
and nginx sends everything else to the other workers, so clients lose nothing."""

import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

import fcgi_client
import helpers

EXIT_WITHIN_S = 10
LOAD_S = 3.0          # seconds of load through nginx
SIGTERM_AT_S = 1.0    # ... with the SIGTERM this far into it
LOAD_THREADS = 8

# Workers this module restarted: kept referenced so their Popen objects are not collected.
_restarted = []


# nginx retries a GET on another worker when the first one drops the connection, which would
# hide a worker that loses requests; a POST that reached a worker is never retried
# (fastcgi_next_upstream without non_idempotent), so the POSTs in the mix are what proves
# that requests already accepted are answered. POST /api/ops/ping is a 405 by design.
LOAD_MIX = [("GET", "/api/ops/ping", 200), ("POST", "/api/ops/ping", 405), ("GET", "/api/ops/healthz", 200)]


def run_load(url_base, stop, results):
    with requests.Session() as session:
        i = 0
        while not stop.is_set():
            method, path, expected = LOAD_MIX[i % len(LOAD_MIX)]
            i += 1
            try:
                resp = session.request(method, url_base + path, data=b'{"n":1}' if method == "POST" else None,
                                       timeout=helpers.TIMEOUT)
                problem = "" if resp.status_code == expected else f"{resp.status_code} {resp.text[:160]!r}"
            except requests.RequestException as exc:
                problem = repr(exc)
            results.append((method, path, problem))


def restart_like(snapshot, stack, name):
    """Start the worker again exactly as it was started (argv, env, cwd); update its pid file."""
    proc = snapshot.start(stack.worker_log(name))
    _restarted.append(proc)
    (stack.run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
    helpers.wait_for_socket(stack.worker_socket(name), proc)


@pytest.mark.disruptive
def test_sigterm_to_a_worker_under_load_loses_no_request(stack):
    pids = stack.worker_pids()
    assert len(pids) >= 2, f"needs at least 2 workers behind nginx (OPS_WORKERS), the stack has {pids}"
    name, pid = sorted(pids.items())[0]
    snapshot = helpers.ProcessSnapshot(pid)

    results, stop = [], threading.Event()
    threads = [threading.Thread(target=run_load, args=(stack.url, stop, results)) for _ in range(LOAD_THREADS)]
    try:
        for t in threads:
            t.start()
        time.sleep(SIGTERM_AT_S)
        os.kill(pid, signal.SIGTERM)
        sent_at = time.monotonic()
        time.sleep(max(0.0, LOAD_S - SIGTERM_AT_S))
        stop.set()
        for t in threads:
            t.join(helpers.TIMEOUT + 5)
        remaining = EXIT_WITHIN_S - (time.monotonic() - sent_at)
        helpers.wait_until(lambda: not helpers.process_alive(pid), max(remaining, 0.1), interval=0.05,
                           what=f"worker {name} (pid {pid}) exiting within {EXIT_WITHIN_S} s of SIGTERM")
    finally:
        stop.set()
        if not helpers.process_alive(pid):
            restart_like(snapshot, stack, name)

    failed = [r for r in results if r[2]]
    assert len(results) >= 100, f"the load produced only {len(results)} requests in {LOAD_S} s"
    assert not failed, (f"{len(failed)} of {len(results)} requests failed while worker {name} was stopping, "
                        f"e.g. {failed[:5]}")


@pytest.mark.disruptive
def test_restarted_worker_serves_again(stack):
    # Runs after the SIGTERM test: the stack is whole again for whatever comes next.
    for name, pid in stack.worker_pids().items():
        assert helpers.process_alive(pid), f"worker {name} (pid {pid}) is not running"
        resp = helpers.worker_answers(str(stack.worker_socket(name)))
        assert resp is not None and resp.status == 200, f"worker {name} does not answer: {resp!r}"


def test_sigterm_exits_0_within_10_s(own_worker):
    proc, sock, log = own_worker()
    for _ in range(5):
        assert helpers.worker_answers(str(sock)).status == 200
    sent_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert_exits_0_in_time(proc, sent_at, log)


def assert_exits_0_in_time(proc, sent_at, log):
    """The worker started by the test exits with status 0 within EXIT_WITHIN_S of SIGTERM."""
    try:
        code = proc.wait(max(0.1, EXIT_WITHIN_S - (time.monotonic() - sent_at)))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"worker still running {EXIT_WITHIN_S} s after SIGTERM; log:\n{helpers.tail(log)}") from None
    assert code == 0, f"worker exited with {code} after SIGTERM (expected 0); log:\n{helpers.tail(log)}"


def hold_request_in_flight(sock):
    """A connection the worker has accepted and is reading: parameters sent but not ended."""
    conn = fcgi_client.FcgiConnection(str(sock), timeout=EXIT_WITHIN_S)
    conn.begin()
    params = fcgi_client.encode_params(fcgi_client.cgi_params(
        "GET", "/api/ops/ping", headers={"X-Request-Id": "e2e-in-flight"}))
    conn.send_params_bytes(params)
    return conn


def finish_request(conn):
    conn.end_params()
    conn.send_stdin()
    return conn.read_response()


def test_sigterm_finishes_a_request_already_accepted(own_worker):
    proc, sock, log = own_worker()
    conn = hold_request_in_flight(sock)
    try:
        time.sleep(0.3)  # the worker has accepted the connection and waits for the rest
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, (
            f"worker exited ({proc.returncode}) with a request in flight; log:\n{helpers.tail(log)}")
        resp = finish_request(conn)
    finally:
        conn.close()
    assert resp is not None, f"the request in flight got no answer after SIGTERM; log:\n{helpers.tail(log)}"
    assert resp.status == 200 and resp.json() == {"ok": True}, f"the request in flight got {resp!r}"
    assert_exits_0_in_time(proc, sent_at, log)


def test_sigterm_refuses_new_connections_at_once(own_worker):
    # nginx only moves a request to another worker when connect() fails; a connection left
    # waiting in the backlog of a stopping worker would hang the client instead.
    proc, sock, log = own_worker()
    conn = hold_request_in_flight(sock)  # keeps the worker alive while stopping
    try:
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None, f"worker exited with a request in flight; log:\n{helpers.tail(log)}"
        outcome = try_new_request(sock)
        assert outcome in ("refused", "no socket", "closed"), \
            f"a new connection to a stopping worker was {outcome} (expected refused or closed at once)"
        finish_request(conn)
    finally:
        conn.close()


def try_new_request(sock):
    try:
        resp = fcgi_client.request(str(sock), "GET", "/api/ops/ping", timeout=3)
    except ConnectionRefusedError:
        return "refused"
    except FileNotFoundError:
        return "no socket"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except socket.timeout:
        return "left waiting (no answer within 3 s)"
    if resp is None:
        return "closed"
    return f"answered ({resp.status})"
