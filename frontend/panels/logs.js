// Log viewer for the allowlisted services (/api/ops/logs). The services are what the server
// names in its answer to a request without `service` (400 with `error.services`). Lines are
// shown as text (never HTML), as parsed entries or exactly as in the file (format=plain).

import { h, clear } from "../lib/dom.js";
import { fmtInt } from "../lib/format.js";

export const title = "Logs";

const TAILS = [50, 200, 1000, 5000];
const LEVELS = ["", "debug", "info", "warn", "error"];
const LEVEL_MARK = { error: ["✕", "status-bad"], warn: ["▲", "status-warn"], info: ["ℹ", "status-unknown"], debug: ["·", "status-unknown"] };

/** Services the server allows, from its refusal of a request without `service`. */
export async function discoverServices(fetchImpl = fetch) {
  let res;
  try {
    res = await fetchImpl("/api/ops/logs", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
  } catch (_) {
    throw Object.assign(new Error("The API cannot be reached."), { offline: true });
  }
  const body = await res.json().catch(() => null);
  const services = body && body.error && body.error.services;
  if (!Array.isArray(services)) {
    const err = new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
    // @ts-ignore: the shell reads .status / .offline like an ApiError
    err.status = res.status; err.offline = res.status >= 500;
    throw err;
  }
  return services.map(String);
}

export function mount(root, ctx) {
  const serviceSel = h("select", { id: "lg-service" });
  const tailSel = h("select", { id: "lg-tail" }, ...TAILS.map((n) => h("option", { value: String(n), text: `${fmtInt(n)} lines` })));
  tailSel.value = "200";
  const levelSel = h("select", { id: "lg-level" }, ...LEVELS.map((l) => h("option", { value: l, text: l ? `${l} and above` : "any level" })));
  const plainBox = h("input", { type: "checkbox", id: "lg-plain" });
  const loadBtn = h("button", { type: "submit", class: "lg-load" }, "Show");
  const form = h("form", { class: "ops-controls lg-form", onsubmit: (ev) => { ev.preventDefault(); load().catch(() => {}); } },
    h("label", { for: "lg-service" }, "Service "), serviceSel, " ",
    h("label", { for: "lg-tail" }, "Last "), tailSel, " ",
    h("label", { for: "lg-level" }, "Level "), levelSel, " ",
    plainBox, h("label", { for: "lg-plain" }, " as plain text"), " ", loadBtn);
  const status = h("p", { class: "muted lg-status", role: "status" });
  const output = h("div", { class: "lg-output ops-scroll", tabindex: "0", role: "region", "aria-label": "Log lines" });
  root.append(form, status, output);
  let services = null;
  let shown = null; // the query last shown, reloaded by refresh()
  let token = 0;

  function query() {
    const p = new URLSearchParams({ service: serviceSel.value, tail: tailSel.value, format: plainBox.checked ? "plain" : "json" });
    if (levelSel.value) p.set("level", levelSel.value);
    return p;
  }

  async function load(p = query(), keepScroll = false) {
    if (!p.get("service")) return;
    // A reload by the refresh loop keeps the reader's place unless they were at the newest line.
    const atEnd = output.scrollHeight - output.scrollTop - output.clientHeight < 8;
    const scrollTop = output.scrollTop;
    const mine = ++token;
    status.textContent = `Loading ${p.get("service")}…`;
    let res, text;
    try {
      res = await fetch(`/api/ops/logs?${p}`, { credentials: "same-origin", cache: "no-store" });
      text = await res.text();
    } catch (_) {
      if (mine === token) status.textContent = "The API cannot be reached.";
      throw Object.assign(new Error("The API cannot be reached."), { offline: true });
    }
    if (mine !== token) return;
    if (!res.ok) {
      let msg = `HTTP ${res.status}`;
      try { msg = JSON.parse(text).error.message || msg; } catch (_) { /* not JSON */ }
      status.textContent = `Not shown: ${msg}`;
      const err = new Error(msg);
      // @ts-ignore
      err.status = res.status; err.offline = res.status >= 500;
      throw err;
    }
    shown = p;
    clear(output);
    if (p.get("format") === "plain") {
      const lines = text ? text.replace(/\n$/, "").split("\n").length : 0;
      output.append(h("pre", { class: "lg-plain", text }));
      status.textContent = `${p.get("service")}: ${fmtInt(lines)} lines as in the file.`;
      return;
    }
    const body = JSON.parse(text);
    const entries = body.entries || [];
    const list = h("ol", { class: "lg-lines" });
    for (const e of entries) {
      const [mark, cls] = LEVEL_MARK[e.level] || ["", ""];
      list.append(h("li", { class: "lg-line", "data-level": e.level || "" },
        h("span", { class: "lg-ts", text: e.ts || "—" }), " ",
        h("span", { class: `lg-level ${cls}`, text: `${mark} ${e.level || "?"}`.trim() }), " ",
        h("span", { class: "lg-msg", text: e.message ?? "" })));
    }
    output.append(list);
    status.textContent = `${body.service}: ${fmtInt(entries.length)} lines` +
      ((body.files || []).length ? ` from ${body.files.length} file(s)` : "") + "." +
      ((body.warnings || []).length ? ` ${body.warnings.join(" ")}` : "");
    // Newest lines are at the end: show them (unless the reader scrolled back).
    output.scrollTop = keepScroll && !atEnd ? scrollTop : output.scrollHeight;
  }

  async function refresh() {
    if (!services) {
      services = await discoverServices();
      clear(serviceSel).append(...services.map((s) => h("option", { value: s, text: s })));
      if (!services.length) { status.textContent = "No log services are configured (OPS_LOG_SOURCES)."; return; }
      status.textContent = `${services.length} services. Choose one and press Show.`;
      return;
    }
    if (shown) await load(shown, true);
  }

  return { refresh };
}
