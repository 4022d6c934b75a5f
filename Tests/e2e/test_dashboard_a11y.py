"""axe-core (shipped by axe-selenium-python) over the whole dashboard, normal and TV mode, and
the sign-in page: zero violations. Every panel on the page is checked, including the ones that
another branch provides. Screenshots of what was checked go to $OPS_STATE/screenshots/.
"""

import pytest

import activity_helpers as ah
from activity_helpers import Ops
from browser_helpers import admin_browser, new_browser, open_dashboard, save_screenshot, wait_for  # noqa: F401

axe_selenium = pytest.importorskip("axe_selenium_python", reason="pip install -r Tests/e2e/requirements.txt")
Axe = axe_selenium.Axe


def violations_of(driver):
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return results["violations"], axe


def describe(violations, axe):
    lines = []
    for v in violations:
        targets = [", ".join(n.get("target", [])) for n in v.get("nodes", [])][:5]
        lines.append(f"{v['id']} ({v.get('impact')}): {v['help']} — {len(v.get('nodes', []))} node(s): {targets}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def with_data(stack):
    """A little of everything so every panel draws rows, not only its empty state."""
    ops = Ops(stack.env)
    t = ah.ago(minutes=10)
    ops.ingest_ok([
        ah.agent("a11y-agent", "Accessibility check agent", owner_email="a11y@example.com"),
        ah.finished_run("a11y-run-1", "a11y-agent", t, t + ah.dt.timedelta(seconds=2), user_id="a11y-user", cost_usd=0.01),
        ah.finished_run("a11y-run-2", "a11y-agent", t, t + ah.dt.timedelta(seconds=3), status="failed",
                        user_id="a11y-user", cost_usd=0.02, error="timeout"),
        ah.llm_call("a11y-call-1", t, "openai", "gpt-4o", prompt_tokens=100, completion_tokens=20, cost_usd=0.001),
    ])


@pytest.mark.parametrize("query,shot", [("", "a11y-dashboard"), ("?tv=1", "a11y-dashboard-tv")])
def test_dashboard_has_no_axe_violations(admin_browser, base_url, with_data, query, shot):  # noqa: F811
    if query:
        admin_browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                      {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    try:
        open_dashboard(admin_browser, base_url, query)
        wait_for(admin_browser, "#panel-ticker li")
        save_screenshot(admin_browser, shot)
        violations, axe = violations_of(admin_browser)
        assert not violations, f"axe-core on /admin/ops/{query}:\n{describe(violations, axe)}"
    finally:
        if query:
            admin_browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_offline_banner_and_stale_markers_have_no_axe_violations(admin_browser, base_url):  # noqa: F811
    """The banner and the stale markers, shown as they look in an outage (without stopping the
    stack: the page is told the API went away and what the panels' last error was)."""
    open_dashboard(admin_browser, base_url)
    admin_browser.execute_script("""
        document.getElementById('offline-banner').hidden = false;
        document.getElementById('offline-age').textContent = 'Showing the last values, from 12 s ago.';
        document.getElementById('offline-retry').textContent = 'Retrying in 4 s.';
        for (const p of document.querySelectorAll('main .stale')) { p.hidden = false; p.textContent = '▲ Stale: values from 12 s ago (HTTP 503)'; }
    """)
    violations, axe = violations_of(admin_browser)
    assert not violations, f"axe-core with the offline banner:\n{describe(violations, axe)}"


def test_sign_in_page_has_no_axe_violations(base_url):
    with new_browser() as driver:
        driver.get(base_url + "/admin/ops/login")
        wait_for(driver, "#login-token", visible=True)
        violations, axe = violations_of(driver)
        assert not violations, f"axe-core on the sign-in page:\n{describe(violations, axe)}"
