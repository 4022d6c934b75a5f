"""The dashboard's operations panels in a real headless Chromium against the real stack: the
service health grid (values, filter, sort, detail view by keyboard), performance, infrastructure,
the frontend error feed (an XSS payload stays text), alerts (acknowledge with a note, history,
the assertive announcement), the log viewer and the support-bundle download.

A monitor of the test's own (webhook_receiver.MonitorProcess, own lock, own rule names, no
Discord) watches two loopback TCP services — one listening, one closed — and a queue fed with
heartbeats through the ingest API, so the test controls a healthy service, a down service with
an open alert, and a queue alert to acknowledge.

Values on the page are compared with the API's answers for the same data. Where the data moves
while the page loads (probe results every second, request counts), the page's value must equal
the API's answer just before or just after the page refreshed, or lie between them.
"""

import datetime as dt
import gzip
import json
import re
import secrets
import socket
import threading
import time

import pytest
import requests

import helpers
from browser_helpers import new_browser, open_dashboard, save_screenshot, sign_in, wait_for, wait_until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from webhook_receiver import MonitorProcess, wait_for as wait_probe

TAG = secrets.token_hex(3)
UP = f"e2e-dash-{TAG}-up"
DOWN = f"e2e-dash-{TAG}-down"
QUEUE = f"e2e-dash-{TAG}-queue"
RULE_DOWN = f"e2e_dash_down_{TAG}"
RULE_QUEUE = f"e2e_dash_queue_{TAG}"
TIMEOUT = 30


# --- the world the panels show -------------------------------------------------------------------

class Admin:
    """The API as an admin sees it (bearer token)."""

    def __init__(self, stack):
        self.stack = stack
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {stack.env['OPS_ADMIN_TOKEN']}"

    def get(self, path, **params):
        resp = self.http.get(self.stack.url + path, params=params, timeout=helpers.TIMEOUT)
        assert resp.status_code == 200, helpers.describe(resp)
        return resp.json()

    def alert(self, rule, state=None):
        params = {"limit": "500"}
        if state:
            params["state"] = state
        return next((a for a in self.get("/api/ops/alerts", **params)["alerts"] if a["rule"] == rule), None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def heartbeat(stack, depth):
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rec = {"kind": "heartbeat", "component": QUEUE, "component_type": "queue", "status": "ok", "ts": now,
           "metrics": {"depth": depth, "processing_rate": 2.5, "failed": 1}}
    resp = requests.post(stack.url + "/api/ops/ingest", data=json.dumps([rec]), timeout=helpers.TIMEOUT,
                         headers={"Authorization": f"Bearer {stack.env['OPS_INGEST_TOKEN']}",
                                  "Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["accepted"] == 1, helpers.describe(resp)


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    up_port = listener.getsockname()[1]

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
                conn.close()
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    down_port = free_port()
    config = {
        "services": [
            {"name": UP, "kind": "tcp", "target": f"127.0.0.1:{up_port}", "interval_s": 1, "timeout_ms": 300},
            {"name": DOWN, "kind": "tcp", "target": f"127.0.0.1:{down_port}", "interval_s": 1, "timeout_ms": 300},
        ],
        "alerts": {"interval_s": 0.3, "failure_threshold": 1, "failure_window": 1, "success_threshold": 2,
                   "default_rules": False,
                   "rules": [{"name": RULE_DOWN, "metric": "service_down", "subjects": [DOWN]},
                             {"name": RULE_QUEUE, "metric": "queue_depth", "threshold": 100, "subjects": [QUEUE]}]},
    }
    monitor = MonitorProcess(helpers.opsplane_binary(), stack.env, config, tmp_path_factory.mktemp("dash-ops"), enable=False)
    monitor.start()
    admin = Admin(stack)
    try:
        heartbeat(stack, 3)

        def ready():
            mods = admin.get("/api/monitoring/health")["modules"]
            return (mods.get(UP, {}).get("status") == "healthy" and mods.get(DOWN, {}).get("status") == "down"
                    and mods[DOWN]["active_alerts"] >= 1)
        wait_probe(ready, TIMEOUT, "the test's services probed (up healthy, down down with its alert)")
        yield {"admin": admin, "monitor": monitor}
        # Leave no firing alert behind for the tests after this one: the down service comes up
        # and the queue calms down, and the monitor resolves both before it stops.
        revived = socket.socket()
        revived.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        revived.bind(("127.0.0.1", down_port))
        revived.listen(64)
        try:
            def all_resolved():
                heartbeat(stack, 0)
                time.sleep(0.5)
                return all(admin.alert(rule, "resolved") or not admin.alert(rule) for rule in (RULE_DOWN, RULE_QUEUE)) and \
                    not any(a["rule"] in (RULE_DOWN, RULE_QUEUE) for a in admin.get("/api/ops/alerts", limit="500")["alerts"])
            wait_probe(all_resolved, TIMEOUT, "the test's alerts resolved", interval=0)
        finally:
            revived.close()
    finally:
        monitor.stop()
        listener.close()


@pytest.fixture(scope="module")
def page(stack, tokens, world):
    with new_browser(height=1200) as driver:
        sign_in(driver, stack.url, tokens["admin"])
        open_dashboard(driver, stack.url, timeout=60)
        yield driver


# --- page helpers --------------------------------------------------------------------------------

def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def refresh_now(driver):
    """Runs the shell's refresh (every panel) and waits until it finished."""
    button = driver.find_element(By.CSS_SELECTOR, "#refresh-now")
    wait_until(lambda: button.get_attribute("aria-busy") is None, what="an earlier refresh to finish")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_until(lambda: button.get_attribute("aria-busy") is None, timeout=30, what="the refresh to finish")


def bracketed(driver, read_page, read_api, agree, what, attempts=8):
    """Page and API agree: the page's value compared with the API's answer just before and just
    after a refresh of the page (`agree(page, before, after)`); retried while data moves."""
    last = None
    for _ in range(attempts):
        wait_until(lambda: driver.find_element(By.CSS_SELECTOR, "#refresh-now").get_attribute("aria-busy") is None,
                   what="an earlier refresh to finish")
        before = read_api()
        refresh_now(driver)
        shown = read_page()
        after = read_api()
        if agree(shown, before, after):
            return shown, before, after
        last = (shown, before, after)
        time.sleep(0.5)
    raise AssertionError(f"{what}: the page never agreed with the API; last (page, before, after): {last!r}")


def tiles(driver):
    """[(name, status, ms attribute, alert count or 0)] of the health grid, in page order."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#panel-health .hg-tile')].map(t => [
            t.dataset.service, t.dataset.status, t.querySelector('.hg-ms').dataset.ms,
            Number((t.querySelector('.hg-alerts') || {dataset: {count: 0}}).dataset.count)]);""")


def module_rows(body):
    return sorted((name, m["status"], "" if m["response_time_ms"] is None else m["response_time_ms"], m["active_alerts"])
                  for name, m in body["modules"].items())


def number(text):
    """The first number in a text ("1,234.5 ms" → 1234.5)."""
    m = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    assert m, f"no number in {text!r}"
    return float(m.group(0).replace(",", ""))


def select(driver, selector, value):
    Select(driver.find_element(By.CSS_SELECTOR, selector)).select_by_value(value)


# --- health --------------------------------------------------------------------------------------

def test_health_grid_shows_every_service_as_the_api_answers(page, world):
    admin = world["admin"]

    def read_page():
        return {n: (s, float(ms) if ms else "", a) for n, s, ms, a in tiles(page)}

    def read_api():
        return {n: (s, ms, a) for n, s, ms, a in module_rows(admin.get("/api/monitoring/health"))}

    def agree(p, b, a):
        # Each service as in one of the two answers (services probed every second move on).
        return set(p) in (set(b), set(a)) and all(p[n] in (b.get(n), a.get(n)) for n in p)

    shown, before, after = bracketed(page, read_page, read_api, agree, "the health grid")
    mine = {n: (n, *row) for n, row in shown.items()}
    assert mine[UP][1] == "healthy" and mine[DOWN][1] == "down", mine
    assert mine[DOWN][3] >= 1, "the down service has an open alert: its tile should carry an alert badge"
    tile = page.find_element(By.CSS_SELECTOR, f'.hg-tile[data-service="{DOWN}"]')
    # Status by shape and word, not colour alone.
    assert "✕" in tile.text and "down" in tile.text and re.search(r"\d+ alerts?", tile.text), tile.text
    health = admin.get("/api/monitoring/health")
    summary = page.find_element(By.CSS_SELECTOR, "#panel-health .hg-summary").text
    assert health["status"] in summary and "down" in summary, summary
    save_screenshot(page, "dashboard-ops-health")


def test_health_grid_filters_and_sorts(page, world):
    refresh_now(page)
    select(page, "#hg-filter", "down")
    shown = tiles(page)
    assert shown and all(s == "down" for _, s, _, _ in shown), shown
    assert DOWN in [n for n, *_ in shown] and UP not in [n for n, *_ in shown], shown
    assert "(down)" in page.find_element(By.CSS_SELECTOR, "#panel-health .hg-count").text

    select(page, "#hg-filter", "healthy")
    shown = tiles(page)
    assert UP in [n for n, *_ in shown] and all(s == "healthy" for _, s, _, _ in shown), shown

    select(page, "#hg-filter", "all")
    select(page, "#hg-sort", "name")
    names = [n for n, *_ in tiles(page)]
    assert names == sorted(names) and {UP, DOWN} <= set(names), names

    select(page, "#hg-sort", "status")
    order = ["down", "degraded", "unknown", "healthy"]
    ranks = [order.index(s) for _, s, _, _ in tiles(page)]
    assert ranks == sorted(ranks), tiles(page)

    select(page, "#hg-sort", "response")
    times = [float(ms) if ms else -1 for _, _, ms, _ in tiles(page)]
    assert times == sorted(times, reverse=True), tiles(page)


def test_detail_view_opens_with_the_keyboard_and_shows_the_series(page, world):
    admin = world["admin"]
    refresh_now(page)
    select(page, "#hg-sort", "name")
    tile = page.find_element(By.CSS_SELECTOR, f'.hg-tile[data-service="{UP}"]')
    page.execute_script("arguments[0].focus()", tile)
    tile.send_keys(Keys.ENTER)
    detail = wait_for(page, "#panel-health .hg-detail", visible=True)
    wait_until(lambda: "points" in page.find_element(By.CSS_SELECTOR, ".hg-detail-note").text, what="the detail to load")
    assert page.find_element(By.CSS_SELECTOR, ".hg-detail-title").text == f"Details: {UP}"
    assert page.execute_script("return document.activeElement.id") == "hg-detail-title", "focus should move to the detail"
    assert tile.get_attribute("aria-expanded") == "true"
    body = admin.get(f"/api/monitoring/health/module/{UP}", range="1h")

    def fact(key):
        return page.find_element(By.CSS_SELECTOR, f'.hg-facts dd[data-fact="{key}"]').text
    assert fact("kind") == "tcp" and fact("target") == body["config"]["target"], (fact("kind"), fact("target"))
    # One probe a second: the page's count is the API's within the seconds between the two reads.
    assert abs(number(fact("samples")) - body["summary"]["samples"]) <= 5, (fact("samples"), body["summary"])
    assert number(fact("failures")) == body["summary"]["failures"] == 0
    points = number(page.find_element(By.CSS_SELECTOR, ".hg-detail-note").text)
    assert abs(points - len(body["series"])) <= 5 and points >= 2, (points, len(body["series"]))
    path = page.find_element(By.CSS_SELECTOR, ".hg-chart path.lc-line.lc-s0").get_attribute("d")
    assert path.startswith("M") and path.count("L") >= 1, path

    # The chart reads values out by keyboard, and has a data table for screen readers.
    svg = page.find_element(By.CSS_SELECTOR, ".hg-chart svg.lc-svg")
    page.execute_script("arguments[0].focus()", svg)
    readout = page.find_element(By.CSS_SELECTOR, ".hg-chart .lc-readout")
    last = readout.text
    assert re.search(r"response time [\d.]+ ms", last), last
    svg.send_keys(Keys.HOME)
    first = readout.text
    assert first != last and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ: response time", first), (first, last)
    page.find_element(By.CSS_SELECTOR, ".hg-chart details.lc-table summary").click()
    # The table is filled on the details' toggle event, which comes a task after the click.
    rows = wait_until(lambda: css(page, ".hg-chart table.lc-data tbody tr"), what="the chart's data table")
    assert abs(len(rows) - points) <= 5, (len(rows), points)

    # Another range: hourly figures.
    page.find_element(By.CSS_SELECTOR, '.hg-detail .ops-ranges button[data-range="24h"]').click()
    wait_until(lambda: "hourly" in page.find_element(By.CSS_SELECTOR, ".hg-detail-note").text, what="the 24h detail")
    legend = page.find_element(By.CSS_SELECTOR, ".hg-chart .lc-legend").text
    assert "p95" in legend and "average" in legend, legend
    save_screenshot(page, "dashboard-ops-health-detail")

    # Escape closes it and gives focus back to the tile.
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(lambda: not detail.is_displayed(), what="the detail to close")
    assert page.execute_script("return document.activeElement.dataset.service") == UP


def test_detail_of_a_down_service_lists_its_open_alert(page, world):
    admin = world["admin"]
    alert = admin.alert(RULE_DOWN)
    assert alert and alert["state"] in ("firing", "acknowledged"), alert
    page.find_element(By.CSS_SELECTOR, f'.hg-tile[data-service="{DOWN}"]').click()
    item = wait_for(page, f'.hg-detail-alerts li[data-alert-id="{alert["id"]}"]')
    assert alert["title"] in item.text, item.text
    assert "✕" in page.find_element(By.CSS_SELECTOR, '.hg-facts dd[data-fact="status"]').text
    page.find_element(By.CSS_SELECTOR, ".hg-close").click()


# --- performance and infrastructure ---------------------------------------------------------------

def test_performance_figures_match_the_api(page, world):
    admin = world["admin"]
    page.find_element(By.CSS_SELECTOR, '#panel-performance .ops-ranges button[data-range="7d"]').click()
    wait_until(lambda: "Range 7d" in page.find_element(By.CSS_SELECTOR, "#panel-performance .pf-note").text,
               what="the 7d performance answer")

    def read_page():
        return number(page.find_element(By.CSS_SELECTOR, '#panel-performance dd[data-key="requests"]').text)

    # Requests in 7 days only grow: the page's count lies between the answers around its refresh.
    shown, before, after = bracketed(page, read_page, lambda: admin.get("/api/monitoring/performance", range="7d")["requests"],
                                     lambda p, b, a: b <= p <= a, "requests (7d)")
    assert shown > 0
    body = admin.get("/api/monitoring/performance", range="7d")
    rows = css(page, "#panel-performance .pf-routes tbody tr[data-route]")
    # New route groups may join the top 20 between the two reads.
    assert 0 < len(rows) <= 20 and abs(len(rows) - len(body["routes"])) <= 2, (len(rows), len(body["routes"]))
    assert len(css(page, "#panel-performance .pf-chart path.lc-line")) == 3
    assert page.find_element(By.CSS_SELECTOR, '#panel-performance button[data-range="7d"]').get_attribute("aria-pressed") == "true"


def test_infrastructure_panels_match_the_api(page, world, stack):
    admin = world["admin"]
    heartbeat(stack, 42)
    wait_probe(lambda: any(q["component"] == QUEUE and q["depth"] == 42 for q in admin.get("/api/v1/ops/queue")["queues"]),
               TIMEOUT, "the queue heartbeat")
    refresh_now(page)
    row = page.find_element(By.CSS_SELECTOR, f'#panel-infra [data-source="queue"] tr[data-component="{QUEUE}"]')
    assert row.find_element(By.CSS_SELECTOR, '[data-key="depth"]').text == "42", row.text
    queue = admin.get("/api/v1/ops/queue")
    total = number(page.find_element(By.CSS_SELECTOR, '#panel-infra dd[data-key="total_depth"]').text)
    assert total == queue["total_depth"], (total, queue)

    db = admin.get("/api/monitoring/database")
    conn = page.find_element(By.CSS_SELECTOR, '#panel-infra dd[data-key="connections"]').text
    assert f"of {db['connection_pool']['max']}" in conn, conn

    cache = admin.get("/api/monitoring/cache/stats")
    service = page.find_element(By.CSS_SELECTOR, '#panel-infra dd[data-key="service"]').text
    assert cache["service"] in service and cache["status"] in service, (service, cache["service"], cache["status"])

    workers = admin.get("/api/monitoring/workers/status")
    active = page.find_element(By.CSS_SELECTOR, '#panel-infra dd[data-key="active_workers"]').text
    assert active == f"{workers['active_workers']} of {workers['total_workers']}", (active, workers)


# --- frontend errors -----------------------------------------------------------------------------

def test_error_feed_groups_reports_and_shows_html_as_text(page, world, stack):
    admin = world["admin"]
    marker = f"dash-xss-{TAG}"
    message = f'<img src=x onerror="window.__opsXss=1"><b>{marker}</b>'
    report = {"message": message, "type": "TypeError", "route": "/e2e/dash-ops", "build_hash": "e2e-build",
              "stack": f"TypeError: {marker}\n    at render_{TAG} (https://host/app.js:1:2)"}
    for _ in range(3):
        resp = requests.post(stack.url + "/api/ops/frontend-log", data=json.dumps(report),
                             headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=helpers.TIMEOUT)
        assert resp.status_code == 204, helpers.describe(resp)
    # A worker writes accepted reports in batches (at most OPS_BEACON_FLUSH_MS later): wait for all 3.
    def stored():
        mine = admin.get("/api/ops/frontend-logs", group="1", since="24h", route="/e2e/dash-ops", limit="50")["groups"]
        mine = [g for g in mine if marker in (g["message"] or "")]
        return mine if mine and mine[0]["count"] >= 3 else None
    [group] = wait_until(stored, what="the 3 reports to be stored")
    assert group["count"] == 3, group
    groups = admin.get("/api/ops/frontend-logs", group="1", since="24h", limit="50")["groups"]
    refresh_now(page)
    item = wait_for(page, f'#panel-errors .fe-group[data-fingerprint="{group["fingerprint"]}"]')
    assert item.find_element(By.CSS_SELECTOR, ".fe-message").text == message, "the message must be shown as text"
    count = item.find_element(By.CSS_SELECTOR, ".fe-count")
    assert count.text == "✕ 3×" and count.get_attribute("data-count") == "3", count.text
    assert "/e2e/dash-ops" in item.find_element(By.CSS_SELECTOR, ".fe-routes").text
    assert "e2e-build" in item.find_element(By.CSS_SELECTOR, ".fe-builds").text
    assert css(page, "#panel-errors img, #panel-errors b") == [], "markup from a beacon became elements"
    assert page.execute_script("return window.__opsXss === undefined"), "the payload ran"
    shown = [e.get_attribute("data-fingerprint") for e in css(page, "#panel-errors .fe-group")]
    assert shown == [g["fingerprint"] for g in groups], "groups in the API's order (largest first)"


# --- alerts --------------------------------------------------------------------------------------

def test_a_new_alert_is_announced_acknowledged_with_a_note_and_kept_in_history(page, world, stack):
    admin = world["admin"]
    refresh_now(page)   # the alerts panel knows what was firing before
    heartbeat(stack, 500)
    alert = wait_probe(lambda: admin.alert(RULE_QUEUE, "firing"), TIMEOUT, "the queue alert firing")
    # The ticker's alert_fired event refreshes the panel; the refresh button does too.
    try:
        item = wait_for(page, f'#panel-alerts .al-item[data-alert-id="{alert["id"]}"]', timeout=10)
    except AssertionError:
        refresh_now(page)
        item = wait_for(page, f'#panel-alerts .al-item[data-alert-id="{alert["id"]}"]')
    assert item.get_attribute("data-state") == "firing"
    assert alert["title"] in item.text and "▲ warning" in item.text, item.text
    wait_until(lambda: alert["title"] in page.find_element(By.CSS_SELECTOR, "#announce-assertive").get_attribute("textContent"),
               what="the new alert announced in the assertive live region")

    note = f"looking at it <i>{TAG}</i>"
    field = item.find_element(By.CSS_SELECTOR, ".al-note-input")
    field.send_keys(note)
    item.find_element(By.CSS_SELECTOR, "button.al-ack").click()
    acked = wait_for(page, f'#panel-alerts .al-item[data-alert-id="{alert["id"]}"][data-state="acknowledged"]')
    body = admin.get(f"/api/ops/alerts/{alert['id']}")
    assert body["state"] == "acknowledged" and body["ack_note"] == note, body
    assert body["acknowledged_by"], body
    assert note in acked.find_element(By.CSS_SELECTOR, ".al-acked").text
    history = wait_for(page, f'.al-item[data-alert-id="{alert["id"]}"] .al-history li[data-event="acknowledged"]')
    assert note in history.text and body["acknowledged_by"] in history.text, history.text
    events = [li.get_attribute("data-event") for li in css(page, f'.al-item[data-alert-id="{alert["id"]}"] .al-history li')]
    assert events == [h["event"] for h in body["history"]], (events, body["history"])
    assert css(page, "#panel-alerts i") == [], "the note must be shown as text"
    save_screenshot(page, "dashboard-ops-alerts")

    # Resolved: it leaves the open list and shows under "Recently resolved".
    def calm():
        # A heartbeat counts once however often the rules run: send new ones until it resolves.
        heartbeat(stack, 1)
        time.sleep(0.7)
        return admin.alert(RULE_QUEUE, "resolved")
    wait_probe(calm, TIMEOUT, "the queue alert resolved", interval=0)
    refresh_now(page)
    wait_for(page, f'#panel-alerts .al-resolved .al-item[data-alert-id="{alert["id"]}"]')
    assert css(page, f'#panel-alerts .al-open .al-item[data-alert-id="{alert["id"]}"]') == []


# --- logs and bundle -----------------------------------------------------------------------------

def test_log_viewer_shows_the_lines_the_api_returns(page, world):
    admin = world["admin"]
    services = page.execute_script("return [...document.querySelectorAll('#lg-service option')].map(o => o.value)")
    resp = admin.http.get(admin.stack.url + "/api/ops/logs", timeout=helpers.TIMEOUT)
    assert resp.status_code == 400 and services == resp.json()["error"]["services"], (services, resp.text)
    # The stack's own log only grows when stack.sh runs: the page and the API see the same lines.
    service = "stack" if "stack" in services else services[0]
    select(page, "#lg-service", service)
    select(page, "#lg-tail", "50")
    page.find_element(By.CSS_SELECTOR, "#panel-logs button.lg-load").click()
    wait_until(lambda: page.find_element(By.CSS_SELECTOR, "#panel-logs .lg-status").text.startswith(f"{service}:"),
               what="the log lines")
    body = admin.get("/api/ops/logs", service=service, tail="50")
    shown = page.execute_script("return [...document.querySelectorAll('#panel-logs .lg-line .lg-msg')].map(e => e.textContent)")
    assert shown == [e["message"] for e in body["entries"]], (shown[-3:], body["entries"][-3:])

    select(page, "#lg-level", "warn")
    page.find_element(By.CSS_SELECTOR, "#panel-logs button.lg-load").click()
    wait_until(lambda: all(l.get_attribute("data-level") in ("warn", "error")
                           for l in css(page, "#panel-logs .lg-line")), what="only warn and error lines")
    select(page, "#lg-level", "")

    page.find_element(By.CSS_SELECTOR, "#lg-plain").click()
    page.find_element(By.CSS_SELECTOR, "#panel-logs button.lg-load").click()
    pre = wait_for(page, "#panel-logs pre.lg-plain")
    plain = admin.http.get(admin.stack.url + "/api/ops/logs", params={"service": service, "tail": "50", "format": "plain"},
                           timeout=helpers.TIMEOUT)
    assert plain.status_code == 200
    assert pre.get_attribute("textContent") == plain.text
    page.find_element(By.CSS_SELECTOR, "#lg-plain").click()


def test_support_bundle_downloads_with_a_clear_message(page, world, tmp_path):
    page.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    link = page.find_element(By.CSS_SELECTOR, "#panel-bundle a.bd-link")
    assert link.get_attribute("href").endswith("/api/ops/support-bundle?lines=200")
    button = page.find_element(By.CSS_SELECTOR, "#panel-bundle button.bd-download")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    status = wait_for(page, "#panel-bundle .bd-status", timeout=60, condition=lambda e: e.text.startswith(("Saved", "The bundle")))
    assert re.fullmatch(r"Saved opsplane-support-\d{8}T\d{6}Z\.json\.gz \([\d.,]+ KB\)\.", status.text), status.text
    name = status.get_attribute("data-file")
    path = tmp_path / name
    wait_until(lambda: path.exists() and path.stat().st_size == int(status.get_attribute("data-bytes")),
               timeout=30, what=f"the download {path}")
    bundle = json.loads(gzip.decompress(path.read_bytes()))
    assert "manifest" in bundle and "context" in bundle, list(bundle)
