// KPI cards: today's runs, success rate, cost, active users, errors in the last hour, agents
// and latency, from /api/ops/summary (+ the 24 h success rate from /api/v1/ops/overview).

export const title = "Today at a glance";

const CARDS = [
  ["runs", "Runs today"],
  ["success", "Success rate (24 h)"],
  ["cost", "Cost today"],
  ["users", "Active users (24 h)"],
  ["errors", "Errors (last hour)"],
  ["agents", "Agents"],
  ["latency", "Run latency p50 / p95"],
];

/** Milliseconds as seconds with one decimal ("4.6 s"), "—" for null. */
function seconds(ms) {
  return typeof ms === "number" && Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "—";
}

export function mount(root, ctx) {
  const { h } = ctx.dom;
  const f = ctx.format;
  const cells = {};
  const list = h("div", { class: "kpi-list" });
  for (const [key, label] of CARDS) {
    const value = h("dd", { "data-kpi": key, text: "—" });
    cells[key] = value;
    // One <dl> per card: a term (what) and its value.
    list.appendChild(h("dl", { class: `kpi kpi-${key}` }, h("dt", { text: label }), value));
  }
  root.appendChild(list);
  root.appendChild(h("p", { class: "muted small kpi-generated" }));
  const generated = root.lastChild;

  function set(key, main, sub, status) {
    const el = cells[key];
    el.textContent = main;
    if (sub) el.appendChild(h("span", { class: "sub", text: sub }));
    if (status) el.dataset.status = status; else delete el.dataset.status;
  }

  async function refresh() {
    const [s, overview] = await Promise.all([
      ctx.api.shared("/api/ops/summary"),
      ctx.api.shared("/api/v1/ops/overview?period=24h").catch(() => null),
    ]);
    set("runs", f.fmtInt(s.runs_today));
    const rate = overview && overview.runs ? overview.runs.success_rate : null;
    set("success", typeof rate === "number" ? f.fmtPct(rate * 100) : "—",
      overview && overview.runs ? `${f.fmtInt(overview.runs.by_state && overview.runs.by_state.failed)} failed` : "");
    set("cost", f.fmtUSD(s.cost_today_usd), s.cost_today_usd === null ? "no priced run yet" : "");
    set("users", f.fmtInt(s.active_users_24h));
    const errs = s.errors_last_hour;
    set("errors", f.fmtInt(errs), errs > 0 ? "▲ failed runs" : "✓ none failed", errs > 0 ? "warn" : "ok");
    set("agents", f.fmtInt(s.agents_total), `${f.fmtInt(s.agents_scheduled)} scheduled`);
    const lat = s.latency_ms || {};
    set("latency", `${seconds(lat.p50)} / ${seconds(lat.p95)}`, "successful runs today");
    generated.textContent = s.generated_at ? `Computed ${f.fmtTime(s.generated_at)}` : "";
  }

  return { refresh };
}
