"""Alerts end to end: a monitor of the test's own fires, de-bounces and resolves alerts, the API
lists, shows and acknowledges them, and silences keep them out of Discord.

The monitor (webhook_receiver.MonitorProcess) has its own lock, so it acts next to the stack's
monitor, and its own rule names (`e2e_down_<tag>`, `e2e_queue_<tag>`), so neither monitor
touches the other's alerts. Its rules are driven by data the test controls:

- service_down: TCP services on loopback ports the test opens and closes. The status rows in
  ops.service_status are written the way a probe writes them (the probe agrees: the port is
  really open or closed), each with a new `checked_at`, since a probe result seen twice counts
  once;
- queue_depth: queue heartbeats pushed through the ingest API.

Discord is a local webhook receiver: each firing and resolution must reach it exactly once.
"""

import datetime as dt
import json
import secrets
import signal
import socket
import threading

import pytest
import requests

import helpers
from webhook_receiver import MonitorProcess, WebhookReceiver, wait_for, webhook_hash

TAG = secrets.token_hex(3)
RULE_DOWN = f"e2e_down_{TAG}"
RULE_QUEUE = f"e2e_queue_{TAG}"
DASHBOARD = "http://dashboard.example/admin/ops/"
TIMEOUT = 30


class TcpService:
    """A loopback port that is open (a listener) or closed, and its status row."""

    def __init__(self, stack, name):
        self.stack = stack
        self.name = name
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listener = None

    def config(self):
        return {"name": self.name, "kind": "tcp", "target": f"127.0.0.1:{self.port}", "interval_s": 1, "timeout_ms": 300}

    def up(self):
        if self.listener is None:
            self.listener = socket.socket()
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", self.port))
            self.listener.listen(16)
            threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        self.report("healthy", None)

    @staticmethod
    def _accept(listener):
        # A real server: accepts (and closes) what a TCP probe opens, so the backlog never fills.
        while True:
            try:
                conn, _ = listener.accept()
                conn.close()
            except OSError:
                return

    def down(self):
        self._close()
        self.report("down", f"connect 127.0.0.1:{self.port}: connection refused")

    def _close(self):
        # shutdown() first: it wakes the accepting thread, which would otherwise keep the
        # socket listening past close().
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None

    def report(self, status, message):
        """One probe result, as the health probe stores it."""
        self.stack.sql(
            "INSERT INTO ops.service_status (service, status, response_ms, message, consecutive_failures, checked_at, status_since) "
            "VALUES (:'s', :'st', 1, nullif(:'m', ''), CASE WHEN :'st' = 'down' THEN 1 ELSE 0 END, clock_timestamp(), now()) "
            "ON CONFLICT (service) DO UPDATE SET status = EXCLUDED.status, message = EXCLUDED.message, "
            "consecutive_failures = CASE WHEN EXCLUDED.status = 'down' THEN ops.service_status.consecutive_failures + 1 ELSE 0 END, "
            "checked_at = clock_timestamp();",
            s=self.name, st=status, m=message or "")

    def close(self):
        self._close()
        self.stack.sql("DELETE FROM ops.service_status WHERE service = :'s';", s=self.name)


class Alerts:
    """The API and the database, seen by an admin."""

    def __init__(self, stack):
        self.stack = stack
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {stack.env['OPS_ADMIN_TOKEN']}"

    def get(self, path, **params):
        return self.http.get(self.stack.url + path, params=params, timeout=helpers.TIMEOUT)

    def post(self, path, body, raw=False):
        data = body if raw else json.dumps(body)
        return self.http.post(self.stack.url + path, data=data, headers={"Content-Type": "application/json"},
                              timeout=helpers.TIMEOUT)

    def ok(self, resp, status=200):
        assert resp.status_code == status, helpers.describe(resp)
        return resp.json()

    def find(self, rule, subject, state=None):
        """The alert of `rule:subject` in the list (any state), or None."""
        params = {"limit": "500"}
        if state:
            params["state"] = state
        for a in self.ok(self.get("/api/ops/alerts", **params))["alerts"]:
            if a["rule"] == rule and (a["service"] == subject or a["detail"].get("queue") == subject):
                return a
        return None

    def wait_state(self, rule, subject, state):
        return wait_for(lambda: self.find(rule, subject, state), TIMEOUT, f"alert {rule}:{subject} {state}")

    def show(self, alert_id):
        return self.ok(self.get(f"/api/ops/alerts/{alert_id}"))

    def events(self, alert_id):
        out = self.stack.sql("SELECT coalesce(json_agg(type ORDER BY id), '[]') FROM ops.events "
                             "WHERE type LIKE 'alert_%' AND (data->>'alert_id')::bigint = :'id';", id=str(alert_id))
        return json.loads(out)

    def outbox(self, alert_id):
        out = self.stack.sql("SELECT coalesce(json_agg(json_build_object('kind', kind, 'event', payload->>'event', "
                             "'sent', sent_at IS NOT NULL) ORDER BY id), '[]') FROM ops.notification_outbox "
                             "WHERE kind IN ('alert', 'resolved') AND (payload->>'alert_id')::bigint = :'id';", id=str(alert_id))
        return json.loads(out)

    def rule_state(self, key):
        return self.stack.sql("SELECT recent FROM ops.alert_rule_state WHERE key = :'k';", k=key).strip()


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    """The services and queue, the receiver, and the monitor watching them."""
    receiver = WebhookReceiver()
    services = {name: TcpService(stack, f"e2e-alerts-{TAG}-{name}") for name in ("flow", "debounce", "silenced")}
    for s in services.values():
        s.up()
    queue = f"e2e-alerts-{TAG}-queue"
    config = {
        "services": [s.config() for s in services.values()],
        "alerts": {"interval_s": 0.3, "failure_threshold": 2, "success_threshold": 2, "default_rules": False,
                   "rules": [{"name": RULE_DOWN, "metric": "service_down"},
                             {"name": RULE_QUEUE, "metric": "queue_depth", "threshold": 100, "subjects": [queue]}],
                   "discord": {"timeout_ms": 2000, "claim_s": 5, "max_backoff_s": 2}},
    }
    monitor = MonitorProcess(helpers.opsplane_binary(), stack.env, config, tmp_path_factory.mktemp("alerts"),
                             webhook_url=receiver.url, dashboard_url=DASHBOARD)
    monitor.start()
    try:
        yield {"services": services, "queue": queue, "receiver": receiver, "monitor": monitor, "alerts": Alerts(stack)}
        # Let the last notifications go out, so no row waits for this receiver once it is gone.
        wait_for(lambda: stack.sql("SELECT count(*) FROM ops.notification_outbox WHERE webhook = :'w' AND sent_at IS NULL;",
                                   w=webhook_hash(receiver.url)).strip() == "0", TIMEOUT, "the outbox drained")
    finally:
        monitor.stop()
        receiver.close()
        for s in services.values():
            s.close()


def heartbeat(stack, queue, depth):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rec = {"kind": "heartbeat", "component": queue, "component_type": "queue", "status": "ok", "ts": now,
           "metrics": {"depth": depth, "processing_rate": 1.0, "failed": 0}}
    resp = requests.post(stack.url + "/api/ops/ingest", data=json.dumps([rec]),
                         headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}", "Content-Type": "application/json"},
                         timeout=helpers.TIMEOUT)
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, helpers.describe(resp)


def step(alerts, key, action, outcome):
    """Runs `action` (one probe result or heartbeat) and waits until the monitor counted it: the
    key's stored outcomes change and end with `outcome` (read before the action, so a monitor
    faster than the test cannot be missed)."""
    before = alerts.rule_state(key)
    action()
    return wait_for(lambda: (lambda r: r != before and r.endswith(outcome) and r)(alerts.rule_state(key)),
                    TIMEOUT, f"{key} counting {outcome} after {before!r}")


# --- firing, acknowledging, resolving --------------------------------------------------------

def test_service_down_fires_is_acknowledged_and_resolves(world, stack):
    alerts, svc, receiver = world["alerts"], world["services"]["flow"], world["receiver"]
    key = f"{RULE_DOWN}:{svc.name}"
    step(alerts, key, svc.down, "F")
    svc.down()   # the second failed probe reaches failure_threshold 2
    a = alerts.wait_state(RULE_DOWN, svc.name, "firing")
    assert a["severity"] == "critical" and a["service"] == svc.name and a["fire_count"] == 1, a
    # The title holds the probe's message: the test's report or, when the monitor's own tcp probe
    # of the closed port wrote last, strerror's "Connection refused".
    assert a["value"] == 1 and a["threshold"] == 1 and "connection refused" in a["title"].lower(), a
    assert a["acknowledged_at"] is None and a["resolved_at"] is None, a
    for field in ("first_fired_at", "last_fired_at"):
        assert a[field].endswith("Z"), f"{field} is not UTC: {a!r}"
    assert alerts.events(a["id"]) == ["alert_fired"], "the firing appends one alert_fired ticker event"

    who = alerts.ok(alerts.get("/api/ops/whoami"))["subject"]
    acked = alerts.ok(alerts.post(f"/api/ops/alerts/{a['id']}/ack", {"note": "on it"}))
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == who and acked["ack_note"] == "on it", acked
    assert [h["event"] for h in acked["history"]] == ["fired", "acknowledged"], acked["history"]
    assert acked["history"][1]["actor"] == who and acked["history"][1]["note"] == "on it"
    assert alerts.find(RULE_DOWN, svc.name, "acknowledged")["id"] == a["id"]
    assert alerts.find(RULE_DOWN, svc.name, "firing") is None
    listed = alerts.ok(alerts.get("/api/ops/alerts"))
    assert any(x["id"] == a["id"] for x in listed["alerts"]), "the default list shows open alerts"
    assert listed["counts"]["acknowledged"] >= 1, listed["counts"]

    step(alerts, key, svc.up, "O")
    svc.up()
    resolved = alerts.wait_state(RULE_DOWN, svc.name, "resolved")
    assert resolved["id"] == a["id"] and resolved["resolved_at"], resolved
    shown = alerts.show(a["id"])
    assert [h["event"] for h in shown["history"]] == ["fired", "acknowledged", "resolved"], shown["history"]
    assert alerts.events(a["id"]) == ["alert_fired", "alert_resolved"]
    assert alerts.ok(alerts.get("/api/ops/alerts"))["counts"]["resolved_24h"] >= 1
    helpers.assert_error_envelope(alerts.post(f"/api/ops/alerts/{a['id']}/ack", {}), 409, "alert_resolved")

    # Discord: the firing and the resolution, each exactly once, naming what matters.
    wait_for(lambda: ("resolved" in [e for i, e in receiver.delivered_alerts() if i == a["id"]]), TIMEOUT,
             "the resolution delivered")
    mine = [e for i, e in receiver.delivered_alerts() if i == a["id"]]
    assert mine == ["fired", "resolved"], f"deliveries for alert {a['id']}: {mine}"
    fired = next(r for r in receiver.delivered() if (a["id"], "fired") in receiver.alert_ids(r))
    embed = next(e for e in fired.json["embeds"] if f"#{a['id']} " in e["footer"]["text"])
    text = json.dumps(embed)
    assert svc.name in text and "CRITICAL" in embed["title"] and "down" in text, embed
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Service"] == svc.name and fields["Severity"] == "critical" and fields["Value"] == "down", fields
    assert fields["Threshold"] == "down", fields
    assert embed["url"] == f"{DASHBOARD}#alert-{a['id']}", embed
    assert fired.headers["content-type"] == "application/json"
    wait_for(lambda: all(o["sent"] for o in alerts.outbox(a["id"])), TIMEOUT, "both outbox rows marked sent")
    assert [o["event"] for o in alerts.outbox(a["id"])] == ["fired", "resolved"], alerts.outbox(a["id"])


def test_refiring_within_ten_minutes_keeps_the_alert(world):
    alerts, svc = world["alerts"], world["services"]["debounce"]
    key = f"{RULE_DOWN}:{svc.name}"
    step(alerts, key, svc.down, "F")
    svc.down()
    first = alerts.wait_state(RULE_DOWN, svc.name, "firing")
    step(alerts, key, svc.up, "O")
    svc.up()
    alerts.wait_state(RULE_DOWN, svc.name, "resolved")
    step(alerts, key, svc.down, "F")
    svc.down()
    again = alerts.wait_state(RULE_DOWN, svc.name, "firing")
    assert again["id"] == first["id"], f"a refire within 10 minutes reuses the alert: {first['id']} then {again['id']}"
    assert again["fire_count"] == 2 and again["resolved_at"] is None, again
    assert [h["event"] for h in alerts.show(again["id"])["history"]] == ["fired", "resolved", "refired"]
    assert alerts.events(again["id"]) == ["alert_fired", "alert_resolved", "alert_fired"]
    step(alerts, key, svc.up, "O")
    svc.up()
    alerts.wait_state(RULE_DOWN, svc.name, "resolved")


def test_one_breach_below_the_failure_threshold_fires_nothing_and_a_queue_alert_names_its_value(world, stack):
    alerts, queue = world["alerts"], world["queue"]
    key = f"{RULE_QUEUE}:{queue}"
    step(alerts, key, lambda: heartbeat(stack, queue, 500), "F")
    step(alerts, key, lambda: heartbeat(stack, queue, 5), "O")
    assert alerts.find(RULE_QUEUE, queue) is None, "a single breach must not fire (failure_threshold 2)"
    step(alerts, key, lambda: heartbeat(stack, queue, 500), "F")
    heartbeat(stack, queue, 650)
    a = alerts.wait_state(RULE_QUEUE, queue, "firing")
    assert a["value"] == 650 and a["threshold"] == 100 and a["severity"] == "warning" and a["service"] == queue, a
    assert queue in a["title"] and "650" in a["title"], a
    step(alerts, key, lambda: heartbeat(stack, queue, 3), "O")
    heartbeat(stack, queue, 2)
    alerts.wait_state(RULE_QUEUE, queue, "resolved")


def test_a_standby_continues_the_hysteresis_of_the_monitor_it_replaces(stack, tmp_path):
    queue, rule = f"e2e-alerts-{TAG}-takeover", f"e2e_takeover_{TAG}"
    key = f"{rule}:{queue}"
    config = {"services": [], "alerts": {"interval_s": 0.3, "failure_threshold": 2, "success_threshold": 2,
                                         "default_rules": False,
                                         "rules": [{"name": rule, "metric": "queue_depth", "threshold": 100, "subjects": [queue]}]}}
    alerts = Alerts(stack)
    first = MonitorProcess(helpers.opsplane_binary(), stack.env, config, tmp_path)
    second = MonitorProcess(helpers.opsplane_binary(), stack.env, config, tmp_path, lock=first.lock)
    try:
        first.start()
        step(alerts, key, lambda: heartbeat(stack, queue, 500), "F")
        first.kill(signal.SIGKILL)
        # The standby takes the lock over and counts the next breach as the second one.
        second.start()
        heartbeat(stack, queue, 600)
        a = alerts.wait_state(rule, queue, "firing")
        assert a["value"] == 600, a
        step(alerts, key, lambda: heartbeat(stack, queue, 1), "O")
        heartbeat(stack, queue, 2)
        alerts.wait_state(rule, queue, "resolved")
    finally:
        first.stop()
        second.stop()


# --- silences ---------------------------------------------------------------------------------

def test_a_silenced_alert_is_recorded_but_not_notified(world):
    alerts, svc = world["alerts"], world["services"]["silenced"]
    s = alerts.ok(alerts.post("/api/ops/silences", {"service": svc.name, "duration_s": 3600, "reason": "e2e maintenance"}), 201)
    assert s["service"] == svc.name and s["rule"] is None and s["reason"] == "e2e maintenance" and s["created_by"], s
    assert any(x["id"] == s["id"] for x in alerts.ok(alerts.get("/api/ops/silences"))["silences"])
    key = f"{RULE_DOWN}:{svc.name}"
    step(alerts, key, svc.down, "F")
    svc.down()
    a = alerts.wait_state(RULE_DOWN, svc.name, "firing")
    step(alerts, key, svc.up, "O")
    svc.up()
    alerts.wait_state(RULE_DOWN, svc.name, "resolved")
    # Notifications are queued in the same transaction as the alert change: none was.
    assert alerts.outbox(a["id"]) == [], f"a silenced alert was queued for Discord: {alerts.outbox(a['id'])}"
    history = alerts.show(a["id"])["history"]
    assert [h["event"] for h in history] == ["fired", "resolved"]
    assert "silenced" in (history[0]["note"] or ""), history
    assert a["id"] not in [i for i, _ in world["receiver"].delivered_alerts()]


# --- validation --------------------------------------------------------------------------------

def test_alert_routes_refuse_bad_input(world):
    alerts = world["alerts"]
    for params in ({"state": "open"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}, {"since": "1h"}):
        helpers.assert_error_envelope(alerts.get("/api/ops/alerts", **params), 400, "invalid_parameter")
    helpers.assert_error_envelope(alerts.get("/api/ops/alerts/999999999"), 404, "not_found")
    helpers.assert_error_envelope(alerts.get("/api/ops/alerts/abc"), 400, "invalid_id")
    helpers.assert_error_envelope(alerts.post("/api/ops/alerts/999999999/ack", {}), 404, "not_found")
    helpers.assert_error_envelope(alerts.post("/api/ops/alerts/1/ack", {"note": "x", "who": "me"}), 400, "unknown_field")
    helpers.assert_error_envelope(alerts.post("/api/ops/alerts/1/ack", {"note": "x" * 1001}), 400, "invalid_field")
    helpers.assert_error_envelope(alerts.post("/api/ops/alerts/1/ack", {"note": 5}), 400, "invalid_field")
    helpers.assert_error_envelope(alerts.post("/api/ops/alerts/1/ack", "{not json", raw=True), 400, "invalid_json")
    viewer = requests.get(alerts.stack.url + "/api/ops/alerts", timeout=helpers.TIMEOUT,
                          headers={"Authorization": f"Bearer {alerts.stack.env['OPS_VIEWER_TOKEN']}"})
    helpers.assert_error_envelope(viewer, 403)


def test_silences_refuse_bad_input(world):
    alerts = world["alerts"]
    now = dt.datetime.now(dt.timezone.utc)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    bad = [
        ({"duration_s": 60, "reason": "r"}, "missing_field"),
        ({"service": "s", "reason": "r"}, "invalid_field"),
        ({"service": "s", "duration_s": 60, "ends_at": stamp(now + dt.timedelta(hours=1)), "reason": "r"}, "invalid_field"),
        ({"service": "s", "ends_at": stamp(now - dt.timedelta(minutes=1)), "reason": "r"}, "invalid_field"),
        ({"service": "s", "ends_at": stamp(now + dt.timedelta(days=31)), "reason": "r"}, "invalid_field"),
        ({"service": "s", "ends_at": "tomorrow", "reason": "r"}, "invalid_timestamp"),
        ({"service": "s", "ends_at": "2030-01-01T00:00:00", "reason": "r"}, "invalid_timestamp"),
        ({"service": "s", "duration_s": 0, "reason": "r"}, "invalid_field"),
        ({"service": "s", "duration_s": 30 * 86400 + 1, "reason": "r"}, "invalid_field"),
        ({"service": "s", "duration_s": 60}, "invalid_field"),
        ({"service": "s", "duration_s": 60, "reason": "  "}, "invalid_field"),
        ({"service": "", "duration_s": 60, "reason": "r"}, "invalid_field"),
        ({"rule": 5, "duration_s": 60, "reason": "r"}, "invalid_field"),
        ({"service": "s", "duration_s": 60, "reason": "r", "until": "x"}, "unknown_field"),
    ]
    for body, code in bad:
        resp = alerts.post("/api/ops/silences", body)
        helpers.assert_error_envelope(resp, 400, code)
    ends = now + dt.timedelta(hours=2)
    s = alerts.ok(alerts.post("/api/ops/silences", {"rule": f"e2e_nothing_{TAG}", "ends_at": stamp(ends), "reason": "check"}), 201)
    assert s["ends_at"] == stamp(ends) and s["rule"] == f"e2e_nothing_{TAG}" and s["service"] is None, s
