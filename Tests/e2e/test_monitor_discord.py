"""The notification outbox end to end, against a local webhook receiver standing in for Discord.

Each test starts monitors of its own (webhook_receiver.MonitorProcess: own lock, own rules,
DISCORD_WEBHOOK_URL pointing at a receiver of its own) and either fires alerts through the
monitor or writes alert changes straight into ops.notification_outbox for that webhook (in
AlertStore's payload format). The receiver answers as scripted: success, 429 with
`retry_after` and X-RateLimit headers, 500, or no answer at all; it records what arrived when.

What is proven: nothing is queued or sent while DISCORD_ENABLE_ALERTS is off; a 429's
retry_after and the X-RateLimit headers are honoured; 500s and timeouts are retried; every
alert is delivered exactly once — across a SIGTERM or SIGKILL of the monitor, with a standby on
the same lock, and with two active monitors claiming from one outbox; a burst of 30 alerts
respects Discord's limits.
"""

import datetime as dt
import json
import secrets
import signal
import time

import pytest
import requests

import helpers
from webhook_receiver import (MonitorProcess, WebhookReceiver, alert_payload, fail, hang, ok, outbox_rows,
                              rate_limited, wait_for, webhook_hash)

TIMEOUT = 45
# Fast delivery settings for tests: a 1 s request timeout, 5 s claims, retries within 2 s.
DELIVERY = {"timeout_ms": 1000, "claim_s": 5, "max_backoff_s": 2}


def quiet_config(**alerts):
    """No probes and no rules of interest: only the outbox sender (and digest) work."""
    section = {"interval_s": 1, "default_rules": False,
               "rules": [{"name": f"e2e_idle_{secrets.token_hex(3)}", "metric": "queue_depth", "subjects": ["e2e-none"]}],
               "discord": DELIVERY}
    section.update(alerts)
    return {"services": [], "alerts": section}


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def monitors(stack, tmp_path):
    """monitors(config, **kwargs) -> a started MonitorProcess; every one stopped afterwards."""
    started = []

    def start(config, wait_active=True, **kwargs):
        m = MonitorProcess(helpers.opsplane_binary(), stack.env, config, tmp_path, **kwargs)
        started.append(m)
        m.start(wait_active=wait_active)
        return m

    yield start
    for m in started:
        m.stop()


def new_ids(n):
    base = 10_000_000 + secrets.randbelow(10**9)
    return list(range(base, base + n))


def outbox_state(stack, ids):
    out = stack.sql("SELECT coalesce(json_agg(json_build_object('id', id, 'sent', sent_at IS NOT NULL, 'attempts', attempts, "
                    "'status', last_status, 'error', last_error, 'claimed_by', claimed_by) ORDER BY id), '[]') "
                    "FROM ops.notification_outbox WHERE id = ANY(:'ids'::bigint[]);",
                    ids="{" + ",".join(map(str, ids)) + "}")
    return json.loads(out)


def all_sent(stack, ids):
    return wait_for(lambda: (lambda rows: len(rows) == len(ids) and all(r["sent"] for r in rows) and rows)(outbox_state(stack, ids)),
                    TIMEOUT, f"outbox rows {ids[:3]}… marked sent")


def assert_exactly_once(receiver, alert_ids, event="fired"):
    delivered = [i for i, e in receiver.delivered_alerts() if e == event and i in set(alert_ids)]
    missing = sorted(set(alert_ids) - set(delivered))
    twice = sorted({i for i in delivered if delivered.count(i) > 1})
    assert not missing and not twice, f"missing {missing}, delivered more than once {twice}"


# --- off means off -----------------------------------------------------------------------------

def test_nothing_is_queued_or_sent_when_alerts_are_disabled(stack, receiver, monitors):
    queue = f"e2e-discord-off-{secrets.token_hex(3)}"
    rule = f"e2e_off_{secrets.token_hex(3)}"
    config = quiet_config(failure_threshold=1, success_threshold=1,
                          rules=[{"name": rule, "metric": "queue_depth", "threshold": 100, "subjects": [queue]}])
    monitors(config, webhook_url=receiver.url, enable=False)
    # A row queued earlier (while notifications were on) must not be sent either.
    [earlier] = outbox_rows(stack, receiver.url, [alert_payload(new_ids(1)[0], "queued before")], f"e2e-off-{queue}")
    ingest_queue(stack, queue, 500)
    alert = wait_for(lambda: alert_of(stack, rule), TIMEOUT, "the alert fires with notifications off")
    ingest_queue(stack, queue, 1)
    wait_for(lambda: alert_of(stack, rule, "resolved"), TIMEOUT, "the alert resolves")
    queued = stack.sql("SELECT count(*) FROM ops.notification_outbox WHERE (payload->>'alert_id')::bigint = :'id';", id=str(alert))
    assert queued.strip() == "0", "DISCORD_ENABLE_ALERTS=false queued a notification"
    assert not outbox_state(stack, [earlier])[0]["sent"], "DISCORD_ENABLE_ALERTS=false sent a queued row"
    assert receiver.snapshot() == [], f"the webhook was called while disabled: {receiver.snapshot()}"


def ingest_queue(stack, queue, depth):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    recs = [{"kind": "heartbeat", "component": queue, "component_type": "queue", "status": "ok", "ts": now,
             "metrics": {"depth": depth}}]
    resp = requests.post(stack.url + "/api/ops/ingest", data=json.dumps(recs), timeout=helpers.TIMEOUT,
                         headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}", "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, helpers.describe(resp)


def alert_of(stack, rule, state=None):
    out = stack.sql("SELECT id FROM ops.alerts WHERE rule = :'r' AND (:'s' = '' OR state = :'s') ORDER BY id DESC LIMIT 1;",
                    r=rule, s=state or "").strip()
    return int(out) if out else None


# --- rate limits ---------------------------------------------------------------------------------

def test_a_429_is_honoured_and_nothing_is_dropped(stack, receiver, monitors):
    # Longer than any backoff (max_backoff_s 2): a retry that ignored it would come too early.
    receiver.then(rate_limited(retry_after=3.0))
    ids = new_ids(3)
    rows = outbox_rows(stack, receiver.url, [alert_payload(i, f"rate limit test {i}") for i in ids], "e2e-429")
    monitors(quiet_config(), webhook_url=receiver.url)
    all_sent(stack, rows)
    got = receiver.snapshot()
    assert got[0].status == 429, got
    retry = got[1]
    waited = retry.arrived - got[0].answered
    assert waited >= 3.0, f"the retry came {waited:.3f} s after a 429 with retry_after 3.0"
    assert_exactly_once(receiver, ids)
    state = outbox_state(stack, rows)
    assert all(r["attempts"] == 2 and r["status"] == 204 for r in state), state
    limits = stack.sql("SELECT blocked_until IS NOT NULL FROM ops.webhook_limits WHERE webhook = :'w';", w=webhook_hash(receiver.url))
    assert limits.strip() == "t", "the 429 was recorded per webhook"


def test_rate_limit_headers_pause_the_next_request(stack, receiver, monitors):
    # The first answer succeeds but says the bucket is empty for 1.2 s.
    receiver.then(ok(204, {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "1.2"}))
    first, second = new_ids(2)
    rows = outbox_rows(stack, receiver.url, [alert_payload(first, "bucket 1")], "e2e-bucket")
    monitors(quiet_config(), webhook_url=receiver.url)
    all_sent(stack, rows)
    rows += outbox_rows(stack, receiver.url, [alert_payload(second, "bucket 2")], "e2e-bucket")
    all_sent(stack, rows)
    got = receiver.delivered()
    assert len(got) == 2, got
    assert got[1].arrived - got[0].answered >= 1.2, "X-RateLimit-Remaining 0 must hold the next request for Reset-After"
    assert_exactly_once(receiver, [first, second])


# --- failures ------------------------------------------------------------------------------------

def test_errors_and_timeouts_are_retried_until_delivered_once(stack, receiver, monitors):
    receiver.then(fail(500), hang(2.5), fail(502))
    [alert] = new_ids(1)
    rows = outbox_rows(stack, receiver.url, [alert_payload(alert, "retry me")], "e2e-retry")
    monitors(quiet_config(), webhook_url=receiver.url)
    [row] = all_sent(stack, rows)
    got = receiver.snapshot()
    assert got[0].status == 500 and got[1].hung and got[2].status == 502, got
    assert len(got) == 4 and got[3].delivered, got
    assert row["attempts"] == 4 and row["status"] == 204, row
    assert all(r.json == got[0].json for r in got), "every retry sends the same message"
    assert_exactly_once(receiver, [alert])
    errors = stack.sql("SELECT count(*) FROM ops.system_errors WHERE service = 'discord' AND ts > now() - interval '5 minutes';")
    assert int(errors) >= 3, "failed deliveries appear in ops.system_errors"


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_nothing_is_lost_or_sent_twice_across_a_restart(stack, receiver, monitors, sig):
    receiver.set_default(fail(503))
    ids = new_ids(5)
    rows = outbox_rows(stack, receiver.url, [alert_payload(i, f"restart {i}") for i in ids], f"e2e-restart-{sig}")
    m = monitors(quiet_config(), webhook_url=receiver.url)
    wait_for(lambda: len(receiver.snapshot()) >= 2, TIMEOUT, "the monitor retrying while Discord fails")
    m.kill(getattr(signal, sig))
    assert not any(r["sent"] for r in outbox_state(stack, rows))
    receiver.set_default(ok())
    m.start()
    all_sent(stack, rows)
    assert_exactly_once(receiver, ids)


# --- one sender at a time ---------------------------------------------------------------------------

def test_a_standby_on_the_same_lock_sends_nothing(stack, receiver, monitors):
    active = monitors(quiet_config(), webhook_url=receiver.url)
    standby = monitors(quiet_config(), webhook_url=receiver.url, lock=active.lock, wait_active=False)
    ids = new_ids(20)
    rows = outbox_rows(stack, receiver.url, [alert_payload(i, f"standby {i}") for i in ids], "e2e-standby")
    all_sent(stack, rows)
    assert_exactly_once(receiver, ids)
    claimers = {r["claimed_by"].rsplit(":", 1)[1] for r in outbox_state(stack, rows)}
    assert claimers == {str(active.proc.pid)}, f"rows claimed by pids {claimers}; only {active.proc.pid} holds the lock"
    assert "monitor lock acquired" not in standby.log()


def test_two_active_monitors_never_send_a_row_twice(stack, receiver, monitors):
    # Different locks: both act. Only the claim keeps them apart. A slow webhook keeps both
    # busy at the same time.
    receiver.set_default(ok())
    a = monitors(quiet_config(), webhook_url=receiver.url)
    b = monitors(quiet_config(), webhook_url=receiver.url)
    ids = new_ids(40)
    rows = []
    for chunk in range(0, 40, 4):   # arrive over time, so both claim some
        rows += outbox_rows(stack, receiver.url, [alert_payload(i, f"race {i}") for i in ids[chunk:chunk + 4]], "e2e-race")
        time.sleep(0.05)
    all_sent(stack, rows)
    assert_exactly_once(receiver, ids)
    claimers = {r["claimed_by"].rsplit(":", 1)[1] for r in outbox_state(stack, rows)}
    assert claimers <= {str(a.proc.pid), str(b.proc.pid)}, claimers


# --- Discord's limits ------------------------------------------------------------------------------

LIMITS = {"content": 2000, "embeds": 10, "embed_chars": 6000, "title": 256, "description": 4096,
          "fields": 25, "field_name": 256, "field_value": 1024, "footer": 2048}


def utf16(s):
    return len(s.encode("utf-16-le")) // 2


def check_limits(body):
    problems = []
    if utf16(body.get("content") or "") > LIMITS["content"]:
        problems.append("content")
    embeds = body.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for e in embeds:
        parts = {"title": e.get("title") or "", "description": e.get("description") or "",
                 "footer": (e.get("footer") or {}).get("text", "")}
        for name, text in parts.items():
            if utf16(text) > LIMITS[name]:
                problems.append(f"{name} {utf16(text)}")
            total += utf16(text)
        fields = e.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            problems.append(f"{len(fields)} fields")
        for f in fields:
            if utf16(f["name"]) > LIMITS["field_name"] or utf16(f["value"]) > LIMITS["field_value"]:
                problems.append("field")
            total += utf16(f["name"]) + utf16(f["value"])
    if total > LIMITS["embed_chars"]:
        problems.append(f"{total} embed characters")
    return problems


def test_a_burst_of_30_alerts_is_coalesced_within_discords_limits(stack, receiver, monitors):
    tag = secrets.token_hex(3)
    rule = f"e2e_burst_{tag}"
    # Long queue names make long titles and fields: the limits have to bite.
    queues = [f"e2e-burst-{tag}-{n:02d}-" + "q" * 150 for n in range(30)]
    config = quiet_config(failure_threshold=1, rules=[{"name": rule, "metric": "queue_depth", "threshold": 100,
                                                       "subjects": queues}])
    monitors(config, webhook_url=receiver.url)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    recs = [{"kind": "heartbeat", "component": q, "component_type": "queue", "status": "ok", "ts": now,
             "metrics": {"depth": 1000 + n}} for n, q in enumerate(queues)]
    resp = requests.post(stack.url + "/api/ops/ingest", data=json.dumps(recs), timeout=helpers.TIMEOUT,
                         headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}", "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 30, helpers.describe(resp)
    alert_ids = wait_for(lambda: (lambda ids: len(ids) == 30 and ids)(
        [int(x) for x in stack.sql("SELECT id FROM ops.alerts WHERE rule = :'r';", r=rule).split()]), TIMEOUT, "30 alerts")
    wait_for(lambda: {i for i, _ in receiver.delivered_alerts()} >= set(alert_ids), TIMEOUT, "all 30 alerts delivered")
    assert_exactly_once(receiver, alert_ids)
    mine = [r for r in receiver.delivered() if any(i in alert_ids for i, _ in receiver.alert_ids(r))]
    for r in mine:
        assert check_limits(r.json) == [], f"a message breaks Discord's limits: {check_limits(r.json)}"
    assert len(mine) < 30, f"30 alerts took {len(mine)} messages: the burst was not coalesced"
    assert any(len(r.json["embeds"]) > 1 for r in mine)
    # Leave nothing open: two good heartbeats per queue resolve the 30 alerts (success_threshold 2).
    for r in recs:
        r["metrics"]["depth"] = 0
    for round_ in range(2):
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for r in recs:
            r["ts"] = stamp
        resp = requests.post(stack.url + "/api/ops/ingest", data=json.dumps(recs), timeout=helpers.TIMEOUT,
                             headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}", "Content-Type": "application/json"})
        assert resp.status_code == 200, helpers.describe(resp)
        if round_ == 0:
            wait_for(lambda: stack.sql("SELECT count(*) FROM ops.alert_rule_state WHERE rule = :'r' AND recent LIKE '%O';",
                                       r=rule).strip() == "30", TIMEOUT, "a good heartbeat counted for every queue")
    wait_for(lambda: stack.sql("SELECT count(*) FROM ops.alerts WHERE rule = :'r' AND state <> 'resolved';", r=rule).strip() == "0",
             TIMEOUT, "the 30 alerts resolved")
    wait_for(lambda: stack.sql("SELECT count(*) FROM ops.notification_outbox WHERE webhook = :'w' AND sent_at IS NULL;",
                               w=webhook_hash(receiver.url)).strip() == "0", TIMEOUT, "the resolutions delivered too")
