// Same-origin JSON client for the Opsplane API (session cookie). Records reachability: a
// network failure or a 5xx answer marks the API offline, the next good answer online again.

export class ApiError extends Error {
  constructor(status, code, message, offline) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.offline = offline;
  }
}

/** An answer that must be a JSON object (an aborted read can leave none): the panels treat
 * anything else like an unreachable API (offline), not as data. */
export function need(body) {
  if (!body || typeof body !== "object") throw Object.assign(new Error("empty answer"), { offline: true });
  return body;
}

const offlineListeners = new Set();
const onlineListeners = new Set();
let online = true;

function setOnline(value, err) {
  if (value === online) return;
  online = value;
  for (const cb of value ? onlineListeners : offlineListeners) {
    try { cb(err); } catch (e) { console.error(e); }
  }
}

const TIMEOUT_MS = 10000;

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const init = { method, credentials: "same-origin", cache: "no-store", headers };
  if (controller) init.signal = controller.signal;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-Ops-CSRF"] = "1";
  let res;
  const timer = controller ? setTimeout(() => controller.abort(), TIMEOUT_MS) : 0;
  try {
    res = await fetch(path, init);
  } catch (e) {
    clearTimeout(timer);
    const timedOut = e && e.name === "AbortError";
    const err = new ApiError(0, timedOut ? "timeout" : "network",
      timedOut ? "The API did not answer in time." : "The API cannot be reached.", true);
    setOnline(false, err);
    throw err;
  }
  clearTimeout(timer);
  let data = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const e = data && data.error;
    // 401 auth_unavailable: the database behind the credential check is down, not the
    // credential: treat it like a 5xx (offline), never as "signed out".
    const code = (e && e.code) || "";
    const offline = res.status >= 500 || (res.status === 401 && code === "auth_unavailable");
    const err = new ApiError(res.status, code || `http_${res.status}`,
      (e && typeof e.message === "string" && e.message) || `HTTP ${res.status}`, offline);
    if (offline) setOnline(false, err); else setOnline(true);
    throw err;
  }
  setOnline(true);
  return data;
}

// Identical GETs issued within SHARE_MS (several panels reading /api/ops/summary in one refresh
// round) share one request.
const SHARE_MS = 1500;
const shared = new Map();

export const api = {
  get: (path) => request("GET", path),
  /** Like get(), but panels asking for the same path within 1.5 s share one request. */
  shared(path) {
    const now = Date.now();
    for (const [k, v] of shared) if (now - v.at > SHARE_MS) shared.delete(k);
    const hit = shared.get(path);
    if (hit) return hit.promise;
    const promise = request("GET", path);
    shared.set(path, { at: now, promise });
    promise.catch(() => shared.delete(path));
    return promise;
  },
  post: (path, body) => request("POST", path, body === undefined ? {} : body),
  /** Listener for "the API became unreachable"; returns an unsubscribe function. */
  onOffline(cb) { offlineListeners.add(cb); return () => offlineListeners.delete(cb); },
  /** Listener for "the API answers again"; returns an unsubscribe function. */
  onOnline(cb) { onlineListeners.add(cb); return () => onlineListeners.delete(cb); },
  get online() { return online; },
};

export default api;
