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

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", cache: "no-store", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-Ops-CSRF"] = "1";
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    const err = new ApiError(0, "network", "The API cannot be reached.", true);
    setOnline(false, err);
    throw err;
  }
  let data = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const e = data && data.error;
    const offline = res.status >= 500;
    const err = new ApiError(res.status, (e && e.code) || `http_${res.status}`,
      (e && typeof e.message === "string" && e.message) || `HTTP ${res.status}`, offline);
    if (offline) setOnline(false, err); else setOnline(true);
    throw err;
  }
  setOnline(true);
  return data;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body === undefined ? {} : body),
  /** Listener for "the API became unreachable"; returns an unsubscribe function. */
  onOffline(cb) { offlineListeners.add(cb); return () => offlineListeners.delete(cb); },
  /** Listener for "the API answers again"; returns an unsubscribe function. */
  onOnline(cb) { onlineListeners.add(cb); return () => onlineListeners.delete(cb); },
  get online() { return online; },
};

export default api;
