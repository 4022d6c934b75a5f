// The live ticker's model: a bounded list of events, newest first, de-duplicated by id, and the
// words and shapes each event type is shown with. No DOM here, so it can be tested with node.

/** Label, status class and shape of each event type (status never by colour alone). */
export const EVENT_KINDS = {
  run_started: { label: "Run started", status: "neutral", shape: "▶" },
  run_success: { label: "Run succeeded", status: "ok", shape: "✓" },
  run_failed: { label: "Run failed", status: "bad", shape: "✕" },
  agent_created: { label: "Agent created", status: "neutral", shape: "+" },
  agent_updated: { label: "Agent updated", status: "neutral", shape: "✎" },
  thread_message_created: { label: "Message", status: "neutral", shape: "✉" },
  budget_denied: { label: "Budget denied", status: "bad", shape: "✕" },
  alert_fired: { label: "Alert fired", status: "warn", shape: "▲" },
  alert_resolved: { label: "Alert resolved", status: "ok", shape: "✓" },
};

const str = (v) => (v === null || v === undefined ? "" : String(v));

/** A ticker event (the frame or its data) about an alert. */
export function isAlertEvent(ev) {
  const t = ev && (ev.type === "ops_event" && ev.data ? ev.data.type : ev.type);
  return t === "alert_fired" || t === "alert_resolved";
}

/**
 * One line of text for an event's details (agent, run, duration, cost, reason…).
 * @param {{type: string} & Record<string, any>} data
 * @returns {string}
 */
export function describeEvent(data) {
  const d = data || {};
  const parts = [];
  switch (d.type) {
    case "run_started":
    case "run_success":
    case "run_failed":
      parts.push(`agent ${str(d.agent_id)}`, `run ${str(d.run_id)}`);
      if (d.user_id) parts.push(`user ${str(d.user_id)}`);
      if (typeof d.duration_ms === "number") parts.push(`${Math.round(d.duration_ms).toLocaleString("en-US")} ms`);
      if (typeof d.cost_usd === "number") parts.push(`$${d.cost_usd.toFixed(4)}`);
      if (d.model) parts.push(str(d.model));
      if (d.error) parts.push(`error: ${str(d.error)}`);
      break;
    case "agent_created":
    case "agent_updated":
      parts.push(`${str(d.name) || str(d.agent_id)} (${str(d.agent_id)})`);
      if (d.owner_email) parts.push(str(d.owner_email));
      if (d.scheduled) parts.push("scheduled");
      break;
    case "thread_message_created":
      parts.push(`thread ${str(d.thread_id)}`);
      if (d.user_id) parts.push(`user ${str(d.user_id)}`);
      break;
    case "budget_denied":
      parts.push(`user ${str(d.user_id)}`);
      if (d.reason) parts.push(str(d.reason));
      break;
    case "alert_fired":
      parts.push(`${str(d.severity)}: ${str(d.title) || str(d.rule)}`);
      if (d.service) parts.push(str(d.service));
      break;
    case "alert_resolved":
      parts.push(str(d.rule));
      if (d.service) parts.push(str(d.service));
      break;
    default:
      for (const [k, v] of Object.entries(d)) {
        if (k !== "type" && (typeof v !== "object" || v === null)) parts.push(`${k} ${str(v)}`);
        if (parts.length >= 4) break;
      }
  }
  return parts.join(" · ");
}

/**
 * Newest-first list of at most `cap` events, de-duplicated by id (events without an id are
 * always kept). add() returns whether the event was new.
 */
export class EventList {
  constructor(cap = 200) {
    this.cap = cap;
    /** @type {Array<{id: number|null, ts: number, data: any}>} */
    this.items = [];
    this.ids = new Set();
  }

  /** @returns {boolean} */
  add(ev) {
    if (ev.id !== null && ev.id !== undefined) {
      if (this.ids.has(ev.id)) return false;
      // Older than everything kept and the list is full: it would be dropped at once.
      if (this.items.length >= this.cap && typeof ev.id === "number" && this.items.every((x) => typeof x.id === "number" && x.id > ev.id)) return false;
      this.ids.add(ev.id);
    }
    // Newest first by id when both have one, else by arrival.
    let i = 0;
    if (typeof ev.id === "number") {
      while (i < this.items.length && typeof this.items[i].id === "number" && this.items[i].id > ev.id) i++;
    }
    this.items.splice(i, 0, ev);
    while (this.items.length > this.cap) {
      const gone = this.items.pop();
      if (gone.id !== null && gone.id !== undefined) this.ids.delete(gone.id);
    }
    return true;
  }

  get size() { return this.items.length; }
}

/**
 * Normalises a WebSocket frame ({id, ts, data}) or a history row ({id, ts, type, data}) to
 * {id, ts (ms), data}.
 */
export function normaliseEvent(raw) {
  if (!raw || typeof raw !== "object") return null;
  const data = raw.data && typeof raw.data === "object" ? { ...raw.data } : {};
  if (!data.type && typeof raw.type === "string" && raw.type !== "ops_event") data.type = raw.type;
  if (typeof data.type !== "string") return null;
  let ts = raw.ts;
  if (typeof ts === "string") ts = Date.parse(ts);
  if (typeof ts !== "number" || !Number.isFinite(ts)) ts = Date.now();
  const id = typeof raw.id === "number" ? raw.id : (typeof raw.id === "string" && /^\d+$/.test(raw.id) ? Number(raw.id) : null);
  return { id, ts, data };
}
