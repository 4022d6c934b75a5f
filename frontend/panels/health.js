// Service health grid (/api/monitoring/health): filter by status, sort by name, status or
// response time, and a detail view per service (/api/monitoring/health/module/{name}) with its
// time series, summary and open alerts. Status is always spelled out and shaped (✓ ▲ ✕ ?),
// trends are arrows with words, anomalies and alerts are text badges.

import { h, clear } from "../lib/dom.js";
import { fmtMs, fmtPct, fmtInt, fmtTime, fmtAge } from "../lib/format.js";
import { need } from "../lib/api.js";
import { isAlertEvent } from "../lib/ticker.js";
import { createLineChart } from "../lib/linechart.js";

export const title = "Service health";

/** Worst first: the order of "sort by status". */
export const STATUS_ORDER = ["down", "degraded", "unknown", "healthy"];
const STATUS_SHAPE = { healthy: "✓", degraded: "▲", down: "✕", unknown: "?" };
const STATUS_CLASS = { healthy: "status-ok", degraded: "status-warn", down: "status-bad", unknown: "status-unknown" };
const TREND = { improving: ["↗", "improving"], degrading: ["↘", "degrading"], stable: ["→", "stable"] };
const RANGES = ["1h", "6h", "24h", "7d"];
const TV_TILES = 6;

/** A status badge: shape + word, coloured by class (colour is never the only signal). */
export function statusBadge(status) {
  const s = STATUS_SHAPE[status] ? status : "unknown";
  return h("span", { class: `badge ${STATUS_CLASS[s]} hg-status`, "data-status": s },
    h("span", { class: "shape", "aria-hidden": "true", text: STATUS_SHAPE[s] }), " ", s);
}

/**
 * Filters and sorts the modules of a health answer.
 * @param {Record<string, any>} modules name → module
 * @param {string} filter "all" or a status
 * @param {"name"|"status"|"response"} sort
 * @returns {[string, any][]}
 */
export function arrange(modules, filter, sort) {
  const rows = Object.entries(modules || {}).filter(([, m]) => filter === "all" || m.status === filter);
  const byName = (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const rank = (s) => { const i = STATUS_ORDER.indexOf(s); return i < 0 ? STATUS_ORDER.length : i; };
  if (sort === "status") rows.sort((a, b) => rank(a[1].status) - rank(b[1].status) || byName(a, b));
  else if (sort === "response") {
    // Slowest first; services without a time last.
    const ms = (m) => (typeof m.response_time_ms === "number" ? m.response_time_ms : -1);
    rows.sort((a, b) => ms(b[1]) - ms(a[1]) || byName(a, b));
  } else rows.sort(byName);
  return rows;
}

export function mount(root, ctx) {
  const api = ctx.api;
  const tv = !!ctx.tv;
  const state = { filter: "all", sort: "status", detail: null, range: "1h", last: null };

  const summary = h("p", { class: "hg-summary", role: "status" }, "Loading…");
  const warnings = h("ul", { class: "ops-warnings" });
  const filterSel = h("select", { id: "hg-filter", onchange: () => { state.filter = filterSel.value; drawGrid(); } },
    ...["all", ...STATUS_ORDER].map((s) => h("option", { value: s, text: s === "all" ? "all statuses" : s })));
  const sortSel = h("select", { id: "hg-sort", onchange: () => { state.sort = sortSel.value; drawGrid(); } },
    h("option", { value: "status", text: "status (worst first)" }),
    h("option", { value: "name", text: "name" }),
    h("option", { value: "response", text: "response time (slowest first)" }));
  sortSel.value = state.sort;
  const controls = h("div", { class: "ops-controls" },
    h("label", { for: "hg-filter" }, "Show "), filterSel, " ",
    h("label", { for: "hg-sort" }, "Sort by "), sortSel);
  const grid = h("ul", { class: "hg-grid", "aria-label": "Services" });
  const count = h("p", { class: "muted hg-count", "aria-live": "polite" });
  const detail = h("div", { class: "hg-detail", hidden: true });
  if (!tv) root.append(controls);
  root.append(summary, warnings, count, grid, detail);

  function drawGrid() {
    const body = state.last;
    if (!body) return;
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".hg-tile");
    const focusName = focused && grid.contains(focused) ? focused.dataset.service : null;
    clear(grid);
    const rows = arrange(body.modules, state.filter, state.sort);
    const total = Object.keys(body.modules || {}).length;
    count.textContent = state.filter === "all" ? `${total} services` : `${rows.length} of ${total} services (${state.filter})`;
    // TV mode: the worst TV_TILES services fit the screen; the rest are counted by status.
    const shown = tv ? rows.slice(0, TV_TILES) : rows;
    for (const [name, m] of shown) {
      const trend = TREND[m.trend];
      const badges = h("span", { class: "hg-badges" });
      if (m.active_alerts > 0) {
        badges.append(h("span", { class: "badge status-bad hg-alerts", "data-count": m.active_alerts },
          h("span", { "aria-hidden": "true", text: "! " }), `${m.active_alerts} alert${m.active_alerts === 1 ? "" : "s"}`));
      }
      if (m.anomaly) {
        badges.append(h("span", { class: "badge status-warn hg-anomaly" },
          h("span", { "aria-hidden": "true", text: "⚠ " }), "anomaly"));
      }
      const tile = h(tv ? "div" : "button", {
        type: tv ? undefined : "button",
        class: `hg-tile ${STATUS_CLASS[m.status] || "status-unknown"}`,
        "data-service": name, "data-status": m.status,
        "aria-expanded": tv ? undefined : String(state.detail === name),
        onclick: tv ? undefined : () => openDetail(name),
      },
        h("span", { class: "hg-name", text: name }),
        statusBadge(m.status),
        h("span", { class: "hg-ms", "data-ms": m.response_time_ms ?? "" }, fmtMs(m.response_time_ms)),
        trend ? h("span", { class: `hg-trend hg-trend-${m.trend}` },
          h("span", { "aria-hidden": "true", text: trend[0] + " " }), trend[1]) : null,
        h("span", { class: "hg-errors", "data-errors": m.error_count }, `${fmtInt(m.error_count)} failed/h`),
        badges);
      if (m.message) tile.setAttribute("title", m.message);
      grid.append(h("li", { "data-service": name }, tile));
      if (focusName === name) tile.focus();
    }
    if (!rows.length) grid.append(h("li", { class: "muted", text: total ? "No service has this status." : "No services configured." }));
    if (shown.length < rows.length) {
      const rest = {};
      for (const [, m] of rows.slice(shown.length)) rest[m.status] = (rest[m.status] || 0) + 1;
      grid.append(h("li", { class: "hg-more muted", text: `+ ${rows.length - shown.length} more: ` +
        Object.entries(rest).map(([st, n]) => `${n} ${st}`).join(", ") }));
    }
  }

  function draw(body) {
    state.last = body;
    const c = body.counts || {};
    clear(summary).append(statusBadge(body.status), " overall — ",
      `${fmtInt(c.healthy)} healthy, ${fmtInt(c.degraded)} degraded, ${fmtInt(c.down)} down, ${fmtInt(c.unknown)} unknown`);
    clear(warnings);
    const mon = body.monitor || {};
    if (mon.stale) warnings.append(h("li", { class: "status-warn" }, `▲ The monitor last reported ${fmtAge(mon.age_s)}: health may be stale.`));
    for (const w of body.warnings || []) warnings.append(h("li", { text: w }));
    drawGrid();
  }

  // ---- detail view --------------------------------------------------------------------------
  let chart = null;
  let detailToken = 0;
  const dHeading = h("h3", { tabindex: "-1", class: "hg-detail-title" });
  const dClose = h("button", { type: "button", class: "hg-close", onclick: () => closeDetail() }, "Close details");
  const dRanges = h("div", { class: "ops-ranges", role: "group", "aria-label": "Time range" },
    ...RANGES.map((r) => h("button", { type: "button", "data-range": r, "aria-pressed": String(r === state.range),
      onclick: () => { state.range = r; loadDetail().catch(() => {}); } }, r)));
  const dStatus = h("dl", { class: "hg-facts" });
  const dNote = h("p", { class: "muted hg-detail-note", "aria-live": "polite" });
  const dAlerts = h("ul", { class: "hg-detail-alerts" });
  const dChart = h("div", { class: "hg-chart" });
  detail.append(h("div", { class: "hg-detail-head" }, dHeading, dClose), dRanges, dNote, dStatus, dChart,
    h("h4", { text: "Open alerts" }), dAlerts);
  detail.setAttribute("role", "region");
  detail.setAttribute("aria-labelledby", "hg-detail-title");
  dHeading.id = "hg-detail-title";
  detail.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeDetail(); });

  function fact(term, value, attr) {
    return [h("dt", { text: term }), h("dd", { "data-fact": attr, text: value })];
  }

  async function loadDetail() {
    const name = state.detail;
    if (!name) return;
    const token = ++detailToken;
    for (const b of dRanges.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
    dNote.textContent = `Loading ${state.range}…`;
    let body;
    try {
      body = need(await api.get(`/api/monitoring/health/module/${encodeURIComponent(name)}?range=${state.range}`));
    } catch (e) {
      if (token === detailToken) dNote.textContent = `Could not load the details: ${e.message}`;
      throw e;
    }
    if (token !== detailToken) return;
    const st = body.status || {}, sm = body.summary || {}, cf = body.config || {};
    clear(dStatus).append(
      ...fact("Status", `${STATUS_SHAPE[st.status] || "?"} ${st.status}${st.status_since ? " since " + fmtTime(st.status_since) : ""}`, "status"),
      ...fact("Kind", cf.kind || "—", "kind"),
      ...fact("Target", cf.target || "—", "target"),
      ...fact("Checked", fmtTime(st.checked_at), "checked"),
      ...fact("Response time", fmtMs(st.response_time_ms), "response"),
      ...fact("Trend", st.trend ? `${TREND[st.trend] ? TREND[st.trend][0] + " " : ""}${st.trend}` : "—", "trend"),
      ...fact("Anomaly", st.anomaly ? "⚠ yes: slower than its own baseline" : "no", "anomaly"),
      ...fact(`Probes (${body.range})`, fmtInt(sm.samples), "samples"),
      ...fact("Failed probes", fmtInt(sm.failures), "failures"),
      ...fact("Uptime", fmtPct(sm.uptime_pct), "uptime"),
      ...fact("Average / max", `${fmtMs(sm.avg_ms)} / ${fmtMs(sm.max_ms)}`, "avgmax"),
      ...(st.message ? fact("Message", st.message, "message") : []));
    const series = body.series || [];
    const x = series.map((p) => Date.parse(p.ts));
    let data;
    if (body.resolution === "hour") {
      data = { x, series: [
        { name: "average", values: series.map((p) => p.avg_ms) },
        { name: "p95", values: series.map((p) => p.p95_ms) },
        { name: "max", values: series.map((p) => p.max_ms) }] };
    } else {
      data = { x, series: [
        { name: "response time", values: series.map((p) => (p.ok ? p.response_ms : null)) },
        { name: "failed probe", values: series.map((p) => (p.ok ? null : (p.response_ms ?? 0))) }] };
    }
    if (!chart) chart = createLineChart(dChart, { label: `Response time of ${name} (ms)`, yFormat: (v) => fmtMs(v), id: "hg-chart" });
    chart.update(data);
    const failedNote = body.resolution === "hour" ? "hourly figures" : "each probe; failed probes are marked separately";
    dNote.textContent = [`${series.length} points, ${failedNote}.`, ...(body.warnings || [])].join(" ");
    clear(dAlerts);
    for (const a of body.alerts || []) {
      dAlerts.append(h("li", { "data-alert-id": a.id },
        h("span", { class: `badge ${a.severity === "critical" ? "status-bad" : "status-warn"}` },
          a.severity === "critical" ? "✕ critical" : "▲ " + a.severity), " ",
        h("span", { text: a.title }), ` — ${a.state}, since ${fmtTime(a.first_fired_at)}`));
    }
    if (!(body.alerts || []).length) dAlerts.append(h("li", { class: "muted", text: "None." }));
  }

  function openDetail(name) {
    state.detail = name;
    dHeading.textContent = `Details: ${name}`;
    detail.hidden = false;
    for (const t of grid.querySelectorAll(".hg-tile")) t.setAttribute("aria-expanded", String(t.dataset.service === name));
    dHeading.focus();
    loadDetail().catch(() => {});
  }

  function closeDetail() {
    const name = state.detail;
    state.detail = null;
    detailToken++;
    detail.hidden = true;
    for (const t of grid.querySelectorAll(".hg-tile")) t.setAttribute("aria-expanded", "false");
    const tile = name && grid.querySelector(`.hg-tile[data-service="${CSS.escape(name)}"]`);
    if (tile) tile.focus();
  }

  async function refresh() {
    const body = need(await api.get("/api/monitoring/health"));
    draw(body);
    if (state.detail) await loadDetail();
  }

  return {
    refresh,
    onEvent(ev) { if (isAlertEvent(ev)) refresh().catch(() => {}); },
    destroy() { if (chart) chart.destroy(); },
  };
}
