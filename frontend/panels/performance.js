// API performance from nginx's access log (/api/monitoring/performance?range=): headline
// figures, p95 latency and request/error rate charts, and the busiest routes.

import { h, clear } from "../lib/dom.js";
import { fmtMs, fmtPct, fmtInt } from "../lib/format.js";
import { need } from "../lib/api.js";
import { createLineChart } from "../lib/linechart.js";

export const title = "API performance";

const RANGES = ["1h", "6h", "24h", "7d"];

/** Requests per second with up to 2 decimals ("0.25 req/s"). */
export function fmtRate(x) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "—";
  return `${x.toLocaleString("en-US", { maximumFractionDigits: x < 10 ? 2 : 1 })} req/s`;
}

/** Seconds → "3 d 4 h", "2 h 5 min", "40 s". */
export function fmtDuration(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "—";
  s = Math.max(0, Math.floor(s));
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

export function mount(root, ctx) {
  const api = ctx.api;
  let range = "1h";
  const ranges = h("div", { class: "ops-ranges", role: "group", "aria-label": "Time range" },
    ...RANGES.map((r) => h("button", { type: "button", "data-range": r, "aria-pressed": String(r === range),
      onclick: () => { range = r; mark(); refresh().catch(() => {}); } }, r)));
  const figures = h("dl", { class: "ops-figures pf-figures" });
  const note = h("p", { class: "muted pf-note", "aria-live": "polite" });
  const latency = h("div", { class: "pf-chart" });
  const traffic = h("div", { class: "pf-chart" });
  const routes = h("div", { class: "pf-routes ops-scroll" });
  if (!ctx.tv) root.append(ranges);
  root.append(figures, note, latency, traffic, routes);
  const latencyChart = createLineChart(latency, { label: "API p95 response time (ms)", yFormat: (v) => fmtMs(v), id: "pf-latency" });
  const trafficChart = createLineChart(traffic, { label: "API requests and 5xx errors per step", yFormat: (v) => fmtInt(v), id: "pf-traffic" });

  function mark() {
    for (const b of ranges.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.range === range));
  }

  function fig(term, value, key) {
    return [h("dt", { text: term }), h("dd", { "data-key": key, text: value })];
  }

  function draw(body) {
    const rt = body.api_response_time || {};
    clear(figures).append(
      ...fig("p50", fmtMs(rt.p50), "p50"), ...fig("p95", fmtMs(rt.p95), "p95"), ...fig("p99", fmtMs(rt.p99), "p99"),
      ...fig("Request rate", fmtRate(body.request_rate), "request_rate"),
      ...fig("Error rate (5xx)", fmtPct(body.error_rate), "error_rate"),
      ...fig("Requests", fmtInt(body.requests), "requests"),
      ...fig("Uptime", fmtDuration(body.uptime_seconds), "uptime"));
    const step = body.step_s || 60;
    note.textContent = [`Range ${body.range}, one point per ${step >= 3600 ? "hour" : "minute"}.`,
      typeof body.freshness_s === "number" ? `Data ${Math.round(body.freshness_s)} s old.` : "",
      ...(body.warnings || [])].filter(Boolean).join(" ");
    const series = body.series || [];
    const x = series.map((p) => Date.parse(p.ts));
    latencyChart.update({ x, series: [{ name: "p95", values: series.map((p) => p.p95) }] });
    trafficChart.update({ x, series: [
      { name: "requests", values: series.map((p) => p.requests) },
      { name: "5xx errors", values: series.map((p) => p.errors) }] });
    const rows = (body.routes || []).map((r) => h("tr", { "data-route": r.route_group },
      h("th", { scope: "row", text: r.route_group }),
      h("td", { class: "num", text: fmtInt(r.requests) }),
      h("td", { class: "num", text: fmtInt(r.errors) }),
      h("td", { class: "num", text: fmtMs(r.p50) }),
      h("td", { class: "num", text: fmtMs(r.p95) })));
    clear(routes).append(h("table", { class: "ops-table" },
      h("caption", { text: `Busiest routes (${body.range})` }),
      h("thead", null, h("tr", null, ...["Route", "Requests", "5xx", "p50", "p95"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", null, ...(rows.length ? rows : [h("tr", null, h("td", { colspan: "5", class: "muted", text: "No requests." }))]))));
  }

  let token = 0;
  async function refresh() {
    const mine = ++token;
    const body = need(await api.get(`/api/monitoring/performance?range=${range}`));
    if (mine === token) draw(body);
  }

  return { refresh, destroy() { latencyChart.destroy(); trafficChart.destroy(); } };
}
