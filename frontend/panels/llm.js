// LLM usage today by provider and model: calls, tokens and cost (/api/ops/top?kind=models).
// A model without a price shows "—" for its cost (unknown, never 0).

export const title = "LLM usage today";

export function mount(root, ctx) {
  const { h, clear } = ctx.dom;
  const f = ctx.format;
  const tbody = h("tbody");
  const tfoot = h("tfoot");
  const table = h("table", { class: "llm-usage" },
    h("caption", { text: "Calls, tokens and cost by provider and model, today (UTC)" }),
    h("thead", null, h("tr", null,
      h("th", { scope: "col", text: "Provider / model" }),
      h("th", { scope: "col", class: "num", text: "Calls" }),
      h("th", { scope: "col", class: "num", text: "Prompt tokens" }),
      h("th", { scope: "col", class: "num", text: "Completion tokens" }),
      h("th", { scope: "col", class: "num", text: "Cost" }))),
    tbody, tfoot);
  root.appendChild(h("div", { class: "table-wrap" }, table));

  async function refresh() {
    const rows = await ctx.api.get("/api/ops/top?kind=models&window=today&limit=20");
    clear(tbody);
    clear(tfoot);
    if (!Array.isArray(rows) || rows.length === 0) {
      tbody.appendChild(h("tr", null, h("td", { colspan: 5, class: "empty", text: "No LLM calls today yet." })));
      return;
    }
    let calls = 0, prompt = 0, completion = 0, cost = 0, priced = false;
    for (const m of rows) {
      calls += m.calls || 0;
      prompt += m.prompt_tokens || 0;
      completion += m.completion_tokens || 0;
      if (typeof m.cost_usd === "number") { cost += m.cost_usd; priced = true; }
      tbody.appendChild(h("tr", { "data-model": `${m.provider}/${m.model}` },
        h("th", { scope: "row", class: "name" }, h("span", { class: "provider", text: m.provider }), " / ",
          h("span", { class: "model", text: m.model })),
        h("td", { class: "num calls", text: f.fmtInt(m.calls) }),
        h("td", { class: "num prompt", text: f.fmtInt(m.prompt_tokens) }),
        h("td", { class: "num completion", text: f.fmtInt(m.completion_tokens) }),
        h("td", { class: "num cost", text: typeof m.cost_usd === "number" ? f.fmtUSD(m.cost_usd) : "— (no price)" })));
    }
    tfoot.appendChild(h("tr", null,
      h("th", { scope: "row", text: "All models" }),
      h("td", { class: "num", text: f.fmtInt(calls) }),
      h("td", { class: "num", text: f.fmtInt(prompt) }),
      h("td", { class: "num", text: f.fmtInt(completion) }),
      h("td", { class: "num", text: priced ? f.fmtUSD(cost) : "—" })));
  }

  return { refresh };
}
