// Today by hour: runs, errors and cost as sparklines (/api/ops/timeseries, 24 zero-filled UTC
// hours), with the day's total and the current hour's value spelled out.

import { drawSparkline } from "../lib/sparkline.js";

export const title = "Today by hour (UTC)";

const METRICS = [
  ["runs_by_hour", "Runs", "int"],
  ["errors_by_hour", "Errors", "int"],
  ["cost_by_hour", "Cost", "usd"],
];

export function mount(root, ctx) {
  const { h, clear } = ctx.dom;
  const f = ctx.format;
  const list = h("div", { class: "sparks" });
  root.appendChild(list);
  const rows = {};
  for (const [metric, label] of METRICS) {
    const art = h("dd", { class: "spark-art" });
    const total = h("dd", { class: "spark-total", "data-metric": metric });
    list.appendChild(h("dl", { class: "spark" }, h("dt", { text: label }), art, total));
    rows[metric] = { art, total };
  }

  async function refresh() {
    const answers = await Promise.all(METRICS.map(([m]) =>
      ctx.api.get(`/api/ops/timeseries?metric=${m}&window=today`)));
    const hour = new Date().getUTCHours();
    METRICS.forEach(([metric, label, kind], i) => {
      const points = Array.isArray(answers[i]) ? answers[i] : [];
      const values = points.map((p) => (typeof p.value === "number" ? p.value : 0));
      const sum = values.reduce((a, b) => a + b, 0);
      const fmt = kind === "usd" ? f.fmtUSD : f.fmtInt;
      let peak = 0;
      values.forEach((v, j) => { if (v > values[peak]) peak = j; });
      const now = values[hour];
      const peakHour = points[peak] ? points[peak].hour_iso : "";
      const name = `${label} by hour today: ${fmt(sum)} in total, peak ${fmt(values[peak])} at ${peakHour}, ` +
        `this hour ${fmt(now)}`;
      clear(rows[metric].art).appendChild(drawSparkline(values, name));
      rows[metric].total.textContent = fmt(sum);
      rows[metric].total.dataset.sum = String(sum);
      rows[metric].total.title = `Total today; this hour: ${fmt(now)}`;
    });
  }

  return { refresh };
}
