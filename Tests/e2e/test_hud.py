"""The HUD (frontend/hud.js) on its check page (frontend/hud-test.html, which includes it with
one script tag like a host app's admin page) in a real headless Chromium:

- an admin sees today's runs, cost, errors and budget exactly as /api/ops/summary answers, the
  widget links to /admin/ops/ and it polls;
- a viewer and a visitor without credentials see nothing, and the page makes no
  /api/ops/summary request at all (the browser's resource timing entries and nginx's access log);
- on a stack with budget limits, the budget reads "high" (▲, amber) from 80 % and "over" (✕, red)
  from 100 %, in words and shapes as well as colour.

The check page takes ?interval=N (seconds) so that polling shows within the test.
"""

import datetime as dt
import json
import re
import time

import pytest  # noqa: F401

import helpers
from activity_helpers import budget_ops, budget_stack, finished_run, now, today_ago, wait_away_from_midnight  # noqa: F401
from browser_helpers import new_browser, save_screenshot, sign_in, wait_for, wait_until
from selenium.webdriver.common.by import By

PAGE = "/admin/ops/hud-test.html?interval=2"


def summary_requests(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/ops/summary')).length")


def hud_state(driver):
    return driver.execute_script("return window.OpsHUD && window.OpsHUD.state")


def hud_values(driver):
    return {el.get_attribute("data-key"): el.text for el in driver.find_elements(By.CSS_SELECTOR, "#ops-hud .ops-hud-value")}


def expected(summary):
    """What the HUD must show for a summary answer (its own formatting rules)."""
    cost = summary["cost_today_usd"]
    errors = summary["errors_last_hour"]
    percents = [b["percent"] for b in (summary["budget_user"], summary["budget_global"]) if b["percent"] is not None]
    if percents:
        p = max(percents)
        level = "bad" if p >= 100 else "warn" if p >= 80 else "ok"
        budget = f"{ {'ok': '✓', 'warn': '▲', 'bad': '✕'}[level]} {round(p)} % {({'ok': 'ok', 'warn': 'high', 'bad': 'over'})[level]}"
    else:
        level, budget = "off", "no limit"
    return {
        "runs": f"{summary['runs_today']:,}",
        "cost": "—" if cost is None else f"${cost:,.2f}",
        "errors": (f"▲ {errors:,}" if errors > 0 else f"{errors:,}"),
        "budget": budget,
    }, level


def access_log_summary_lines(stack, since_bytes):
    path = stack.log_dir / "access.log"
    with open(path, "rb") as f:
        f.seek(since_bytes)
        return [line for line in f.read().decode(errors="replace").splitlines() if "/api/ops/summary" in line]


def access_log_size(stack):
    return (stack.log_dir / "access.log").stat().st_size


def shows_summary(driver, get_summary, settled=lambda s: True):
    """The HUD's values equal the summary answered just before or just after reading them, for
    a summary that is `settled` (aggregate answers may come from a cache for up to 2 s, so a
    check right after an ingest can still see the answer from before it)."""
    def agree():
        before = get_summary()
        shown = hud_values(driver)
        after = get_summary()
        for s in (before, after):
            want, level = expected(s)
            if shown == want and settled(s):
                return s, level
        return None
    return wait_until(agree, timeout=20, what="the HUD to show /api/ops/summary's values")


def test_admin_sees_the_summary_and_a_link_to_the_dashboard(stack, tokens):
    from activity_helpers import Ops
    ops = Ops(stack.env)
    wait_away_from_midnight()   # runs_today must count these runs
    t = today_ago(minutes=2)
    ops.ingest_ok([finished_run(f"r-hud-{i}", "agent-hud", t, t + dt.timedelta(seconds=3),
                                status="failed" if i == 0 else "success", cost_usd=0.25) for i in range(3)])
    with new_browser() as driver:
        sign_in(driver, stack.url, tokens["admin"])
        driver.get(stack.url + PAGE)
        hud = wait_for(driver, "#host-header-slot #ops-hud", visible=True)
        summary, level = shows_summary(driver, ops.summary, lambda s: s["runs_today"] >= 3 and s["errors_last_hour"] >= 1)
        assert hud.get_attribute("href") == stack.url + "/admin/ops/", hud.get_attribute("href")
        label = hud.get_attribute("aria-label")
        assert f"{summary['runs_today']:,} runs" in label and "Open the ops dashboard" in label, label
        # It polls: more summary requests come at the page's interval (2 s here).
        first = summary_requests(driver)
        wait_until(lambda: summary_requests(driver) >= first + 2, timeout=15, what="the HUD polling /api/ops/summary")
        # Styled from hud.css (a file: the CSP forbids inline styles), not unstyled.
        assert driver.execute_script("return getComputedStyle(document.getElementById('ops-hud')).display") == "inline-flex"
        save_screenshot(driver, "hud-admin")
        hud.click()
        wait_until(lambda: driver.current_url.rstrip("/").endswith("/admin/ops"), what="the click to open the dashboard")


@pytest.mark.parametrize("who", ["viewer", "nobody"])
def test_hud_is_hidden_and_silent_for_anyone_but_an_admin(stack, tokens, who):
    with new_browser() as driver:
        if who == "viewer":
            sign_in(driver, stack.url, tokens["viewer"])
        log_from = access_log_size(stack)
        driver.get(stack.url + PAGE)
        wait_until(lambda: hud_state(driver) == "hidden", what="the HUD to decide it is hidden")
        role = driver.execute_script("return window.OpsHUD.role")
        assert role == ("viewer" if who == "viewer" else None), role
        # Several polling intervals of the page (2 s) pass without a single summary request.
        time.sleep(5)
        assert driver.find_elements(By.CSS_SELECTOR, "#ops-hud") == [], "the HUD must not be shown"
        assert driver.find_element(By.CSS_SELECTOR, "#host-header-slot").text == ""
        assert summary_requests(driver) == 0, "the page asked /api/ops/summary"
        assert driver.execute_script("return window.OpsHUD.polls") == 0
        # nginx saw none either (the access log is written per request).
        assert access_log_summary_lines(stack, log_from) == [], "nginx logged /api/ops/summary requests"
        whoami = [e for e in driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)") if "/api/ops/whoami" in e]
        assert len(whoami) == 1, whoami


@pytest.mark.parametrize("is_admin", [True, False])
def test_the_host_apps_jwt_cookie_decides_like_a_session(stack, jwt_settings, is_admin):
    """On a host app's page the user is signed in to the host app: its JWT cookie is what
    whoami and the summary see (README "Access")."""
    secret, cookie = jwt_settings
    token = helpers.make_jwt(secret, helpers.jwt_claims(f"hud-{int(time.time())}", is_admin=is_admin))
    with new_browser() as driver:
        driver.get(stack.url + "/admin/ops/hud-test.html")
        driver.add_cookie({"name": cookie, "value": token, "path": "/"})
        driver.get(stack.url + PAGE)
        if is_admin:
            wait_for(driver, "#ops-hud", visible=True)
            from activity_helpers import Ops
            shows_summary(driver, Ops(stack.env).summary)
        else:
            wait_until(lambda: hud_state(driver) == "hidden", what="the HUD to hide for a viewer JWT")
            assert driver.execute_script("return window.OpsHUD.role") == "viewer"
            time.sleep(3)
            assert driver.find_elements(By.CSS_SELECTOR, "#ops-hud") == [] and summary_requests(driver) == 0


def spend(ops, user_id, run_id, usd):
    t = now() - dt.timedelta(seconds=30)
    ops.ingest_ok([finished_run(run_id, "agent-hud", t, t + dt.timedelta(seconds=1), user_id=user_id, cost_usd=usd)])


def test_budget_is_coloured_by_threshold_and_says_so_in_words(budget_ops):
    ops = budget_ops
    with new_browser() as driver:
        sign_in(driver, ops.url, ops.admin_token)
        spend(ops, "u-hud", "r-hud-a", 0.50)
        driver.get(ops.url + PAGE)
        wait_for(driver, "#ops-hud", visible=True)
        summary, level = shows_summary(driver, ops.summary, lambda s: s["budget_user"]["percent"] == 50)
        assert level == "ok" and hud_values(driver)["budget"] == "✓ 50 % ok", hud_values(driver)
        colour_ok = driver.execute_script(
            "return getComputedStyle(document.querySelector('#ops-hud .ops-hud-budget .ops-hud-value')).color")

        spend(ops, "u-hud", "r-hud-b", 0.35)   # 85 % of the $1.00 per-user limit
        summary, level = shows_summary(driver, ops.summary, lambda s: s["budget_user"]["percent"] == 85)
        assert level == "warn" and hud_values(driver)["budget"] == "▲ 85 % high", hud_values(driver)
        item = driver.find_element(By.CSS_SELECTOR, "#ops-hud .ops-hud-budget")
        assert item.get_attribute("data-level") == "warn"
        colour_warn = driver.execute_script("return getComputedStyle(arguments[0].querySelector('.ops-hud-value')).color", item)
        assert colour_warn != colour_ok, (colour_ok, colour_warn)
        save_screenshot(driver, "hud-budget-warn")

        spend(ops, "u-hud", "r-hud-c", 0.20)   # 105 %
        summary, level = shows_summary(driver, ops.summary, lambda s: s["budget_user"]["percent"] == 105)
        assert level == "bad" and hud_values(driver)["budget"] == "✕ 105 % over", hud_values(driver)
        label = driver.find_element(By.CSS_SELECTOR, "#ops-hud").get_attribute("aria-label")
        assert re.search(r"budget 105 % \(over\)", label), label
