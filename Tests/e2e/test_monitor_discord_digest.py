"""The daily digest's content for a known data set, and one digest per day and webhook.

The activity tables are emptied (`clean`), then yesterday (UTC) and the 7 days before it get
runs of two agents with known counts, costs, failures and durations. A monitor of the test's own
runs with DISCORD_DAILY_DIGEST_CRON="* * * * *", so the digest for yesterday is queued as soon
as it is active; the local webhook receiver must get exactly these figures.
"""

import datetime as dt
import re
import secrets

import pytest  # noqa: F401

import helpers
from activity_helpers import agent, clean, finished_run, ops, percentile, today_start  # noqa: F401
from webhook_receiver import MonitorProcess, WebhookReceiver, wait_for, webhook_hash

TIMEOUT = 30


def day(n, hour, minute=0):
    """n days before today, at hour:minute UTC."""
    return today_start() - dt.timedelta(days=n) + dt.timedelta(hours=hour, minutes=minute)


def known_runs(tag):
    alpha, beta = f"e2e-dg-{tag}-alpha", f"e2e-dg-{tag}-beta"
    recs = [agent(alpha, name="Alpha digest"), agent(beta, name="Beta digest")]
    n = 0

    def run(agent_id, start, ms, status, cost):
        nonlocal n
        n += 1
        return finished_run(f"e2e-dg-{tag}-{n}", agent_id, start, start + dt.timedelta(milliseconds=ms), status,
                            duration_ms=ms, cost_usd=cost)
    # Yesterday: alpha 6 successes (1–6 s, $0.10 each); beta 2 successes (0.5, 0.7 s, $0.05) and 1 failure.
    for i, ms in enumerate([1000, 2000, 3000, 4000, 5000, 6000]):
        recs.append(run(alpha, day(1, 10, i), ms, "success", 0.10))
    recs.append(run(beta, day(1, 11, 0), 500, "success", 0.05))
    recs.append(run(beta, day(1, 11, 1), 700, "success", 0.05))
    recs.append(run(beta, day(1, 11, 2), 100, "failed", 0.02))
    # The 7 days before: alpha 2 successes a day (1 s, $0.05), beta 1 failure a day (0.2 s, $0.01).
    for d in range(2, 9):
        recs.append(run(alpha, day(d, 9, 0), 1000, "success", 0.05))
        recs.append(run(alpha, day(d, 9, 1), 1000, "success", 0.05))
        recs.append(run(beta, day(d, 9, 2), 200, "failed", 0.01))
    # Eight days before yesterday: outside every window.
    recs.append(run(alpha, day(9, 12, 0), 9000, "success", 5.0))
    return alpha, beta, recs


def test_the_digest_reports_yesterday_against_the_week(clean, stack, tmp_path):
    ops = clean
    tag = secrets.token_hex(3)
    alpha, beta, recs = known_runs(tag)
    ops.ingest_ok(recs)
    title = f"Digest test alert {tag}"
    alert_id = int(ops.sql("INSERT INTO ops.alerts (rule, severity, dedupe_key, title, service) "
                           "VALUES ('e2e_digest', 'critical', :'k', :'t', 'e2e-digest') RETURNING id;",
                           k=f"e2e_digest:{tag}", t=title).split()[0])
    receiver = WebhookReceiver()
    first = second = None
    try:
        first = MonitorProcess(helpers.opsplane_binary(), stack.env, {"alerts": {"default_rules": False}}, tmp_path,
                               webhook_url=receiver.url, digest_cron="* * * * *", dashboard_url="http://dash.example/ops/")
        first.start()
        digest = wait_for(lambda: receiver.digests(), TIMEOUT, "the digest delivered")[0].json
        yesterday = (today_start() - dt.timedelta(days=1)).strftime("%Y-%m-%d")
        embed = digest["embeds"][0]
        assert embed["title"] == f"Daily digest · {yesterday} (UTC)", embed["title"]
        assert yesterday in digest["content"] and embed["url"] == "http://dash.example/ops/"
        lines = embed["description"].split("\n")
        p95 = percentile([500, 700, 1000, 2000, 3000, 4000, 5000, 6000], 95)   # 5650
        assert lines[0] == "**Runs:** 9 (7-day average 3/day, +200 %)", lines
        assert lines[1] == "**Cost:** $0.72 (7-day average $0.11/day, +554.5 %)", lines
        assert lines[2] == "**Errors:** 1 failed runs (7-day average 1/day, ±0 %)", lines
        assert lines[3] == f"**p95 duration:** {p95:.0f} ms (previous 7 days 1000 ms)", lines
        row = ops.sql("SELECT payload->>'open_alerts' FROM ops.notification_outbox WHERE dedupe_key = :'k';",
                      k=f"digest:{yesterday}:{webhook_hash(receiver.url)[:12]}")
        assert re.match(rf"\*\*Open alerts:\*\* {int(row)} \(\d+ critical", lines[4]), (lines, row)
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields[f"1. Alpha digest ({alpha})"] == "6 runs (7-day average 2/day, +200 %) · $0.60", fields
        assert fields[f"2. Beta digest ({beta})"] == "3 runs (7-day average 1/day, +200 %) · $0.12", fields
        assert f"[critical] #{alert_id} {title} (e2e-digest)" in fields["Open alerts"], fields["Open alerts"]

        # A second monitor (another lock, so it acts too) and the first one's every-minute
        # schedule still make one digest for the day.
        second = MonitorProcess(helpers.opsplane_binary(), stack.env, {"alerts": {"default_rules": False}}, tmp_path,
                                webhook_url=receiver.url, digest_cron="* * * * *", OPS_LOG_LEVEL="debug")
        second.start()
        wait_for(lambda: "daily digest already queued" in second.log(), TIMEOUT, "the second monitor finding the digest queued")
        assert len(receiver.digests()) == 1, "one digest per day and webhook"
        count = ops.sql("SELECT count(*) FROM ops.notification_outbox WHERE kind = 'digest' AND webhook = :'w';",
                        w=webhook_hash(receiver.url))
        assert int(count) == 1
    finally:
        for m in (first, second):
            if m is not None:
                m.stop()
        receiver.close()
        ops.sql("UPDATE ops.alerts SET state = 'resolved', resolved_at = now() WHERE id = :'id';", id=str(alert_id))
