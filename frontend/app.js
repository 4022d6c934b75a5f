// Opsplane dashboard bootstrap: shows the backend's health and who is signed in. The full
// dashboard lands later.
// Every value from the server is written with textContent, never as HTML.

const HEALTH_URL = "/api/ops/healthz";
const WHOAMI_URL = "/api/ops/whoami";
const LOGOUT_URL = "/api/ops/logout";
const LOGIN_PAGE = "/admin/ops/login";

/**
 * Turns a healthz answer into one line of text for people.
 * @param {number} httpStatus HTTP status of the answer (0 when the request failed)
 * @param {any} body parsed JSON body, or null
 * @returns {{text: string, state: "ok" | "down"}}
 */
export function describeHealth(httpStatus, body) {
  if (httpStatus === 200 && body && typeof body.status === "string") {
    return { text: body.status, state: "ok" };
  }
  const err = body && body.error;
  if (err && typeof err.message === "string") {
    return { text: `down (${httpStatus}): ${err.message}`, state: "down" };
  }
  return { text: httpStatus ? `down (HTTP ${httpStatus})` : "unreachable", state: "down" };
}

async function checkHealth() {
  const statusEl = document.getElementById("health-status");
  const checkedEl = document.getElementById("health-checked");
  let httpStatus = 0;
  let body = null;
  try {
    const res = await fetch(HEALTH_URL, { headers: { Accept: "application/json" }, cache: "no-store" });
    httpStatus = res.status;
    body = await res.json().catch(() => null);
  } catch (_) {
    // Network failure: httpStatus stays 0.
  }
  const { text, state } = describeHealth(httpStatus, body);
  statusEl.textContent = text;
  statusEl.dataset.state = state;
  checkedEl.textContent = new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * Turns a whoami answer into what the header shows.
 * @param {number} httpStatus HTTP status of the answer (0 when the request failed)
 * @param {any} body parsed JSON body, or null
 * @returns {{text: string, signedIn: boolean, offerSignIn: boolean}}
 */
export function describeSession(httpStatus, body) {
  if (httpStatus === 200 && body && typeof body.subject === "string" && typeof body.role === "string") {
    return { text: `Signed in as ${body.subject} (${body.role})`, signedIn: true, offerSignIn: false };
  }
  if (httpStatus === 401) {
    return { text: "Not signed in.", signedIn: false, offerSignIn: true };
  }
  const err = body && body.error;
  const why = err && typeof err.message === "string" ? err.message : (httpStatus ? `HTTP ${httpStatus}` : "unreachable");
  return { text: `Sign-in state unknown: ${why}`, signedIn: false, offerSignIn: httpStatus === 403 };
}

async function checkSession() {
  const statusEl = document.getElementById("session-status");
  let httpStatus = 0;
  let body = null;
  try {
    const res = await fetch(WHOAMI_URL, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    httpStatus = res.status;
    body = await res.json().catch(() => null);
  } catch (_) {
    // Network failure: httpStatus stays 0.
  }
  const { text, signedIn, offerSignIn } = describeSession(httpStatus, body);
  statusEl.textContent = text;
  document.getElementById("session-signout").hidden = !signedIn;
  document.getElementById("session-signin").hidden = !offerSignIn;
}

async function signOut() {
  const button = document.getElementById("session-signout");
  button.disabled = true;
  try {
    // The session cookie is HttpOnly: only the server can clear it.
    await fetch(LOGOUT_URL, { method: "POST", credentials: "same-origin", headers: { "X-Ops-CSRF": "1" } });
  } catch (_) {
    // Even if the request failed, show the sign-in page; the session state is re-read there.
  }
  window.location.assign(LOGIN_PAGE);
}

document.getElementById("health-refresh").addEventListener("click", checkHealth);
document.getElementById("session-signout").addEventListener("click", signOut);
checkHealth();
checkSession();
