// Opsplane HUD: a header widget for the host app's admin pages, included with one tag:
//
//   <script src="/admin/ops/hud.js" defer></script>
//
// It asks /api/ops/whoami once. For an admin it shows today's runs, cost, failed runs in the
// last hour and the budget use (coloured by threshold, with a shape and words as well) and
// polls /api/ops/summary every 25 s while the page is visible; a click opens /admin/ops/. For
// anyone else (a viewer, or nobody signed in) it shows nothing and polls nothing.
//
// Options (attributes of the script tag): data-target="CSS selector" (where to put the widget;
// default: the page's first <header>, else the top of <body>), data-interval="25" (seconds,
// 5..3600). window.OpsHUDConfig = {target, intervalS} set before the tag does the same.
// CSP: no inline styles or scripts; it loads hud.css next to itself and writes only text.
(function () {
  "use strict";
  if (window.OpsHUD && window.OpsHUD.started) return; // included twice

  var script = document.currentScript;
  var base = script && script.src ? new URL(".", script.src) : new URL("/admin/ops/", location.href);
  var origin = base.origin;
  var cfg = window.OpsHUDConfig || {};
  var attr = function (name) { return script ? script.getAttribute(name) : null; };
  var interval = Number(cfg.intervalS || attr("data-interval") || 25);
  if (!(interval >= 1 && interval <= 3600)) interval = 25;
  var targetSel = cfg.target || attr("data-target");

  var state = { started: true, state: "starting", role: null, polls: 0, lastError: null, summary: null };
  window.OpsHUD = state;

  var THRESHOLDS = { warn: 80, bad: 100 };

  /** "ok" | "warn" | "bad" | "off" for a budget percentage (null: no limit). */
  function level(percent) {
    if (typeof percent !== "number" || !isFinite(percent)) return "off";
    return percent >= THRESHOLDS.bad ? "bad" : percent >= THRESHOLDS.warn ? "warn" : "ok";
  }
  var SHAPE = { ok: "✓", warn: "▲", bad: "✕", off: "–" };
  var WORD = { ok: "ok", warn: "high", bad: "over", off: "no limit" };

  function int(n) { return typeof n === "number" && isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—"; }
  function usd(x) {
    if (typeof x !== "number" || !isFinite(x)) return "—";
    return "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function pct(x) { return typeof x === "number" && isFinite(x) ? Math.round(x) + " %" : "—"; }

  /** The budget to show: the fuller of the per-user and global ones that have a limit. */
  function budgetOf(s) {
    var best = null;
    [["user", s.budget_user], ["global", s.budget_global]].forEach(function (b) {
      var p = b[1] && b[1].percent;
      if (typeof p === "number" && (best === null || p > best.percent)) best = { scope: b[0], percent: p };
    });
    return best;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var root = null, fields = {};

  function loadCss() {
    var href = new URL("hud.css", base).href;
    if (document.querySelector('link[data-ops-hud]')) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-ops-hud", "");
    (document.head || document.documentElement).appendChild(link);
  }

  function build() {
    loadCss();
    root = el("a", "ops-hud");
    root.href = new URL("/admin/ops/", origin).href;
    root.id = "ops-hud";
    function item(key, label) {
      var wrap = el("span", "ops-hud-item ops-hud-" + key);
      wrap.appendChild(el("span", "ops-hud-label", label + " "));
      var value = el("span", "ops-hud-value", "…");
      value.setAttribute("data-key", key);
      wrap.appendChild(value);
      root.appendChild(wrap);
      fields[key] = value;
      return wrap;
    }
    root.appendChild(el("span", "ops-hud-brand", "Ops"));
    item("runs", "Runs");
    item("cost", "Cost");
    fields.errorsItem = item("errors", "Errors 1h");
    fields.budgetItem = item("budget", "Budget");
    fields.stale = el("span", "ops-hud-stale", "");
    fields.stale.hidden = true;
    root.appendChild(fields.stale);
    var target = targetSel ? document.querySelector(targetSel) : document.querySelector("header");
    if (target) target.appendChild(root);
    else document.body.insertBefore(root, document.body.firstChild);
  }

  function draw(s) {
    fields.runs.textContent = int(s.runs_today);
    fields.cost.textContent = usd(s.cost_today_usd);
    var errors = s.errors_last_hour;
    var errLevel = typeof errors === "number" && errors > 0 ? "warn" : "ok";
    fields.errors.textContent = (errLevel === "warn" ? "▲ " : "") + int(errors);
    fields.errorsItem.setAttribute("data-level", errLevel);
    var b = budgetOf(s);
    var lv = level(b ? b.percent : null);
    fields.budget.textContent = b ? SHAPE[lv] + " " + pct(b.percent) + " " + WORD[lv] : "no limit";
    fields.budget.setAttribute("data-percent", b ? String(b.percent) : "");
    fields.budgetItem.setAttribute("data-level", lv);
    fields.budgetItem.className = "ops-hud-item ops-hud-budget ops-hud-" + lv;
    root.setAttribute("aria-label", "Opsplane today: " + int(s.runs_today) + " runs, cost " + usd(s.cost_today_usd) +
      ", " + int(errors) + " failed runs in the last hour, budget " + (b ? pct(b.percent) + " (" + WORD[lv] + ")" : "without limit") +
      ". Open the ops dashboard.");
    root.title = "Open the ops dashboard";
    fields.stale.hidden = true;
  }

  function getJSON(path) {
    return fetch(new URL(path, origin).href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) { return { status: res.status, body: body }; });
      });
  }

  var timer = null;
  function poll() {
    timer = null;
    state.polls++;
    getJSON("/api/ops/summary").then(function (r) {
      if (r.status === 200 && r.body) {
        state.summary = r.body;
        state.lastError = null;
        draw(r.body);
      } else if (r.status === 401 || r.status === 403) {
        // Signed out or no longer an admin: hide and stop.
        stop("hidden");
        return;
      } else {
        state.lastError = "HTTP " + r.status;
        markStale();
      }
      schedule();
    }, function () {
      state.lastError = "unreachable";
      markStale();
      schedule();
    });
  }

  function markStale() {
    if (!fields.stale) return;
    fields.stale.textContent = "(stale)";
    fields.stale.hidden = false;
  }

  function schedule() {
    if (state.state !== "shown" || timer !== null || document.hidden) return;
    timer = setTimeout(poll, interval * 1000);
  }

  function stop(newState) {
    state.state = newState;
    if (timer !== null) { clearTimeout(timer); timer = null; }
    if (root && root.parentNode) root.parentNode.removeChild(root);
  }

  document.addEventListener("visibilitychange", function () {
    if (state.state !== "shown") return;
    if (document.hidden) { if (timer !== null) { clearTimeout(timer); timer = null; } }
    else if (timer === null) poll();
  });

  function start() {
    getJSON("/api/ops/whoami").then(function (r) {
      state.role = r.body && r.body.role || null;
      if (r.status !== 200 || state.role !== "admin") { state.state = "hidden"; return; }
      state.state = "shown";
      build();
      poll();
    }, function () { state.state = "hidden"; state.lastError = "unreachable"; });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
