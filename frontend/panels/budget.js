// Budget gauges: the top spender against the per-user daily limit and all spend against the
// global limit (/api/ops/summary). Green < 80 %, amber 80–99.9 %, red ≥ 100 %, each with a word
// and a shape; the drawing is clamped, the number is not.

import { drawGauge, gaugeStatus } from "../lib/gauge.js";

export const title = "Budgets today";

export function mount(root, ctx) {
  const { h, clear } = ctx.dom;
  const f = ctx.format;
  const wrap = h("div", { class: "gauges" });
  root.appendChild(wrap);
  const slots = {
    user: makeSlot("Top user vs per-user limit"),
    global: makeSlot("All spend vs global limit"),
  };

  function makeSlot(label) {
    const art = h("div", { class: "gauge-art" });
    const pct = h("strong", { class: "gauge-pct" });
    const status = h("span", { class: "badge" });
    const detail = h("span", { class: "gauge-detail muted" });
    const fig = h("figure", { class: "gauge" }, art,
      h("figcaption", null, h("span", { class: "gauge-label", text: label }), h("br"), pct, " ", status, h("br"), detail));
    wrap.appendChild(fig);
    return { fig, art, pct, status, detail };
  }

  function draw(slot, b, who) {
    const percent = b && typeof b.percent === "number" ? b.percent : null;
    const st = gaugeStatus(percent);
    clear(slot.art).appendChild(drawGauge(percent, percent === null ? "off" : f.fmtPct(percent)));
    slot.pct.textContent = percent === null ? "No limit set" : f.fmtPct(percent);
    slot.status.textContent = `${st.shape} ${st.word}`;
    slot.status.className = `badge status-${st.status === "off" ? "neutral" : st.status}`;
    slot.fig.dataset.status = st.status;
    slot.fig.dataset.percent = percent === null ? "" : String(percent);
    const limit = b && b.limit_cents ? `of ${f.fmtUSD(b.limit_cents / 100)}` : "spent (limit off)";
    slot.detail.textContent = `${who ? who + ": " : ""}${f.fmtUSD(b ? b.used_usd : null)} ${limit}`;
  }

  async function refresh() {
    const s = await ctx.api.shared("/api/ops/summary");
    draw(slots.user, s.budget_user, s.budget_user && s.budget_user.user_id ? String(s.budget_user.user_id) : "");
    draw(slots.global, s.budget_global, "");
  }

  return { refresh };
}
