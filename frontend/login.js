// Sign-in page: exchanges a token for the HttpOnly session cookie (POST /api/ops/login) and
// goes to the dashboard. The token is never stored by this page. No inline script (the page's
// Content-Security-Policy forbids it); every server string is written with textContent.

const LOGIN_URL = "/api/ops/login";
const WHOAMI_URL = "/api/ops/whoami";
const DASHBOARD_URL = "/admin/ops/";

/**
 * Where to go after signing in: the `next` query parameter when it is a path on this origin
 * (never another site, never a protocol-relative "//host" or a "javascript:" URL), else the
 * dashboard.
 * @param {string} search location.search
 * @param {string} origin location.origin
 * @returns {string}
 */
export function safeNext(search, origin) {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return DASHBOARD_URL;
  if (/[\u0000-\u001f\\]/.test(next)) return DASHBOARD_URL;
  let url;
  try {
    url = new URL(next, origin);
  } catch (_) {
    return DASHBOARD_URL;
  }
  if (url.origin !== origin) return DASHBOARD_URL;
  return url.pathname + url.search + url.hash;
}

/**
 * The message a person sees when sign-in fails.
 * @param {number} httpStatus HTTP status of the answer (0 when the request failed)
 * @param {any} body parsed JSON body, or null
 * @returns {string}
 */
export function describeLoginFailure(httpStatus, body) {
  const err = body && body.error;
  if (err && typeof err.message === "string" && err.message.trim()) {
    return err.message;
  }
  if (httpStatus === 0) return "The server cannot be reached; check your connection and try again.";
  if (httpStatus === 429) return "Too many sign-in attempts; wait a minute and try again.";
  return `Sign-in failed (HTTP ${httpStatus}).`;
}

/**
 * Sends the token; resolves to {ok, status, body}.
 * @param {string} token
 */
export async function signIn(token) {
  let status = 0;
  let body = null;
  try {
    const res = await fetch(LOGIN_URL, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Ops-CSRF": "1" },
      body: JSON.stringify({ token }),
    });
    status = res.status;
    body = await res.json().catch(() => null);
  } catch (_) {
    // Network failure: status stays 0.
  }
  return { ok: status === 200, status, body };
}

function showError(text) {
  const el = document.getElementById("login-error");
  el.textContent = text;
  el.hidden = !text;
}

async function onSubmit(event) {
  event.preventDefault();
  const input = document.getElementById("login-token");
  const button = document.getElementById("login-submit");
  const token = input.value.trim();
  if (!token) {
    showError("Enter a token.");
    input.focus();
    return;
  }
  showError("");
  button.disabled = true;
  button.textContent = "Signing in…";
  const { ok, status, body } = await signIn(token);
  if (ok) {
    input.value = "";
    window.location.assign(safeNext(window.location.search, window.location.origin));
    return;
  }
  button.disabled = false;
  button.textContent = "Sign in";
  showError(describeLoginFailure(status, body));
  input.select();
  input.focus();
}

// Tell a person who is already signed in (the cookie is HttpOnly, so only the API knows).
async function showCurrentSession() {
  try {
    const res = await fetch(WHOAMI_URL, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (res.status !== 200) return;
    const me = await res.json();
    const el = document.getElementById("login-current");
    el.textContent = `Already signed in as ${me.subject} (${me.role}). Signing in again replaces that session.`;
    el.hidden = false;
  } catch (_) {
    // Not signed in or unreachable: nothing to show.
  }
}

document.getElementById("login-form").addEventListener("submit", onSubmit);
showCurrentSession();
