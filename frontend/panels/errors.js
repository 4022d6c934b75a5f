// Frontend error feed (/api/ops/frontend-logs?group=1&since=…): browser errors grouped by
// fingerprint, biggest group first. Messages and stacks came from browsers: text only.

import { h, clear } from "../lib/dom.js";
import { fmtInt, fmtTime } from "../lib/format.js";
import { need } from "../lib/api.js";

export const title = "Frontend errors";

const WINDOWS = [["15m", "15 minutes"], ["1h", "hour"], ["24h", "24 hours"], ["7d", "7 days"]];

export function mount(root, ctx) {
  const api = ctx.api;
  let since = "24h";
  const sel = h("select", { id: "fe-since", onchange: () => { since = sel.value; refresh().catch(() => {}); } },
    ...WINDOWS.map(([v, t]) => h("option", { value: v, text: `last ${t}` })));
  sel.value = since;
  const totals = h("p", { class: "muted fe-totals" });
  const list = h("ol", { class: "fe-groups", "aria-label": "Error groups" });
  if (!ctx.tv) root.append(h("div", { class: "ops-controls" }, h("label", { for: "fe-since" }, "Show "), sel));
  root.append(totals, list);

  function draw(body) {
    const groups = body.groups || [];
    const dropped = Object.entries(body.dropped || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${fmtInt(n)}`);
    totals.textContent = `${fmtInt(groups.reduce((s, g) => s + (g.count || 0), 0))} reports in ${fmtInt(groups.length)} groups (since ${body.since || since}). ` +
      `Received in all: ${fmtInt(body.received_total)}; overwritten: ${fmtInt(body.evicted)}` +
      (dropped.length ? `; refused: ${dropped.join(", ")}.` : ".");
    clear(list);
    for (const g of groups) {
      const item = h("li", { class: "fe-group", "data-fingerprint": g.fingerprint },
        h("p", { class: "fe-head" },
          h("span", { class: "badge status-bad fe-count", "data-count": g.count },
            h("span", { "aria-hidden": "true", text: "✕ " }), `${fmtInt(g.count)}×`), " ",
          h("strong", { class: "fe-type", text: g.type || "Error" }), ": ",
          h("span", { class: "fe-message", text: g.message ?? "" })),
        h("p", { class: "muted fe-meta" },
          `Last ${fmtTime(g.last_seen)}, first ${fmtTime(g.first_seen)}. Routes: `,
          h("span", { class: "fe-routes", text: (g.routes || []).join(", ") || "—" }),
          ". Builds: ",
          h("span", { class: "fe-builds", text: (g.build_hashes || []).join(", ") || "—" }), "."),
        g.sample_stack ? h("details", { class: "fe-stack" }, h("summary", { text: "Stack" }),
          h("pre", { text: g.sample_stack })) : null);
      list.append(item);
    }
    if (!groups.length) list.append(h("li", { class: "muted", text: "No browser errors in this window." }));
  }

  let token = 0;
  async function refresh() {
    const mine = ++token;
    const body = need(await api.get(`/api/ops/frontend-logs?group=1&since=${encodeURIComponent(since)}&limit=50`));
    if (mine === token) draw(body);
  }

  return { refresh };
}
