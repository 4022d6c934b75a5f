"""The dashboard's core panels in a real headless Chromium against the real stack (issue 8):
KPI cards, budget gauges, hourly sparklines, top agents and LLM usage show what the API answers
for the same data; the live ticker receives events over the WebSocket (newest first, at most
200, paused on hover or with its button); an agent name with HTML in it is shown as text;
TV mode; sign-in redirect with `next`; the offline banner while Postgres is down and the
recovery without a reload. Screenshots go to $OPS_STATE/screenshots/.

Values are compared as a person reads them: the test formats the API's numbers with the same
rules as frontend/lib/format.js (written again here, independently) and compares the texts.
"""

import secrets
import time
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote

import pytest

import activity_helpers as ah
from activity_helpers import Ops
from browser_helpers import (admin_browser, chromium, new_browser, open_dashboard,  # noqa: F401
                             save_screenshot, sign_in, wait_for, wait_until)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

TAG = "dc" + secrets.token_hex(3)
XSS_NAME = f'<img src=x onerror="window.__xss=1">Bold <b>{TAG}</b><script>window.__xss=2</script>"\'&amp;'
TV_PANELS = ["kpis", "budget", "sparklines", "top", "ticker", "health", "alerts"]
ALL_PANELS = ["kpis", "budget", "sparklines", "top", "llm", "ticker", "health", "performance",
              "infra", "errors", "alerts", "logs", "bundle"]


# The formatting rules of frontend/lib/format.js ----------------------------------------------

def _fixed(x, digits):
    """x with `digits` decimals and thousands separators, rounded as Intl.NumberFormat does:
    half away from zero on the shortest decimal form of the double (not its binary value)."""
    q = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{q:,.{digits}f}"


def _trim(text, min_digits):
    if "." not in text:
        return text
    whole, frac = text.split(".")
    frac = frac.rstrip("0")
    frac = frac + "0" * max(0, min_digits - len(frac))
    return whole + ("." + frac if frac else "")


def fmt_int(n):
    return "—" if n is None else _fixed(n, 0)


def fmt_usd(x):
    if x is None:
        return "—"
    digits = 4 if abs(x) < 1 and x != 0 else 2
    return "$" + _trim(_fixed(x, digits), 2)


def fmt_pct(x):
    if x is None:
        return "—"
    digits = 0 if abs(x) >= 100 else 1
    return _trim(_fixed(x, digits), 0) + " %"


def fmt_ms(x):
    if x is None:
        return "—"
    if x >= 10000:
        return _trim(_fixed(x / 1000, 1), 0) + " s"
    return _trim(_fixed(x, 1 if x < 10 else 0), 0) + " ms"


def fmt_seconds(ms):
    # Number.prototype.toFixed: the exact binary value, ties to the larger.
    if ms is None:
        return "—"
    q = Decimal(ms / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{q:.1f} s"


# Fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ops(stack):
    return Ops(stack.env)


@pytest.fixture(scope="module")
def seeded(ops):
    """Agents (one with HTML in its name), runs started and finished today, LLM calls of a
    model only this module uses."""
    ah.wait_away_from_midnight()
    t = ah.today_ago(minutes=20)   # today's, also in the first 20 minutes of a UTC day
    records = [
        ah.agent(f"{TAG}-a1", f"Dash agent one {TAG}", owner_email=f"one-{TAG}@example.com"),
        ah.agent(f"{TAG}-xss", XSS_NAME, owner_email=f"xss-{TAG}@example.com"),
    ]
    # Enough runs that these agents lead today's top list on a test stack.
    for i in range(40):
        records.append(ah.finished_run(f"{TAG}-r1-{i}", f"{TAG}-a1", t, t + ah.dt.timedelta(seconds=3 + i),
                                       user_id=f"{TAG}-u1", cost_usd=0.0125))
    for i in range(35):
        status = "failed" if i % 7 == 0 else "success"
        records.append(ah.finished_run(f"{TAG}-rx-{i}", f"{TAG}-xss", t, t + ah.dt.timedelta(seconds=2),
                                       status=status, user_id=f"{TAG}-u2", cost_usd=0.002))
    for i in range(5):
        records.append(ah.llm_call(f"{TAG}-c{i}", t, "dashprov", f"model-{TAG}", prompt_tokens=1000 + i,
                                   completion_tokens=200, cost_usd=0.01, latency_ms=900))
    ops.ingest_ok(records)
    return records


@pytest.fixture(scope="module")
def page(admin_browser, base_url, seeded):  # noqa: F811
    open_dashboard(admin_browser, base_url)
    return admin_browser


def el_text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text.strip()


def reload_and_read(driver, base_url, read, api_read, tries=3):
    """Loads the dashboard, reads what it shows and what the API answers; retries when the two
    reads straddle a change of the data (another writer), so only a real mismatch fails."""
    last = None
    for _ in range(tries):
        before = api_read()
        open_dashboard(driver, base_url)
        shown = read()
        after = api_read()
        if before == after:
            return shown, after
        last = (shown, after)
    return last


# KPI cards, budgets, sparklines, top agents, LLM usage ----------------------------------------

def test_kpi_cards_show_the_summary_answer(page, base_url, ops):
    def read():
        return {k: page.find_element(By.CSS_SELECTOR, f'[data-kpi="{k}"]').text.split("\n")[0].strip()
                for k in ("runs", "success", "cost", "users", "errors", "agents", "latency")}

    def api():
        s = ops.summary()
        s.pop("generated_at", None)
        return s, ops.overview("24h")["runs"]

    shown, (s, runs24) = reload_and_read(page, base_url, read, api)
    lat = s["latency_ms"]
    expected = {
        "runs": fmt_int(s["runs_today"]),
        "success": fmt_pct(runs24["success_rate"] * 100) if runs24["success_rate"] is not None else "—",
        "cost": fmt_usd(s["cost_today_usd"]),
        "users": fmt_int(s["active_users_24h"]),
        "errors": fmt_int(s["errors_last_hour"]),
        "agents": fmt_int(s["agents_total"]),
        "latency": f"{fmt_seconds(lat['p50'])} / {fmt_seconds(lat['p95'])}",
    }
    assert shown == expected, f"KPI cards show {shown}, the API answers {expected}"
    assert s["runs_today"] >= 75, "the seeded runs are not in runs_today"
    # The errors card says in words whether runs failed (not by colour alone).
    sub = page.find_element(By.CSS_SELECTOR, '[data-kpi="errors"] .sub').text
    assert ("failed runs" in sub) == (s["errors_last_hour"] > 0) and sub[0] in "▲✓", sub


def test_budget_gauges_show_the_summary_budgets(page, base_url, ops):
    def read():
        figs = page.find_elements(By.CSS_SELECTOR, "#panel-budget figure.gauge")
        return [(f.find_element(By.CSS_SELECTOR, ".gauge-pct").text, f.get_attribute("data-status"),
                 f.find_element(By.CSS_SELECTOR, ".badge").text, f.find_element(By.CSS_SELECTOR, ".gauge-detail").text)
                for f in figs]

    def api():
        s = ops.summary()
        return s["budget_user"], s["budget_global"]

    shown, (user, glob) = reload_and_read(page, base_url, read, api)
    assert len(shown) == 2, shown
    for (pct_text, status, badge, detail), b in zip(shown, (user, glob)):
        p = b["percent"]
        if p is None:
            assert pct_text == "No limit set" and status == "off" and "no limit" in badge, (pct_text, status, badge)
        else:
            want = "bad" if p >= 100 else "warn" if p >= 80 else "ok"
            assert pct_text == fmt_pct(p) and status == want, (pct_text, status, b)
            assert badge[0] == {"ok": "✓", "warn": "▲", "bad": "✕"}[want], badge
        assert fmt_usd(b["used_usd"]) in detail, (detail, b)
    assert user["user_id"] in shown[0][3], (shown[0][3], user)


def test_sparklines_show_todays_hourly_series(page, base_url, ops):
    metrics = ("runs_by_hour", "errors_by_hour", "cost_by_hour")

    def read():
        out = {}
        for m in metrics:
            cell = page.find_element(By.CSS_SELECTOR, f'#panel-sparklines [data-metric="{m}"]')
            svg = cell.find_element(By.XPATH, "preceding-sibling::dd[1]//*[local-name()='svg']")
            pts = svg.find_element(By.CSS_SELECTOR, "polyline").get_attribute("points").split()
            out[m] = (cell.text, float(cell.get_attribute("data-sum")), len(pts), svg.get_attribute("aria-label"))
        return out

    def api():
        return {m: ops.timeseries(m) for m in metrics}

    shown, series = reload_and_read(page, base_url, read, api)
    for m in metrics:
        values = [p["value"] for p in series[m]]
        total = sum(values)
        text, data_sum, npoints, label = shown[m]
        assert npoints == 24 == len(values), (m, npoints)
        assert abs(data_sum - total) < 1e-6, (m, data_sum, total)
        assert text == (fmt_usd(total) if m == "cost_by_hour" else fmt_int(total)), (m, text, total)
        assert "by hour today" in label and "in total" in label, label


def test_top_agents_table_matches_the_top_route(page, base_url, ops):
    def read():
        rows = page.find_elements(By.CSS_SELECTOR, "#panel-top tbody tr[data-agent-id]")
        return [(r.get_attribute("data-agent-id"), r.find_element(By.CSS_SELECTOR, ".agent-name").text,
                 r.find_element(By.CSS_SELECTOR, ".runs").text, r.find_element(By.CSS_SELECTOR, ".cost").text,
                 r.find_element(By.CSS_SELECTOR, ".p95").text, r.find_element(By.CSS_SELECTOR, ".owner").text)
                for r in rows]

    shown, top = reload_and_read(page, base_url, read, lambda: ops.top("agents", limit=10))
    # An agent without a display name is shown by its id.
    expected = [(a["agent_id"], a["name"] or a["agent_id"], fmt_int(a["runs"]), fmt_usd(a["cost_usd"]), fmt_ms(a["p95_ms"]),
                 a["owner_email"] or "—") for a in top]
    assert shown == expected, f"top agents table:\n{shown}\nAPI:\n{expected}"
    assert any(r[0] == f"{TAG}-a1" for r in shown), "the seeded agent is missing from the top table"


def test_llm_usage_table_matches_the_models_route(page, base_url, ops):
    def read():
        rows = page.find_elements(By.CSS_SELECTOR, "#panel-llm tbody tr[data-model]")
        return [(r.find_element(By.CSS_SELECTOR, ".provider").text, r.find_element(By.CSS_SELECTOR, ".model").text,
                 r.find_element(By.CSS_SELECTOR, ".calls").text, r.find_element(By.CSS_SELECTOR, ".prompt").text,
                 r.find_element(By.CSS_SELECTOR, ".completion").text, r.find_element(By.CSS_SELECTOR, ".cost").text)
                for r in rows]

    shown, models = reload_and_read(page, base_url, read, lambda: ops.top("models", limit=20))
    expected = [(m["provider"], m["model"], fmt_int(m["calls"]), fmt_int(m["prompt_tokens"]),
                 fmt_int(m["completion_tokens"]), fmt_usd(m["cost_usd"]) if m["cost_usd"] is not None else "— (no price)")
                for m in models]
    assert shown == expected, f"LLM usage table:\n{shown}\nAPI:\n{expected}"
    mine = [r for r in shown if r[1] == f"model-{TAG}"]
    assert mine == [("dashprov", f"model-{TAG}", "5", "5,010", "1,000", "$0.05")], mine


# XSS -----------------------------------------------------------------------------------------

def test_an_agent_name_with_html_is_shown_as_text(page, base_url, ops):
    # Make the agent the day's busiest, whatever else the stack holds, so the top table shows it.
    top = ops.top("agents", limit=1)
    mine = [a for a in ops.top("agents", limit=100) if a["agent_id"] == f"{TAG}-xss"]
    extra = max(0, (top[0]["runs"] if top else 0) - (mine[0]["runs"] if mine else 0) + 1)
    ah.wait_away_from_midnight()
    t = ah.today_ago(minutes=5)
    runs = [ah.finished_run(f"{TAG}-rx-more-{i}", f"{TAG}-xss", t, t + ah.dt.timedelta(seconds=1),
                            user_id=f"{TAG}-u2", cost_usd=0.001) for i in range(extra)]
    for i in range(0, len(runs), 500):   # the suite's other tests may have made a busy agent
        ops.ingest_ok(runs[i:i + 500])
    open_dashboard(page, base_url)
    row = wait_for(page, f'#panel-top tr[data-agent-id="{TAG}-xss"]')
    assert row.find_element(By.CSS_SELECTOR, ".agent-name").text == XSS_NAME
    assert not row.find_elements(By.CSS_SELECTOR, "img, b, script"), "the agent name was parsed as HTML"
    assert page.execute_script("return window.__xss === undefined"), "a script in an agent name ran"
    assert not page.find_elements(By.CSS_SELECTOR, "main img"), "an <img> from data appeared on the page"


# Live ticker ---------------------------------------------------------------------------------

def live_ready(driver):
    wait_until(lambda: driver.execute_script("return document.body.dataset.live === 'ok'"),
               what="the WebSocket to be subscribed (Live: connected)")


def ticker_ids(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#panel-ticker li')].map(li => li.textContent)")


def test_the_ticker_shows_a_live_event_first(page, base_url, ops):
    open_dashboard(page, base_url)
    live_ready(page)
    run_id = f"{TAG}-live-{secrets.token_hex(2)}"
    ops.ingest_ok([ah.run(run_id, f"{TAG}-a1", "running", ah.ago(seconds=2), started_at=ah.ago(seconds=1),
                          user_id=f"{TAG}-u1")])
    li = wait_for(page, '#panel-ticker li[data-type="run_started"]',
                  condition=lambda el: run_id in el.text, what=f"ticker row for {run_id}")
    first = page.find_element(By.CSS_SELECTOR, "#panel-ticker li")
    assert run_id in first.text, f"newest event is not first: first row {first.text!r}"
    assert "▶ Run started" in li.text and f"agent {TAG}-a1" in li.text, li.text


def test_the_ticker_keeps_at_most_200_rows(page, base_url, ops):
    live_ready(page)
    t = ah.ago(seconds=5)
    ops.ingest_ok([ah.message(f"{TAG}-m{i}", f"{TAG}-thread", t, user_id=f"{TAG}-u1") for i in range(230)])
    wait_until(lambda: any(f"{TAG}-thread" in x for x in ticker_ids(page)[:1]) and
               page.execute_script("return document.querySelectorAll('#panel-ticker li').length") == 200,
               what="the 230 message events with the list capped at 200 rows")
    count = page.find_element(By.CSS_SELECTOR, "#panel-ticker .ticker-count")
    assert count.get_attribute("data-count") == "200" and "200 events" in count.text, count.text


def test_the_ticker_pauses_with_its_button_and_on_hover(page, base_url, ops):
    live_ready(page)
    button = page.find_element(By.CSS_SELECTOR, "#panel-ticker .ticker-pause")
    button.click()
    assert button.get_attribute("aria-pressed") == "true" and button.text == "Resume"
    run_id = f"{TAG}-paused-{secrets.token_hex(2)}"
    ops.ingest_ok([ah.run(run_id, f"{TAG}-a1", "running", ah.ago(seconds=2), user_id=f"{TAG}-u1")])
    wait_for(page, "#panel-ticker .ticker-paused", condition=lambda el: "1 new event waiting" in el.text,
             what="the paused note counting the waiting event")
    assert not any(run_id in x for x in ticker_ids(page)), "an event was added while paused"
    button.click()
    wait_until(lambda: run_id in ticker_ids(page)[0], what="the waiting event after Resume")

    # Hovering the list pauses it too; leaving it lets the waiting events in.
    ActionChains(page).move_to_element(page.find_element(By.CSS_SELECTOR, "#panel-ticker .ticker-list")).perform()
    wait_until(lambda: page.execute_script("return document.querySelector('#panel-ticker').dataset.paused") == "1",
               what="hover to pause the ticker")
    run_id2 = f"{TAG}-hover-{secrets.token_hex(2)}"
    ops.ingest_ok([ah.run(run_id2, f"{TAG}-a1", "running", ah.ago(seconds=2), user_id=f"{TAG}-u1")])
    wait_for(page, "#panel-ticker .ticker-paused", condition=lambda el: "1 new event waiting" in el.text)
    assert not any(run_id2 in x for x in ticker_ids(page))
    ActionChains(page).move_to_element(page.find_element(By.CSS_SELECTOR, "h1")).perform()
    wait_until(lambda: run_id2 in ticker_ids(page)[0], what="the waiting event after the pointer left")


# Shell: refresh, sign-in, TV mode ------------------------------------------------------------

def test_refresh_button_and_countdown(page, base_url):
    open_dashboard(page, base_url)
    first = el_text(page, "#last-updated")
    wait_until(lambda: int(el_text(page, "#countdown-s")) < 30, what="the countdown to tick")
    time.sleep(1.1)  # last-updated has one-second resolution
    page.find_element(By.CSS_SELECTOR, "#refresh-now").click()
    wait_until(lambda: el_text(page, "#last-updated") != first, what="a new last-updated time after Refresh now")
    assert int(el_text(page, "#countdown-s")) >= 28
    # Every panel this branch provides drew; the others say so instead of breaking the page.
    pairs = page.execute_script(
        "return [...document.querySelectorAll('main > section')].map(s => [s.dataset.panel, s.dataset.state])")
    assert [p for p, _ in pairs] == ALL_PANELS, pairs
    states = dict(pairs)
    assert all(states[p] == "ok" for p in ("kpis", "budget", "sparklines", "top", "llm", "ticker")), states
    assert all(v in ("ok", "stale", "unavailable") for v in states.values()), states
    save_screenshot(page, "dashboard")


def test_not_signed_in_goes_to_sign_in_and_back_with_next(base_url, tokens):
    with new_browser() as driver:
        driver.get(base_url + "/admin/ops/?tv=1")
        wait_until(lambda: "/admin/ops/login" in driver.current_url, what="the redirect to the sign-in page")
        assert driver.current_url.endswith("/admin/ops/login?next=" + quote("/admin/ops/?tv=1", safe="")), driver.current_url
        field = wait_for(driver, "#login-token", visible=True)
        field.send_keys(tokens["admin"])
        driver.find_element(By.CSS_SELECTOR, "#login-submit").click()
        wait_until(lambda: driver.current_url.endswith("/admin/ops/?tv=1"), what="the dashboard given in next")
        # Another site in `next` is ignored: the sign-in page goes to the dashboard.
        sign_in(driver, base_url, tokens["admin"], next_path="//evil.example/x")
        wait_until(lambda: driver.current_url.rstrip("/").endswith("/admin/ops"), what="the dashboard")
        assert "evil" not in driver.current_url


def test_tv_mode_at_1920x1080(page, base_url, ops):
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    # Without the WebSocket (the browser refuses to open one), TV mode still refreshes on its own.
    blocker = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "window.WebSocket = function () { throw new Error('WebSocket blocked by the test'); };"})
    try:
        open_dashboard(page, base_url, "?tv=1")
        assert page.execute_script("return document.body.classList.contains('tv')")
        ids = page.execute_script("return [...document.querySelectorAll('main > section')].map(s => s.dataset.panel)")
        assert ids == TV_PANELS, ids
        for css in ("#tv-link", "#refresh-now", "#session-signout", ".ticker-pause"):
            for el in page.find_elements(By.CSS_SELECTOR, css):
                assert not el.is_displayed(), f"{css} is shown in TV mode (no navigation or controls)"
        size = page.execute_script(
            "return parseFloat(getComputedStyle(document.querySelector('[data-kpi=runs]')).fontSize)")
        assert size >= 40, f"KPI numbers are {size}px: not readable from across a room"
        assert page.execute_script("return document.documentElement.scrollWidth <= innerWidth"), "horizontal scrolling"
        bottoms = page.execute_script(
            "return ['kpis','budget','sparklines','top'].map(n => document.getElementById('panel-' + n).getBoundingClientRect().bottom)")
        assert max(bottoms) <= 1080, f"TV panels run below the screen: {bottoms}"
        save_screenshot(page, "dashboard-tv")
        first = el_text(page, "#last-updated")
        wait_until(lambda: el_text(page, "#last-updated") != first, timeout=35,
                   what="TV mode's fallback refresh (every 20 s) without the WebSocket")
        assert page.execute_script("return document.body.dataset.live") != "ok"
    finally:
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": blocker["identifier"]})
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_viewer_sees_a_notice_and_no_panels(base_url, tokens):
    with new_browser() as driver:
        sign_in(driver, base_url, tokens["viewer"])
        notice = wait_for(driver, "#notice", visible=True)
        assert "for admins" in notice.text, notice.text
        assert driver.find_elements(By.CSS_SELECTOR, "main > section") == []


# Offline banner ------------------------------------------------------------------------------

@pytest.mark.disruptive
def test_offline_banner_while_postgres_is_down_and_recovery(page, base_url, stack):
    page.set_window_size(1280, 900)
    open_dashboard(page, base_url)
    runs_before = el_text(page, '[data-kpi="runs"]')
    banner = page.find_element(By.CSS_SELECTOR, "#offline-banner")
    assert not banner.is_displayed()
    stack.stack_sh("pg-stop")
    try:
        page.find_element(By.CSS_SELECTOR, "#refresh-now").click()
        wait_for(page, "#offline-banner", visible=True, timeout=30, what="the offline banner")
        assert "Offline" in banner.text and ("Retrying in" in banner.text or "Retrying now" in banner.text), banner.text
        assert "Showing the last values, from" in banner.text, banner.text
        # The last values stay on screen, marked stale with their age.
        assert el_text(page, '[data-kpi="runs"]') == runs_before
        stale = wait_for(page, "#panel-kpis .stale", visible=True)
        assert "Stale: values from" in stale.text, stale.text
        assert "/admin/ops/login" not in page.current_url, "an outage must not sign the user out"
        save_screenshot(page, "dashboard-offline")
    finally:
        stack.stack_sh("pg-start")
    # No click, no reload: the backoff retries find the API again.
    wait_until(lambda: not banner.is_displayed(), timeout=90, interval=0.5, what="the banner to go away by itself")
    wait_until(lambda: not page.find_element(By.CSS_SELECTOR, "#panel-kpis .stale").is_displayed(),
               timeout=45, what="the KPI panel to be fresh again")
    assert page.find_element(By.CSS_SELECTOR, "#panel-kpis").get_attribute("data-state") == "ok"
