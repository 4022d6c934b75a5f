// Opsplane dashboard shell: signs the visitor in (or sends them to the sign-in page), loads
// every panel module with a dynamic import, refreshes them every 30 s (20 s in TV mode) with a
// visible countdown that pauses while the tab is hidden, shows an offline banner with the age of
// the last values and retries with exponential backoff, and hands live ticker events from
// the WebSocket /api/ws to every panel.
// Every value from the server is written as text (lib/dom.js), never as HTML.

import { api } from "./lib/api.js";
import * as dom from "./lib/dom.js";
import * as format from "./lib/format.js";

const { h, clear } = dom;

export const PANELS = ["kpis", "budget", "sparklines", "top", "llm", "ticker", "health",
  "performance", "infra", "errors", "alerts", "logs", "bundle"];
export const TV_PANELS = ["kpis", "budget", "sparklines", "top", "ticker", "health", "alerts"];
const FALLBACK_TITLES = {
  kpis: "Today at a glance", budget: "Budgets", sparklines: "Today by hour", top: "Top agents today",
  llm: "LLM usage", ticker: "Live events", health: "Service health", performance: "API performance",
  infra: "Database, cache, workers and queue", errors: "Frontend errors", alerts: "Alerts",
  logs: "Logs", bundle: "Support bundle",
};

const LOGIN_PAGE = "/admin/ops/login";
const REFRESH_S = 30;
const TV_REFRESH_S = 20;            // the fallback refresh in TV mode, WebSocket or not
const BACKOFF_MIN_S = 2;
const BACKOFF_MAX_S = 60;
const WS_BACKOFF_MAX_S = 30;
const PANEL_TIMEOUT_MS = 15000;

const params = new URLSearchParams(location.search);
const TV = params.get("tv") === "1";

const state = {
  panels: [],                 // {name, root, staleEl, api: {refresh,onEvent,destroy}, lastGood, error}
  eventListeners: new Set(),
  interval: TV ? TV_REFRESH_S : REFRESH_S,
  remaining: TV ? TV_REFRESH_S : REFRESH_S,
  backoff: BACKOFF_MIN_S,
  refreshing: null,
  lastUpdated: 0,             // ms of the last refresh in which every panel succeeded
  offlineSince: 0,
  drawn: false,
  ws: null,
  wsBackoff: 1,
  wsTimer: 0,
  wsStopped: false,
  lastEventId: null,
  again: false,
};

const $ = (id) => document.getElementById(id);

// Live regions -----------------------------------------------------------------------------------
let announceTimer = 0;
function announce(text, politeness = "polite") {
  const el = $(politeness === "assertive" ? "announce-assertive" : "announce-polite");
  el.textContent = "";
  clearTimeout(announceTimer);
  // A fresh text node after a tick makes screen readers announce a repeated message too.
  announceTimer = setTimeout(() => { el.textContent = String(text); }, 50);
}

// Sign-in ----------------------------------------------------------------------------------------
function loginUrl() {
  return `${LOGIN_PAGE}?next=${encodeURIComponent(location.pathname + location.search)}`;
}

function toLogin() {
  location.replace(loginUrl());
}

async function checkSession() {
  try {
    const me = await api.get("/api/ops/whoami");
    $("session-status").textContent = `Signed in as ${me.subject} (${me.role})`;
    $("session-signout").hidden = false;
    return me;
  } catch (err) {
    if (err.status === 401 && !err.offline) {
      toLogin();
      return null;
    }
    if (err.offline) {
      $("session-status").textContent = "Sign-in state unknown: the API cannot be reached.";
      return { role: "unknown" };
    }
    $("session-status").textContent = `Sign-in state unknown: ${err.message}`;
    return null;
  }
}

async function signOut() {
  $("session-signout").disabled = true;
  try {
    await api.post("/api/ops/logout");
  } catch (_) {
    // The sign-in page reads the session state again.
  }
  location.assign(LOGIN_PAGE);
}

// Panels -----------------------------------------------------------------------------------------
function makeSection(name) {
  const titleId = `panel-${name}-title`;
  const heading = h("h2", { id: titleId, text: FALLBACK_TITLES[name] || name });
  const root = h("section", { id: `panel-${name}`, class: `card panel panel-${name}`,
    "aria-labelledby": titleId, "data-panel": name }, heading);
  $("panels").appendChild(root);
  return { root, heading };
}

function makeCtx() {
  return {
    api, tv: TV, dom, format, announce,
    onEvent(cb) {
      state.eventListeners.add(cb);
      return () => state.eventListeners.delete(cb);
    },
  };
}

async function loadPanel(name, slot, modulePromise) {
  let mod;
  try {
    mod = await modulePromise;
  } catch (err) {
    slot.root.classList.add("unavailable");
    slot.root.appendChild(h("p", { class: "muted", text: "panel not available" }));
    slot.root.dataset.state = "unavailable";
    return null;
  }
  if (typeof mod.title === "string" && mod.title) slot.heading.textContent = mod.title;
  // The panel fills everything after the heading; the stale marker sits right below it.
  const staleEl = h("p", { class: "stale", role: "status", hidden: true });
  slot.heading.after(staleEl);
  try {
    const handle = mod.mount(slot.root, makeCtx()) || {};
    return { name, root: slot.root, staleEl, handle, lastGood: 0, error: null };
  } catch (err) {
    console.error(`panel ${name} failed to mount`, err);
    slot.root.appendChild(h("p", { class: "muted", text: "panel not available" }));
    slot.root.dataset.state = "unavailable";
    return null;
  }
}

function withTimeout(promise, ms) {
  let timer = 0;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error("timed out"), { offline: true })), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function showStale(p, now) {
  if (!p.error) {
    p.staleEl.hidden = true;
    p.root.classList.remove("is-stale");
    return;
  }
  const age = p.lastGood ? `values from ${format.fmtAge((now - p.lastGood) / 1000)}` : "no values yet";
  p.staleEl.textContent = `▲ Stale: ${age} (${p.error})`;
  p.staleEl.hidden = false;
  p.root.classList.add("is-stale");
}

async function refreshPanel(p) {
  if (typeof p.handle.refresh !== "function") {
    p.lastGood = Date.now();
    return true;
  }
  try {
    await withTimeout(Promise.resolve(p.handle.refresh()), PANEL_TIMEOUT_MS);
    if (!p.lastGood) performance.mark(`ops-panel-drawn:${p.name}`);
    p.lastGood = Date.now();
    p.error = null;
    p.root.dataset.state = "ok";
    return true;
  } catch (err) {
    if (err && err.status === 401 && !err.offline) toLogin();
    p.error = (err && err.message) || "refresh failed";
    p.root.dataset.state = "stale";
    if (!(err && (err.offline || err.status))) console.error(`panel ${p.name}:`, err);
    return false;
  } finally {
    showStale(p, Date.now());
  }
}

/**
 * One refresh round of every panel; `started` = the panels' refresh promises when the round
 * was already started (the first one: each panel starts as soon as its module is there).
 */
function refreshAll(started) {
  if (state.refreshing) return state.refreshing;
  const button = $("refresh-now");
  button.setAttribute("aria-busy", "true");
  state.refreshing = (async () => {
    const results = await Promise.all(started || state.panels.map(refreshPanel));
    const allOk = results.every(Boolean);
    if (allOk) {
      state.lastUpdated = Date.now();
      const t = $("last-updated");
      t.textContent = format.fmtTime(new Date(state.lastUpdated).toISOString());
      t.setAttribute("datetime", new Date(state.lastUpdated).toISOString());
      if (!state.drawn) {
        state.drawn = true;
        document.body.dataset.drawn = "1";
        performance.mark("ops-dashboard-drawn");
      }
    }
    if (!api.online) {
      state.remaining = state.backoff;
      state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_S);
    } else {
      state.backoff = BACKOFF_MIN_S;
      state.remaining = state.again && !allOk ? 1 : state.interval;
    }
    state.again = false;
    renderClock();
  })().finally(() => {
    state.refreshing = null;
    button.removeAttribute("aria-busy");
  });
  return state.refreshing;
}

// Offline banner ---------------------------------------------------------------------------------
function onOffline() {
  if (!state.offlineSince) state.offlineSince = Date.now();
  $("offline-banner").hidden = false;
  document.body.classList.add("offline");
  announce("Offline: the API cannot be reached. Showing the last values.", "assertive");
  renderClock();
}

function onOnline() {
  if (!state.offlineSince) return;
  state.offlineSince = 0;
  state.backoff = BACKOFF_MIN_S;
  $("offline-banner").hidden = true;
  document.body.classList.remove("offline");
  announce("The API answers again; values refreshed.");
  // Panels that failed while offline get their data now, not in 30 s.
  if (state.refreshing) state.again = true;
  else queueMicrotask(() => refreshAll());
}

// The one clock: countdown, ages, retries. Paused while the tab is hidden.
function renderClock() {
  const now = Date.now();
  $("countdown-s").textContent = String(Math.max(0, state.remaining));
  if (state.offlineSince) {
    const age = state.lastUpdated ? `Showing the last values, from ${format.fmtAge((now - state.lastUpdated) / 1000)}.`
      : "No values could be loaded yet.";
    $("offline-age").textContent = age;
    $("offline-retry").textContent = state.refreshing ? "Retrying now…" : `Retrying in ${Math.max(0, state.remaining)} s.`;
    $("offline-text").textContent = `the API cannot be reached (since ${format.fmtTime(new Date(state.offlineSince).toISOString())}).`;
  }
  for (const p of state.panels) if (p.error) showStale(p, now);
}

function tick() {
  if (document.hidden) {
    $("countdown").classList.add("paused");
    return;
  }
  $("countdown").classList.remove("paused");
  if (!state.refreshing) state.remaining -= 1;
  if (state.remaining <= 0 && !state.refreshing) refreshAll();
  renderClock();
}

function onVisibility() {
  const paused = document.hidden;
  $("countdown").classList.toggle("paused", paused);
  if (!paused && state.remaining <= 0) refreshAll();
}

// Live ticker (WebSocket) ------------------------------------------------------------------------
function setLive(text, status) {
  const badge = $("live-badge");
  const shape = status === "ok" ? "✓" : status === "bad" ? "✕" : "▲";
  badge.textContent = `${shape} Live: ${text}`;
  badge.className = `badge status-${status}`;
  document.body.dataset.live = status;
}

function dispatch(ev, frame) {
  for (const p of state.panels) {
    if (typeof p.handle.onEvent === "function") {
      try { p.handle.onEvent(ev, frame); } catch (err) { console.error(`panel ${p.name} onEvent`, err); }
    }
  }
  for (const cb of state.eventListeners) {
    try { cb(ev, frame); } catch (err) { console.error("event listener", err); }
  }
}

function scheduleReconnect() {
  clearTimeout(state.wsTimer);
  if (state.wsStopped) return;
  const delay = state.wsBackoff;
  state.wsBackoff = Math.min(state.wsBackoff * 2, WS_BACKOFF_MAX_S);
  setLive(`reconnecting in ${delay} s`, "warn");
  state.wsTimer = setTimeout(connectWs, delay * 1000);
}

function connectWs() {
  clearTimeout(state.wsTimer);
  if (state.ws) return;
  let ws;
  try {
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
  } catch (err) {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  if (window.OpsBeacon && typeof window.OpsBeacon.trackWebSocket === "function") {
    try { window.OpsBeacon.trackWebSocket(ws); } catch (_) { /* reporting is best effort */ }
  }
  setLive("connecting", "warn");
  ws.onopen = () => {
    const msg = { type: "subscribe", topics: ["ops:events"] };
    if (state.lastEventId !== null) msg.since = state.lastEventId;
    ws.send(JSON.stringify(msg));
  };
  ws.onmessage = (m) => {
    let frame;
    try { frame = JSON.parse(m.data); } catch (_) { return; }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "subscribed") {
      state.wsBackoff = 1;
      if (state.lastEventId === null && typeof frame.last_event_id === "number") state.lastEventId = frame.last_event_id;
      setLive("connected", "ok");
    } else if (frame.type === "ops_event" && frame.data && typeof frame.data === "object") {
      if (typeof frame.id === "number") {
        if (state.lastEventId !== null && frame.id <= state.lastEventId) return; // already seen
        state.lastEventId = frame.id;
      }
      dispatch(frame.data, frame);
    } else if (frame.type === "catchup_truncated") {
      dispatch({ type: "catchup_truncated" }, frame);
    } else if (frame.type === "error" && frame.error && frame.error.code === "forbidden") {
      state.wsStopped = true;
    }
  };
  ws.onclose = (e) => {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    state.ws = null;
    if (e.code === 4403) {
      state.wsStopped = true;
      setLive("not allowed for this account", "bad");
      return;
    }
    scheduleReconnect();
  };
  ws.onerror = () => { /* onclose follows */ };
}

// Boot -------------------------------------------------------------------------------------------
async function boot() {
  performance.mark("ops-boot");
  if (TV) {
    document.documentElement.classList.add("tv");
    document.body.classList.add("tv");
    document.title = "Opsplane · TV";
  }
  $("refresh-now").addEventListener("click", () => {
    state.backoff = BACKOFF_MIN_S;
    refreshAll();
  });
  $("offline-retry-now").addEventListener("click", () => refreshAll());
  $("session-signout").addEventListener("click", signOut);
  $("session-signin").setAttribute("href", loginUrl());
  api.onOffline(onOffline);
  api.onOnline(onOnline);

  const names = TV ? TV_PANELS : PANELS;
  // The panel modules download and the panels ask for their data while the session is
  // checked: no round-trip waits for another. Without a session every request answers 401 and
  // the page goes to the sign-in page; a viewer's panels are removed again below.
  const modules = names.map((name) => import(`./panels/${name}.js`));
  modules.forEach((p) => p.catch(() => { /* shown as "panel not available" below */ }));
  const session = checkSession();
  // Sections first, in order, so the layout does not jump while modules arrive.
  const slots = names.map((name) => makeSection(name));
  const firsts = [];
  const loaded = await Promise.all(names.map((name, i) => loadPanel(name, slots[i], modules[i]).then((p) => {
    if (p) firsts.push(refreshPanel(p));   // each panel asks for its data as soon as it is there
    return p;
  })));
  state.panels = loaded.filter(Boolean);
  performance.mark("ops-mounted");
  document.body.dataset.panels = String(state.panels.length);
  const first = refreshAll(firsts);
  const me = await session;
  performance.mark("ops-session");
  if (!me) return;
  if (me.role !== "admin" && me.role !== "unknown") {
    for (const p of state.panels) {
      if (typeof p.handle.destroy === "function") {
        try { p.handle.destroy(); } catch (_) { /* going away anyway */ }
      }
    }
    state.panels = [];
    clear($("panels"));
    const notice = $("notice");
    notice.textContent = "This dashboard is for admins. Sign in with an admin token to see it.";
    notice.hidden = false;
    $("session-signin").hidden = false;
    $("controls").classList.add("viewer");
    return;
  }
  connectWs();
  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", onVisibility);
  await first;
}

boot();
