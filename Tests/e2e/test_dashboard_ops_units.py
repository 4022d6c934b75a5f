"""The ops panels' pure logic and the line chart, run as ES modules in headless Chromium (the
browser the dashboard targets; no Node needed): tick choice, gaps, nearest point, keyboard
read-out and data table of lib/linechart.js; the health grid's filter and sort; which alerts are
new; the bundle's file name; rate and duration formatting.

The modules are imported from the stack's nginx (static files are public), so this checks the
files exactly as they are served.
"""

import json

import pytest

from browser_helpers import new_browser


@pytest.fixture(scope="module")
def browser(stack):
    with new_browser() as driver:
        # Any same-origin page: the modules are imported relative to it.
        driver.get(stack.url + "/admin/ops/hud-test.html")
        yield driver


def run(driver, body):
    """Runs `body` (an async function body that returns JSON-able data) in the page."""
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async () => {{ {body} }})().then(v => done({{ok: v}}), e => done({{error: String(e && e.stack || e)}}));")
    assert "error" not in result, result["error"]
    return result["ok"]


def test_nice_ticks_nearest_point_and_gaps(browser):
    out = run(browser, """
        const m = await import('/admin/ops/lib/linechart.js');
        return {
          t37: m.niceTicks(0, 37, 4), t0: m.niceTicks(0, 0, 4), t930: m.niceTicks(0, 930, 4), tneg: m.niceTicks(-3, 7, 4),
          n: [m.nearestIndex([0, 10, 20], 14), m.nearestIndex([0, 10, 20], 16), m.nearestIndex([0, 10, 20], -5),
              m.nearestIndex([0, 10, 20], 99), m.nearestIndex([], 3)],
          p: m.pathData([0, 1, 2, 3], [5, null, 7, 8]), pnone: m.pathData([0, 1], [null, NaN]),
          short: m.timeLabel(Date.UTC(2026, 11, 7, 14, 5), 3600e3), long: m.timeLabel(Date.UTC(2026, 11, 7, 14, 5), 7 * 86400e3),
        };""")
    assert out["t37"] == [0, 10, 20, 30, 40], out
    assert out["t0"] == [0, 0.25, 0.5, 0.75, 1], out
    assert out["t930"] == [0, 250, 500, 750, 1000], out
    assert out["tneg"][0] <= -3 and out["tneg"][-1] >= 7 and 0 in out["tneg"], out
    assert out["n"] == [1, 2, 0, 2, -1], out
    assert out["p"] == "M0.0,5.0M2.0,7.0L3.0,8.0", "a null value must break the line"
    assert out["pnone"] == ""
    assert out["short"] == "14:05" and out["long"] == "12-07 14:05", out


def test_chart_reads_values_by_keyboard_and_fills_its_table(browser):
    out = run(browser, """
        const m = await import('/admin/ops/lib/linechart.js');
        const host = document.createElement('div');
        document.body.append(host);
        const t0 = Date.UTC(2026, 11, 7, 10, 0);
        const chart = m.createLineChart(host, {label: 'Test chart', yFormat: v => v + ' ms', id: 'unit'});
        chart.update({x: [t0, t0 + 60e3, t0 + 120e3, t0 + 180e3, t0 + 240e3],
                      series: [{name: 'a', values: [1, null, 30, null, 5]}, {name: 'b', values: [2, 2, 2, 2, 2]}]});
        const svg = host.querySelector('svg');
        const readout = host.querySelector('.lc-readout');
        svg.focus();
        const onFocus = readout.textContent;
        const key = k => svg.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
        key('Home'); const home = readout.textContent;
        key('ArrowRight'); const second = readout.textContent;
        key('End'); key('ArrowRight'); const end = readout.textContent;
        const details = host.querySelector('details');
        details.open = true;
        await new Promise(r => setTimeout(r, 50));
        const rows = [...host.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(c => c.textContent));
        const ticks = [...host.querySelectorAll('.lc-axes text')].map(t => t.textContent);
        const dots = host.querySelectorAll('circle.lc-dot').length;
        const paths = [...host.querySelectorAll('path.lc-line')].map(p => p.getAttribute('d').split('M').length - 1);
        const label = svg.getAttribute('aria-label');
        // Hover: a pointer over the chart's left edge reads the first point; leaving clears it.
        svg.blur();
        const box = svg.getBoundingClientRect();
        svg.dispatchEvent(new PointerEvent('pointermove', {clientX: box.left + 1, clientY: box.top + box.height / 2, bubbles: true}));
        const hover = readout.textContent;
        const cursor = host.querySelectorAll('.lc-cursor-line').length;
        svg.dispatchEvent(new PointerEvent('pointerleave', {bubbles: true}));
        const left = readout.textContent;
        const html = host.innerHTML.includes('<script');
        chart.update({x: [], series: [{name: 'a', values: []}]});
        const empty = host.querySelector('.lc-empty') && host.querySelector('.lc-empty').textContent;
        chart.destroy();
        return {onFocus, home, second, end, rows, ticks, dots, paths, label, html, empty, gone: !host.firstChild, hover, cursor, left};""")
    assert out["onFocus"] == "2026-12-07 10:04:00Z: a 5 ms, b 2 ms", out["onFocus"]
    assert out["home"] == "2026-12-07 10:00:00Z: a 1 ms, b 2 ms", out["home"]
    assert out["second"] == "2026-12-07 10:01:00Z: a no data, b 2 ms", out["second"]
    assert out["end"] == out["onFocus"], "the cursor stops at the last point"
    assert out["rows"][1] == ["2026-12-07 10:01:00", "—", "2 ms"] and len(out["rows"]) == 5, out["rows"]
    assert "0 ms" in out["ticks"] and "30 ms" in out["ticks"] and "10:00" in out["ticks"], out["ticks"]
    # Series a: 1 | gap | 30 | gap | 5 → three lone points (dots), three path segments.
    assert out["dots"] == 3 and out["paths"] == [3, 1], out
    assert out["label"].startswith("Test chart.") and "arrow keys" in out["label"]
    assert out["hover"] == out["home"] and out["cursor"] == 1 and out["left"] == "", out
    assert out["empty"] == "No data in this range" and out["gone"], out


def test_health_grid_filter_and_sort_rules(browser):
    out = run(browser, """
        const m = await import('/admin/ops/panels/health.js');
        const mods = {b: {status: 'healthy', response_time_ms: 5}, a: {status: 'down', response_time_ms: null},
                      c: {status: 'degraded', response_time_ms: 900}, d: {status: 'unknown', response_time_ms: null},
                      e: {status: 'healthy', response_time_ms: 50}};
        const names = rows => rows.map(r => r[0]);
        return {
          name: names(m.arrange(mods, 'all', 'name')), status: names(m.arrange(mods, 'all', 'status')),
          response: names(m.arrange(mods, 'all', 'response')), healthy: names(m.arrange(mods, 'healthy', 'name')),
          none: names(m.arrange(mods, 'down', 'name')), empty: m.arrange(undefined, 'all', 'name').length,
          badge: m.statusBadge('down').textContent, odd: m.statusBadge('<b>x</b>').textContent,
        };""")
    assert out["name"] == ["a", "b", "c", "d", "e"]
    assert out["status"] == ["a", "c", "d", "b", "e"], "worst first, then by name"
    assert out["response"] == ["c", "e", "b", "a", "d"], "slowest first, services without a time last"
    assert out["healthy"] == ["b", "e"] and out["none"] == ["a"] and out["empty"] == 0
    assert out["badge"] == "✕ down" and out["odd"] == "? unknown", out


def test_alerts_bundle_and_performance_helpers(browser):
    out = run(browser, """
        const al = await import('/admin/ops/panels/alerts.js');
        const bd = await import('/admin/ops/panels/bundle.js');
        const pf = await import('/admin/ops/panels/performance.js');
        const fresh = al.newlyFiring(new Set([1, 2]), [{id: 1, state: 'firing'}, {id: 3, state: 'firing'},
                                                       {id: 4, state: 'acknowledged'}]).map(a => a.id);
        return {
          fresh,
          names: [bd.fileNameOf('attachment; filename="opsplane-support-20261207T130000Z.json.gz"'), bd.fileNameOf(null),
                  bd.fileNameOf("attachment; filename*=UTF-8''a%20b.json.gz")],
          rates: [pf.fmtRate(0.25), pf.fmtRate(123.456), pf.fmtRate(null)],
          durations: [pf.fmtDuration(40), pf.fmtDuration(125), pf.fmtDuration(7500), pf.fmtDuration(3 * 86400 + 4 * 3600), pf.fmtDuration(null)],
        };""")
    assert out["fresh"] == [3], out
    assert out["names"] == ["opsplane-support-20261207T130000Z.json.gz", "opsplane-support.json.gz", "a b.json.gz"], out
    assert out["rates"] == ["0.25 req/s", "123.5 req/s", "—"], out
    assert out["durations"] == ["40 s", "2 min 5 s", "2 h 5 min", "3 d 4 h", "—"], out
