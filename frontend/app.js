// Opsplane dashboard bootstrap: shows the backend's health. The full dashboard lands later.
// Every value from the server is written with textContent, never as HTML.

const HEALTH_URL = "/api/ops/healthz";

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

document.getElementById("health-refresh").addEventListener("click", checkHealth);
checkHealth();
