"""Only one monitor acts (issue 6): two monitors with the same OPS_MONITOR_LOCK → exactly one is
active in ops.monitor_instances and only it probes and writes; SIGTERM the active one → the
other takes over and writes. Also: a service dropped from the configuration is marked inactive.

API assertions for the lead to add later: /api/operator/system/health (or metrics) shows the
active monitor instance; /api/monitoring/health leaves out inactive services.
"""

import signal

import time

import pytest

from monitor_health_helpers import (db, eventually, forget_services, http_service, instance_row,  # noqa: F401
                                    monitors, target, unique, wait_active, wait_status)


@pytest.fixture
def names(db, monitors):
    """unique(prefix) names for this test; their rows are removed afterwards."""
    tag = unique("hc-lk")
    yield lambda prefix: f"{tag}-{prefix}"
    monitors.stop_all()
    forget_services(db, tag + "-%")


def sample_count(db, service, after=None):
    q = "SELECT count(*) AS n FROM ops.probe_samples WHERE service = :'s'"
    if after is None:
        return db.row(q, s=service)["n"]
    return db.row(q + " AND ts > :'t'::timestamptz", s=service, t=after)["n"]


def test_one_monitor_acts_and_the_standby_takes_over(db, monitors, target, names):
    lock = unique("hc-lock")
    service = names("svc")
    path = f"/count-{service}"
    target.set(path, "ok")
    config = [http_service(service, target.url(path))]
    first = monitors.start(config, lock=lock)
    wait_active(db, first)
    second = monitors.start(config, lock=lock)

    def standby_registered():
        assert second.alive(), second.log()
        r = instance_row(db, second)
        assert r is not None and r["active"] is False, r
    eventually(standby_registered)
    eventually(lambda: _assert(sample_count(db, service) >= 3, "no samples yet"))
    # Exactly one of the two holds the lock, and the standby stays out of it.
    assert instance_row(db, first)["active"] is True
    assert instance_row(db, second)["active"] is False
    assert "probe scheduler active" not in second.log_path.read_text()

    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(20) == 0, first.log()
    stopped_at = db.run("SELECT now()").strip()
    assert instance_row(db, first)["active"] is False
    wait_active(db, second, timeout=20)
    eventually(lambda: _assert(sample_count(db, service, after=stopped_at) >= 2,
                               f"the standby wrote no samples after the takeover:\n{second.log()}"))
    assert second.proc.send_signal(signal.SIGTERM) is None and second.proc.wait(20) == 0, second.log()

    # Every probe the target saw was made by the monitor holding the lock, and written once:
    # a standby probing too would double the hits.
    hits, written = target.count(path), sample_count(db, service)
    assert written <= hits <= written + 2, f"{hits} requests for {written} samples"
    r = wait_status(db, service, "healthy", timeout=1)
    assert r["error_count"] == 0


def test_service_dropped_from_the_configuration_is_marked_inactive(db, monitors, target, names):
    keep, gone = names("keep"), names("gone")
    target.set("/ok", "ok")
    lock = names("lock")
    before = monitors.start([http_service(keep, target.url("/ok")), http_service(gone, target.url("/ok"))], lock=lock)
    wait_status(db, keep, "healthy", monitor=before)
    wait_status(db, gone, "healthy", monitor=before)
    assert before.stop() == 0
    # As if that monitor had been stopped for an hour (a service that was probed seconds ago
    # may still be another monitor's, and is given a few intervals' grace).
    db.run("UPDATE ops.service_status SET checked_at = now() - interval '1 hour' WHERE service = :'s';"
           "UPDATE ops.monitor_services SET updated_at = now() - interval '1 hour' WHERE name = :'s';", s=gone)
    # Another monitor's service, unprobed for a day: not this monitor's to retire.
    other = names("other")
    db.run("INSERT INTO ops.monitor_services (name, kind, target, interval_s, timeout_ms, updated_at, monitor_lock) "
           "VALUES (:'s', 'tcp', '127.0.0.1:1', 15, 1000, now() - interval '1 day', 'some-other-monitor')", s=other)
    try:
        # The same monitor (same lock) restarted with a file that no longer names `gone`.
        after = monitors.start([http_service(keep, target.url("/ok"))], lock=lock)
        wait_active(db, after)

        def retired():
            rows = {r["name"]: r["active"] for r in db.rows(
                "SELECT name, active FROM ops.monitor_services WHERE name IN (:'a', :'b', :'c')", a=keep, b=gone, c=other)}
            assert rows == {keep: True, gone: False, other: True}, rows
        eventually(retired, timeout=20)
    finally:
        db.run("DELETE FROM ops.monitor_services WHERE name = :'s'", s=other)
    # The stack's own services, probed by the stack's monitor, are not touched.
    stack_services = db.rows("SELECT name, active FROM ops.monitor_services WHERE name IN ('postgres', 'api')")
    assert all(r["active"] for r in stack_services), stack_services


def _assert(condition, message):
    assert condition, message
