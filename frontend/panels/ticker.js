// Live ticker: events from the WebSocket (handed over by the shell), newest first, at most 200
// rows. Hovering or focusing the list pauses it (new events wait, counted); the Pause button
// does the same for keyboard users. refresh() reads /api/monitoring/events/history so the list
// fills on load and catches up even without the WebSocket (TV mode's fallback refresh).

import { EventList, EVENT_KINDS, describeEvent, normaliseEvent } from "../lib/ticker.js";

export const title = "Live events";

const CAP = 200;
const FLUSH_MS = 250;

export function mount(root, ctx) {
  const { h } = ctx.dom;
  const f = ctx.format;
  const model = new EventList(CAP);
  const nodes = new Map();
  let pending = [];
  let flushTimer = 0;
  let hovered = false;
  let pinned = false;
  let truncated = false;

  const count = h("p", { class: "ticker-count", "data-count": "0", text: "No events yet." });
  const pausedNote = h("p", { class: "ticker-paused", role: "status" });
  const button = h("button", { type: "button", class: "ticker-pause", "aria-pressed": "false", text: "Pause",
    onClick: () => { pinned = !pinned; update(); } });
  const list = h("ol", { class: "ticker-list", tabindex: "0", "aria-live": "off",
    "aria-label": "Live events, newest first" });
  root.appendChild(h("div", { class: "ticker-bar" }, count, button, pausedNote));
  root.appendChild(list);

  const onEnter = () => { hovered = true; update(); };
  const onLeave = () => { hovered = false; update(); };
  list.addEventListener("mouseenter", onEnter);
  list.addEventListener("mouseleave", onLeave);
  list.addEventListener("focusin", onEnter);
  list.addEventListener("focusout", onLeave);

  const paused = () => hovered || pinned;

  function update() {
    button.setAttribute("aria-pressed", String(pinned));
    button.textContent = pinned ? "Resume" : "Pause";
    if (paused()) {
      pausedNote.textContent = `Paused: ${pending.length} new event${pending.length === 1 ? "" : "s"} waiting.`;
    } else {
      pausedNote.textContent = truncated ? "Some events were skipped while disconnected." : "";
      schedule();
    }
    root.dataset.paused = paused() ? "1" : "0";
  }

  function render(item) {
    const kind = EVENT_KINDS[item.data.type] || { label: item.data.type, status: "neutral", shape: "•" };
    return h("li", { "data-type": item.data.type, "data-id": item.id === null ? "" : String(item.id) },
      h("time", { datetime: new Date(item.ts).toISOString(), text: f.fmtTime(item.ts).replace(" UTC", "") }),
      h("span", { class: `badge status-${kind.status}`, text: `${kind.shape} ${kind.label}` }),
      h("span", { class: "what", text: describeEvent(item.data) }));
  }

  function flush() {
    clearTimeout(flushTimer);
    flushTimer = 0;
    if (paused() || pending.length === 0) return;
    const batch = pending;
    pending = [];
    let added = 0;
    for (const ev of batch) if (model.add(ev)) added++;
    if (!added) return;
    // Reconcile the DOM with the model: at most CAP rows, in the model's order.
    let ref = list.firstChild;
    for (const item of model.items) {
      let li = nodes.get(item);
      if (!li) { li = render(item); nodes.set(item, li); }
      if (li === ref) ref = ref.nextSibling;
      else list.insertBefore(li, ref);
    }
    while (ref) { const next = ref.nextSibling; list.removeChild(ref); ref = next; }
    if (nodes.size > model.size) {
      const live = new Set(model.items);
      for (const item of nodes.keys()) if (!live.has(item)) nodes.delete(item);
    }
    list.scrollTop = 0;
    count.textContent = `${model.size} event${model.size === 1 ? "" : "s"}, newest first (at most ${CAP}).`;
    count.dataset.count = String(model.size);
  }

  function schedule() {
    if (!flushTimer && !paused() && pending.length) flushTimer = setTimeout(flush, FLUSH_MS);
  }

  function push(ev) {
    if (!ev) return;
    pending.push(ev);
    if (pending.length > CAP) pending.splice(0, pending.length - CAP);
    if (paused()) update(); else schedule();
  }

  async function refresh() {
    const answer = await ctx.api.get(`/api/monitoring/events/history?limit=${ctx.tv ? 30 : 40}`);
    const events = answer && Array.isArray(answer.events) ? answer.events : [];
    for (const raw of events.slice().reverse()) push(normaliseEvent(raw));
    if (!paused()) flush();
  }

  function onEvent(data, frame) {
    if (data && data.type === "catchup_truncated") { truncated = true; update(); return; }
    push(normaliseEvent(frame && frame.data ? frame : { data }));
  }

  function destroy() {
    clearTimeout(flushTimer);
    list.removeEventListener("mouseenter", onEnter);
    list.removeEventListener("mouseleave", onLeave);
    list.removeEventListener("focusin", onEnter);
    list.removeEventListener("focusout", onLeave);
  }

  return { refresh, onEvent, destroy };
}
