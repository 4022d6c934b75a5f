"""frontend/beacon.js in a real headless Chromium (Debian's chromium + chromedriver, driven by
selenium): the reports a page sends with sendBeacon arrive, carry their context, are
de-duplicated in bursts and stay under the size cap.

The dashboard page includes beacon.js; the tests raise errors in it through WebDriver and read
the reports back through GET /api/ops/frontend-logs.
"""

import secrets
import time

import pytest

from activity_helpers import Ops
from browser_helpers import new_browser


@pytest.fixture(scope="module")
def browser():
    with new_browser(width=1280, height=800) as driver:
        driver.set_script_timeout(10)
        yield driver


@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


def load_dashboard(browser, base_url):
    """Opens the dashboard without a session: it sends the visitor to the sign-in page, which
    carries beacon.js too. The address is then set back to the dashboard's, so reports are
    filed under the dashboard's route template."""
    browser.get(base_url + "/admin/ops/")
    deadline = time.time() + 10
    while not (browser.current_url.startswith(base_url + "/admin/ops/login") and
               browser.execute_script("return !!window.OpsBeacon && document.readyState === 'complete'")):
        assert time.time() < deadline, "window.OpsBeacon never appeared on the sign-in page: beacon.js did not load"
        time.sleep(0.1)
    browser.execute_script("history.replaceState({}, '', '/admin/ops/')")


def reports_with(ops, marker, expected, timeout=10, route="/admin/ops/"):
    deadline = time.time() + timeout
    while True:
        resp = ops.get("/api/ops/frontend-logs", {"since": "5m", "route": route, "limit": "500"})
        assert resp.status_code == 200, resp.text
        found = [e for e in resp.json()["entries"] if marker in (e["message"] or "")]
        if len(found) >= expected or time.time() > deadline:
            return found
        time.sleep(0.2)


def test_uncaught_errors_rejections_and_console_errors_arrive_with_context(browser, base_url, ops):
    marker = "beacon-e2e-" + secrets.token_hex(4)
    # The check page raises the errors from its own (same-origin) script: errors from a script
    # WebDriver injects reach window.onerror only as a muted "Script error.".
    browser.get(f"{base_url}/admin/ops/beacon-test.html?kinds=console,uncaught,rejection&tag={marker}")
    found = reports_with(ops, marker, 3, route="/admin/ops/beacon-test.html")
    by_source = {e["source"]: e for e in found}
    assert set(by_source) == {"onerror", "unhandledrejection", "console"}, \
        f"expected one report per hook, got {[(e['source'], e['message']) for e in found]}"
    uncaught = by_source["onerror"]
    assert uncaught["type"] == "TypeError" and uncaught["message"].endswith("uncaught"), uncaught
    assert "beacon-test.js" in (uncaught["stack"] or ""), f"stack: {uncaught['stack']!r}"
    assert uncaught["browser"].startswith(("Chrome", "Chromium")), uncaught["browser"]
    assert uncaught["build_hash"] == "opsplane-beacon-test", uncaught
    assert uncaught["route"] == "/admin/ops/beacon-test.html", uncaught["route"]
    assert [c.get("t") for c in uncaught["breadcrumbs"]][:1] == ["load"], uncaught["breadcrumbs"]
    assert by_source["unhandledrejection"]["type"] == "Error", by_source["unhandledrejection"]
    assert by_source["console"]["message"] == f"beacon check ({marker}) console {{\"check\":true}}", by_source["console"]


def test_websocket_state_and_navigation_breadcrumbs(browser, base_url, ops):
    marker = "beacon-ws-" + secrets.token_hex(4)
    load_dashboard(browser, base_url)
    browser.execute_script("""
        OpsBeacon.trackWebSocket({readyState: 1});
        history.pushState({}, "", "/admin/ops/?view=test");
        OpsBeacon.report(new Error(arguments[0]));
    """, marker)
    found = reports_with(ops, marker, 1)
    assert len(found) == 1, found
    e = found[0]
    assert e["ws_state"] == "open" and e["build_hash"] == "opsplane-dashboard" and e["route"] == "/admin/ops", e
    kinds = [c.get("t") for c in e["breadcrumbs"]]
    assert kinds[0] == "load" and "nav" in kinds, e["breadcrumbs"]
    # The dashboard asks /api/ops/whoami without a session: a failed fetch is a breadcrumb too.
    assert {"t": "fetch", "url": "/api/ops/whoami", "status": 401} in [
        {k: c.get(k) for k in ("t", "url", "status")} for c in e["breadcrumbs"]], e["breadcrumbs"]


def test_a_burst_of_one_error_is_sent_once_and_big_reports_are_cut_to_fit(browser, base_url, ops):
    marker = "beacon-burst-" + secrets.token_hex(4)
    load_dashboard(browser, base_url)
    browser.execute_script("""
        const m = arguments[0];
        for (let i = 0; i < 5; i++) OpsBeacon.report(new Error(m + " same"));
        const big = new Error(m + " big " + "x".repeat(50000));
        big.stack = "Error: big\\n" + "    at f (https://h/app.js:1:1)\\n".repeat(2000);
        OpsBeacon.report(big);
    """, marker)
    found = reports_with(ops, marker, 2)
    same = [e for e in found if " same" in e["message"]]
    big = [e for e in found if " big " in e["message"]]
    assert len(same) == 1, f"5 identical errors within 5 s should give 1 report, got {len(same)}"
    assert len(big) == 1, "the oversized report should be cut to fit and stored, not refused"
    assert len(big[0]["message"]) <= 2001 and len(big[0]["stack"]) <= 8001, \
        (len(big[0]["message"]), len(big[0]["stack"]))
