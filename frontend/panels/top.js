// Top agents today: runs started today, descending (ties by id), with cost and p95 latency
// (/api/ops/top?kind=agents&window=today). Agent names and e-mails are shown as text.

export const title = "Top agents today";

export function mount(root, ctx) {
  const { h, clear } = ctx.dom;
  const f = ctx.format;
  const limit = ctx.tv ? 5 : 10;
  const tbody = h("tbody");
  const table = h("table", { class: "top-agents" },
    h("caption", { text: `The ${limit} agents with the most runs started today (UTC)` }),
    h("thead", null, h("tr", null,
      h("th", { scope: "col", class: "num rank", text: "#" }),
      h("th", { scope: "col", text: "Agent" }),
      ctx.tv ? null : h("th", { scope: "col", text: "Owner" }),
      h("th", { scope: "col", class: "num", text: "Runs" }),
      h("th", { scope: "col", class: "num", text: "Cost" }),
      h("th", { scope: "col", class: "num", text: "p95" }))),
    tbody);
  root.appendChild(h("div", { class: "table-wrap" }, table));

  async function refresh() {
    const rows = await ctx.api.get(`/api/ops/top?kind=agents&window=today&limit=${limit}`);
    clear(tbody);
    if (!Array.isArray(rows) || rows.length === 0) {
      tbody.appendChild(h("tr", null, h("td", { colspan: ctx.tv ? 5 : 6, class: "empty", text: "No runs today yet." })));
      return;
    }
    rows.forEach((a, i) => {
      tbody.appendChild(h("tr", { "data-agent-id": a.agent_id },
        h("td", { class: "num rank", text: String(i + 1) }),
        h("th", { scope: "row", class: "name" }, h("span", { class: "agent-name", text: a.name || a.agent_id }),
          a.name ? h("span", { class: "muted agent-id", text: ` (${a.agent_id})` }) : null),
        ctx.tv ? null : h("td", { class: "name owner", text: a.owner_email || "—" }),
        h("td", { class: "num runs", text: f.fmtInt(a.runs) }),
        h("td", { class: "num cost", text: f.fmtUSD(a.cost_usd) }),
        h("td", { class: "num p95", text: f.fmtMs(a.p95_ms) })));
    });
  }

  return { refresh };
}
