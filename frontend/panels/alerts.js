// Alerts (/api/ops/alerts): the open ones (firing, acknowledged) with an acknowledge form
// (POST /api/ops/alerts/{id}/ack {"note"}), each alert's history on demand, and the recently
// resolved ones. A newly firing alert is announced assertively; ticker events alert_fired and
// alert_resolved refresh the panel at once.

import { h, clear } from "../lib/dom.js";
import { fmtInt, fmtTime } from "../lib/format.js";
import { need } from "../lib/api.js";
import { isAlertEvent } from "../lib/ticker.js";

export const title = "Alerts";

const TV_ALERTS = 4;
const SEVERITY = { critical: ["✕", "status-bad"], warning: ["▲", "status-warn"], info: ["ℹ", "status-unknown"] };
const STATE = { firing: ["●", "status-bad"], acknowledged: ["◐", "status-warn"], resolved: ["✓", "status-ok"] };

function badge(map, value, cls) {
  const [shape, c] = map[value] || ["?", "status-unknown"];
  return h("span", { class: `badge ${c} ${cls}` }, h("span", { "aria-hidden": "true", text: shape + " " }), String(value));
}

/** Ids of firing alerts in `now` that were not firing in `before` (a Set of ids). */
export function newlyFiring(before, now) {
  return now.filter((a) => a.state === "firing" && !before.has(a.id));
}

export function mount(root, ctx) {
  const api = ctx.api;
  const tv = !!ctx.tv;
  const counts = h("p", { class: "al-counts", role: "status" }, "Loading…");
  const open = h("ul", { class: "al-list al-open", "aria-label": "Open alerts" });
  const resolved = h("ul", { class: "al-list al-resolved", "aria-label": "Recently resolved alerts" });
  root.append(counts, open);
  if (!tv) root.append(h("h3", { text: "Recently resolved" }), resolved);
  let firingSeen = null; // Set of ids firing at the last refresh; null before the first one
  const historyOpen = new Set();

  function valueText(a) {
    return a.value === null || a.value === undefined ? "" : ` Value ${a.value}${a.threshold !== null && a.threshold !== undefined ? ` (threshold ${a.threshold})` : ""}.`;
  }

  function historyList(items) {
    return h("ol", { class: "al-history" }, ...items.map((x) => h("li", { "data-event": x.event },
      `${fmtTime(x.ts)} `, h("strong", { text: x.event }),
      x.actor ? ` by ${x.actor}` : "", x.note ? h("span", null, ": ", h("q", { class: "al-note", text: x.note })) : "")));
  }

  async function loadHistory(a, box, button) {
    button.setAttribute("aria-expanded", "true");
    historyOpen.add(a.id);
    clear(box).append(h("p", { class: "muted", text: "Loading history…" }));
    try {
      const full = await api.get(`/api/ops/alerts/${a.id}`);
      clear(box).append(historyList(full.history || []));
    } catch (e) {
      clear(box).append(h("p", { class: "status-warn", text: `History not available: ${e.message}` }));
    }
  }

  function alertItem(a, withAck) {
    const histBox = h("div", { class: "al-history-box", "aria-live": "polite" });
    const histBtn = h("button", { type: "button", class: "al-history-btn", "aria-expanded": "false",
      onclick: () => {
        if (histBtn.getAttribute("aria-expanded") === "true") {
          histBtn.setAttribute("aria-expanded", "false"); historyOpen.delete(a.id); clear(histBox);
        } else loadHistory(a, histBox, histBtn);
      } }, "History");
    const item = h("li", { class: `al-item al-${a.state}`, "data-alert-id": a.id, "data-rule": a.rule, "data-state": a.state },
      h("p", { class: "al-head" }, badge(SEVERITY, a.severity, "al-severity"), " ", badge(STATE, a.state, "al-state"), " ",
        h("strong", { class: "al-title", text: a.title })),
      h("p", { class: "muted al-meta" },
        `${a.service ? `Service ${a.service}. ` : ""}Rule ${a.rule}.${valueText(a)} Fired ${fmtTime(a.first_fired_at)}` +
        `${a.fire_count > 1 ? `, ${fmtInt(a.fire_count)} times, last ${fmtTime(a.last_fired_at)}` : ""}.` +
        `${a.resolved_at ? ` Resolved ${fmtTime(a.resolved_at)}.` : ""}`),
      a.state === "acknowledged" ? h("p", { class: "al-acked" },
        `Acknowledged by ${a.acknowledged_by || "?"} at ${fmtTime(a.acknowledged_at)}`,
        a.ack_note ? h("span", null, ": ", h("q", { class: "al-note", text: a.ack_note })) : "") : null);
    if (withAck && a.state === "firing" && !tv) {
      const noteId = `al-note-${a.id}`;
      const input = h("input", { type: "text", id: noteId, class: "al-note-input", maxlength: "500", placeholder: "what you are doing about it" });
      const msg = h("span", { class: "al-ack-msg", role: "status" });
      const button = h("button", { type: "submit", class: "al-ack" }, "Acknowledge");
      const form = h("form", { class: "al-ack-form", onsubmit: async (ev) => {
        ev.preventDefault();
        button.disabled = true;
        msg.textContent = "Acknowledging…";
        try {
          const note = input.value.trim();
          await api.post(`/api/ops/alerts/${a.id}/ack`, note ? { note } : {});
          msg.textContent = "Acknowledged.";
          ctx.announce && ctx.announce(`Alert acknowledged: ${a.title}`);
          historyOpen.add(a.id);
          await refresh();
        } catch (e) {
          msg.textContent = `Not acknowledged: ${e.message}`;
          button.disabled = false;
        }
      } }, h("label", { for: noteId }, "Note "), input, " ", button, " ", msg);
      item.append(form);
    }
    if (!tv) item.append(histBtn, histBox);
    if (historyOpen.has(a.id) && !tv) loadHistory(a, histBox, histBtn);
    return item;
  }

  function draw(openBody, resolvedBody) {
    const alerts = openBody.alerts || [];
    const c = openBody.counts || {};
    const firing = alerts.filter((a) => a.state === "firing").length;
    const acked = alerts.filter((a) => a.state === "acknowledged").length;
    clear(counts).append(firing ? badge(STATE, "firing", "") : badge(STATE, "resolved", ""), " ",
      `${fmtInt(firing)} firing, ${fmtInt(acked)} acknowledged` +
      (typeof c.resolved_24h === "number" ? `, ${fmtInt(c.resolved_24h)} resolved in 24 h` : ""));
    if (firingSeen) {
      const fresh = newlyFiring(firingSeen, alerts);
      if (fresh.length && ctx.announce) {
        ctx.announce(fresh.length === 1 ? `New alert firing: ${fresh[0].title}` : `${fresh.length} new alerts firing: ${fresh.map((a) => a.title).join("; ")}`, "assertive");
      }
    }
    firingSeen = new Set(alerts.filter((a) => a.state === "firing").map((a) => a.id));
    // Keep focus on the note field being typed in across a redraw.
    const active = document.activeElement;
    const activeAlert = active && active.closest && active.closest(".al-item") && active.closest(".al-item").dataset.alertId;
    const typing = active && active.classList && active.classList.contains("al-note-input") ? active.value : null;
    clear(open);
    // Firing first, then acknowledged; newest first within each.
    const sorted = alerts.slice().sort((a, b) => (a.state === b.state ? 0 : a.state === "firing" ? -1 : 1) ||
      String(b.last_fired_at).localeCompare(String(a.last_fired_at)));
    const shownAlerts = tv ? sorted.slice(0, TV_ALERTS) : sorted;
    for (const a of shownAlerts) open.append(alertItem(a, true));
    if (shownAlerts.length < sorted.length) {
      open.append(h("li", { class: "al-more muted", text: `+ ${sorted.length - shownAlerts.length} more open alerts` }));
    }
    if (!sorted.length) open.append(h("li", { class: "muted", text: "No open alerts." }));
    if (activeAlert && typing !== null) {
      const input = open.querySelector(`.al-item[data-alert-id="${CSS.escape(activeAlert)}"] .al-note-input`);
      if (input) { input.value = typing; input.focus(); }
    }
    if (resolvedBody) {
      clear(resolved);
      for (const a of (resolvedBody.alerts || []).slice(0, 10)) resolved.append(alertItem(a, false));
      if (!(resolvedBody.alerts || []).length) resolved.append(h("li", { class: "muted", text: "None resolved yet." }));
    }
  }

  async function refresh() {
    const [openBody, resolvedBody] = await Promise.all([
      api.get("/api/ops/alerts?limit=100").then(need),
      tv ? Promise.resolve(null) : api.get("/api/ops/alerts?state=resolved&limit=10").then(need),
    ]);
    draw(openBody, resolvedBody);
  }

  return {
    refresh,
    onEvent(ev) {
      if (isAlertEvent(ev)) refresh().catch(() => {});
    },
  };
}
