"""The live ticker through nginx: /api/ws, the subscribe protocol, catch-up, back-pressure,
a Postgres restart, and SIGTERM. Talks to the real `opsplane ticker` of the stack."""

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

import helpers

WS_PATH = "/api/ws"


def ws_url(stack):
    return stack.url.replace("http://", "ws://", 1) + WS_PATH


def iso_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ingest_runs(stack, run_ids, status="running"):
    now = iso_now()
    body = "".join(json.dumps({"kind": "run", "run_id": r, "agent_id": "ticker-agent", "user_id": "ticker-user",
                               "status": status, "created_at": now, "started_at": now}) + "\n" for r in run_ids)
    resp = requests.post(stack.url + "/api/ops/ingest", data=body.encode(), timeout=30,
                         headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}",
                                  "Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.json()["accepted"] == len(run_ids), helpers.describe(resp)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws, since=None):
    msg = {"type": "subscribe", "topics": ["ops:events"]}
    if since is not None:
        msg["since"] = since
    await ws.send(json.dumps(msg))
    ack = await recv_json(ws)
    assert ack.get("type") == "subscribed", f"expected the subscribe acknowledgement, got {ack}"
    return ack


async def frames_for(ws, run_ids, timeout=10.0):
    """Collect ops_event frames until every run id in run_ids has been seen."""
    want, seen, frames = set(run_ids), set(), []
    deadline = time.monotonic() + timeout
    while want - seen:
        left = deadline - time.monotonic()
        assert left > 0, f"the ticker never delivered events for {sorted(want - seen)[:5]}… (got {len(seen)} of {len(want)})"
        frame = await recv_json(ws, left)
        if frame.get("type") == "ops_event":
            frames.append(frame)
            rid = frame["data"].get("run_id")
            if rid in want:
                seen.add(rid)
    return frames


def run(coro):
    return asyncio.run(coro)


def test_no_credentials_is_401_before_upgrade(stack):
    async def go():
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(ws_url(stack), open_timeout=5):
                pass
        assert info.value.response.status_code == 401, f"expected HTTP 401, got {info.value.response.status_code}"
    run(go())


def test_viewer_gets_error_envelope_then_4403(stack):
    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_VIEWER_TOKEN"]),
                                      open_timeout=5) as ws:
            frame = await recv_json(ws)
            assert frame["type"] == "error" and frame["error"]["code"] == "forbidden", frame
            with pytest.raises(ConnectionClosed) as closed:
                await recv_json(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, closed.value
    run(go())


def test_admin_receives_run_events_in_the_spec_envelope(stack):
    rid = f"tick-{uuid.uuid4().hex[:8]}"

    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_ADMIN_TOKEN"])) as ws:
            await subscribe(ws)
            await asyncio.to_thread(ingest_runs, stack, [rid])
            frames = await frames_for(ws, [rid])
            f = frames[-1]
            assert f["v"] == 1 and f["type"] == "ops_event" and f["topic"] == "ops:events", f
            assert isinstance(f["ts"], int) and abs(f["ts"] / 1000 - time.time()) < 60, f"ts is not epoch ms: {f['ts']}"
            assert f["data"]["type"] == "run_started" and f["data"]["run_id"] == rid, f
    run(go())


def test_unknown_topic_and_bad_messages_get_errors_not_a_disconnect(stack):
    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_ADMIN_TOKEN"])) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["ops:secrets"]}))
            e = await recv_json(ws)
            assert e["type"] == "error" and e["error"]["code"] == "unknown_topic", e
            await ws.send("this is not json")
            e = await recv_json(ws)
            assert e["type"] == "error" and e["error"]["code"] == "bad_message", e
            await subscribe(ws)  # still connected and usable
    run(go())


def test_reconnect_with_since_catches_up_in_order(stack):
    prefix = uuid.uuid4().hex[:6]
    ids = [f"catch-{prefix}-{i}" for i in range(5)]  # ingest stores a batch in id order

    async def go():
        headers = auth(stack.env["OPS_ADMIN_TOKEN"])
        async with websockets.connect(ws_url(stack), additional_headers=headers) as ws:
            last = (await subscribe(ws))["last_event_id"]
        # Disconnected (a TV losing Wi-Fi): events happen meanwhile.
        await asyncio.to_thread(ingest_runs, stack, ids)
        async with websockets.connect(ws_url(stack), additional_headers=headers) as ws:
            await subscribe(ws, since=last)
            frames = await frames_for(ws, ids)
            got = [f["data"]["run_id"] for f in frames if f["data"].get("run_id") in ids]
            assert got == ids, f"catch-up out of order or incomplete: {got}"
            event_ids = [f["id"] for f in frames]
            assert event_ids == sorted(event_ids) and len(set(event_ids)) == len(event_ids), "duplicate or unordered ids"
    run(go())


def raw_ws_connect(stack):
    """A WebSocket client that completes the handshake, subscribes, and then never reads.
    It talks to the ticker directly (with the role header nginx would set): nginx would
    otherwise absorb megabytes in its own socket buffers before the ticker saw any stall."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", int(stack.env["OPS_TICKER_PORT"])))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {WS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nX-Ops-Role: admin\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    payload = json.dumps({"type": "subscribe", "topics": ["ops:events"]}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return s


def ticker_stats(stack):
    out = subprocess.run(["psql", stack.env["OPS_DATABASE_URL"], "-XAtc",
                          "SELECT coalesce(sum(frames_dropped),0), coalesce(sum(slow_disconnects),0) FROM ops.ticker_stats"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    dropped, slow = out.stdout.strip().split("|")
    return int(dropped), int(slow)


def test_a_stalled_client_never_delays_the_others(stack):
    before_dropped, before_slow = ticker_stats(stack)
    stalled = raw_ws_connect(stack)
    prefix = uuid.uuid4().hex[:6]
    ids = [f"flood-{prefix}-{i:05d}" for i in range(8000)]

    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_ADMIN_TOKEN"]),
                                      max_queue=None) as ws:
            await subscribe(ws)
            started = time.monotonic()
            for i in range(0, len(ids), 500):
                await asyncio.to_thread(ingest_runs, stack, ids[i:i + 500])
            await frames_for(ws, ids, timeout=120)  # generous: a loaded CI machine, not a speed check
            return time.monotonic() - started
    try:
        run(go())
        # The stalled client's queue overflowed (oldest dropped) while the fast one got everything.
        helpers.wait_until(lambda: ticker_stats(stack)[0] > before_dropped or ticker_stats(stack)[1] > before_slow,
                           timeout=15, what="the ticker to count frames dropped for the stalled client")
    finally:
        stalled.close()


@pytest.mark.disruptive
def test_clients_stay_connected_across_a_postgres_restart(stack):
    env = {**os.environ, "STATE": str(stack.state), "PORT": str(stack.port)}
    before, after = f"pg-before-{uuid.uuid4().hex[:6]}", f"pg-after-{uuid.uuid4().hex[:6]}"

    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_ADMIN_TOKEN"])) as ws:
            await subscribe(ws)
            await asyncio.to_thread(ingest_runs, stack, [before])
            await frames_for(ws, [before])
            await asyncio.to_thread(subprocess.run, [str(helpers.REPO / "deploy/stack.sh"), "pg-stop"], env=env,
                                    check=True, capture_output=True, timeout=60)
            await asyncio.to_thread(subprocess.run, [str(helpers.REPO / "deploy/stack.sh"), "pg-start"], env=env,
                                    check=True, capture_output=True, timeout=60)

            def ingest_when_up():
                helpers.wait_until(lambda: requests.get(stack.url + "/api/ops/healthz", timeout=5).status_code == 200,
                                   timeout=20, what="healthz after pg-start")
                ingest_runs(stack, [after])
            await asyncio.to_thread(ingest_when_up)
            # Same connection: the ticker reconnected to Postgres and re-listened by itself.
            await frames_for(ws, [after], timeout=20)
    run(go())


@pytest.mark.disruptive
def test_sigterm_closes_clients_with_1001(stack, tmp_path):
    # Its own ticker on a free port, talked to directly (as nginx would, with X-Ops-Role).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "ticker.log", "w")
    proc = subprocess.Popen([helpers.opsplane_binary(), "ticker", "--port", str(port)], stdout=log, stderr=log,
                            env={**os.environ, "OPS_DATABASE_URL": stack.env["OPS_DATABASE_URL"]})
    try:
        helpers.wait_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None,
                           timeout=15, what="the ticker to listen")

        async def go():
            async with websockets.connect(f"ws://127.0.0.1:{port}{WS_PATH}",
                                          additional_headers={"X-Ops-Role": "admin"}) as ws:
                await subscribe(ws)
                proc.send_signal(signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await recv_json(ws, timeout=10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value
        run(go())
        assert proc.wait(timeout=10) == 0, f"the ticker exited {proc.returncode}; log:\n{(tmp_path / 'ticker.log').read_text()}"
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def ingest_records(stack_url, token, records):
    body = "".join(json.dumps(r) + "\n" for r in records)
    resp = requests.post(stack_url + "/api/ops/ingest", data=body.encode(), timeout=30,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    assert resp.status_code == 200 and resp.json()["rejected"] == 0, helpers.describe(resp)


def test_run_status_mapping_reaches_the_ticker(stack):
    p = uuid.uuid4().hex[:6]
    now = iso_now()
    base = {"kind": "run", "agent_id": "ticker-agent", "user_id": "ticker-user", "created_at": now}
    steps = [
        [{**base, "run_id": f"map-{p}-a", "status": "queued"}, {**base, "run_id": f"map-{p}-b", "status": "queued"}],
        [{**base, "run_id": f"map-{p}-a", "status": "running", "started_at": now},
         {**base, "run_id": f"map-{p}-b", "status": "running", "started_at": now}],
        [{**base, "run_id": f"map-{p}-a", "status": "success", "finished_at": now},
         {**base, "run_id": f"map-{p}-b", "status": "failed", "finished_at": now, "error": "boom"},
         {**base, "run_id": f"map-{p}-c", "status": "canceled"}],
        # a marker run, so we know everything before it has arrived
        [{**base, "run_id": f"map-{p}-z", "status": "running", "started_at": now}],
    ]

    async def go():
        async with websockets.connect(ws_url(stack), additional_headers=auth(stack.env["OPS_ADMIN_TOKEN"])) as ws:
            await subscribe(ws)
            for batch in steps:
                await asyncio.to_thread(ingest_records, stack.url, stack.env["OPS_INGEST_TOKEN"], batch)
            frames = await frames_for(ws, [f"map-{p}-z"])
            seen = [(f["data"]["run_id"][-1], f["data"]["type"]) for f in frames
                    if str(f["data"].get("run_id", "")).startswith(f"map-{p}-")]
            assert seen == [("a", "run_started"), ("b", "run_started"), ("a", "run_success"), ("b", "run_failed"),
                            ("z", "run_started")], f"queued and canceled publish nothing; the rest map 1:1: {seen}"
    run(go())


from activity_helpers import budget_ops, budget_stack, finished_run, today_at  # noqa: E402,F401


def test_budget_denial_reaches_the_ticker(budget_ops):
    user = f"u-tick-{uuid.uuid4().hex[:6]}"
    url = budget_ops.url.replace("http://", "ws://", 1) + WS_PATH

    async def go():
        async with websockets.connect(url, additional_headers=auth(budget_ops.admin_token)) as ws:
            await subscribe(ws)
            await asyncio.to_thread(budget_ops.ingest_ok, [finished_run(f"r-{user}", "ag-1", today_at(1), today_at(61),
                                                                        user_id=user, cost_usd=1.5)])
            resp = await asyncio.to_thread(budget_ops.budget_check, user)
            assert resp.status_code == 429, f"a user at 150 % of the limit: {helpers.describe(resp)}"
            deadline = time.monotonic() + 10
            while True:
                left = deadline - time.monotonic()
                assert left > 0, "no budget_denied frame reached the ticker within 10 s"
                f = await recv_json(ws, left)
                if f.get("type") == "ops_event" and f["data"].get("type") == "budget_denied":
                    assert f["data"]["user_id"] == user, f
                    return
    run(go())
