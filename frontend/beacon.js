// Opsplane browser error reporter. The host app's pages include it with one tag:
//   <script src="/admin/ops/beacon.js" data-build="BUILD_HASH" defer></script>
// It reports console.error calls, uncaught errors and unhandled promise rejections to
// POST /api/ops/frontend-log with navigator.sendBeacon (fetch keepalive as fallback), with
// the build hash, route, browser, WebSocket state and the last 20 breadcrumbs. Bursts of the
// same error are sent once per 5 s; at most 10 reports a minute leave a page. Optional API:
// OpsBeacon.report(error, extra), OpsBeacon.trackWebSocket(ws), OpsBeacon.breadcrumb(obj).
(function () {
  "use strict";
  if (window.OpsBeacon) return;
  var script = document.currentScript || {};
  var data = script.dataset || {};
  var endpoint = data.endpoint || "/api/ops/frontend-log";
  var build = data.build || window.OPS_BUILD_HASH || "";
  var CAP = 16000;              // bytes; the server refuses more than 16 KiB
  var SAME_MS = 5000, PER_MIN = 10, CRUMBS = 20;
  var crumbs = [], lastSent = {}, sentTimes = [], ws = null, sending = false;

  function now() { return Date.now(); }
  function cut(s, n) { s = String(s == null ? "" : s); return s.length > n ? s.slice(0, n) + "…" : s; }
  function crumb(c) { c.ts = now(); crumbs.push(c); if (crumbs.length > CRUMBS) crumbs.shift(); }
  function bytes(s) { return new Blob([s]).size; }

  function wsState() {
    if (!ws) return null;
    return ["connecting", "open", "closing", "closed"][ws.readyState] || null;
  }

  function browser() {
    var ua = navigator.userAgent, m = ua.match(/(Firefox|Edg|Chrome|Chromium|Safari)\/(\d+)/);
    return m ? m[1] + " " + m[2] : cut(ua, 80);
  }

  function describe(arg) {
    if (arg instanceof Error) return { message: arg.message || String(arg), stack: arg.stack, type: arg.name };
    if (arg && typeof arg === "object") { try { return { message: JSON.stringify(arg) }; } catch (e) { /* cyclic */ } }
    return { message: String(arg) };
  }

  function allowed(key) {
    var t = now();
    if (lastSent[key] && t - lastSent[key] < SAME_MS) return false;
    while (sentTimes.length && t - sentTimes[0] > 60000) sentTimes.shift();
    if (sentTimes.length >= PER_MIN) return false;
    lastSent[key] = t;
    sentTimes.push(t);
    return true;
  }

  function send(body) {
    var json = JSON.stringify(body);
    // Shrink until it fits: breadcrumbs first, then the stack, then the message.
    if (bytes(json) > CAP) { body.breadcrumbs = body.breadcrumbs.slice(-5); json = JSON.stringify(body); }
    if (bytes(json) > CAP) { body.breadcrumbs = []; body.stack = cut(body.stack, 4000); json = JSON.stringify(body); }
    if (bytes(json) > CAP) { body.stack = cut(body.stack, 1000); body.message = cut(body.message, 1000); json = JSON.stringify(body); }
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(endpoint, json)) return;
    } catch (e) { /* fall through to fetch */ }
    try {
      origFetch(endpoint, { method: "POST", body: json, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain;charset=UTF-8" } }).catch(function () {});
    } catch (e) { /* nothing left to try */ }
  }

  function report(arg, extra) {
    if (sending) return;      // never report our own failures
    sending = true;
    try {
      var d = describe(arg), key = d.type + "|" + cut(d.message, 200) + "|" + cut(d.stack, 200);
      if (!allowed(key)) return;
      var body = {
        message: cut(d.message || "(no message)", 2000), stack: d.stack ? cut(d.stack, 8000) : undefined,
        type: d.type ? cut(d.type, 80) : undefined, source: (extra && extra.source) || "manual",
        route: location.pathname + location.search, build_hash: build || undefined, browser: browser(),
        ws_state: wsState() || undefined, ts: new Date().toISOString(), breadcrumbs: crumbs.slice()
      };
      send(body);
    } finally {
      sending = false;
    }
  }

  var origError = console.error;
  console.error = function () {
    var args = Array.prototype.slice.call(arguments);
    var err = args.filter(function (a) { return a instanceof Error; })[0];
    report(err || args.map(function (a) { return typeof a === "string" ? a : describe(a).message; }).join(" "),
      { source: "console" });
    return origError.apply(console, arguments);
  };
  window.addEventListener("error", function (ev) {
    if (ev.target && ev.target !== window) return;   // resource load errors are not exceptions
    report(ev.error || ev.message, { source: "onerror" });
  });
  window.addEventListener("unhandledrejection", function (ev) {
    report(ev.reason instanceof Error ? ev.reason : "Unhandled rejection: " + describe(ev.reason).message,
      { source: "unhandledrejection" });
  });

  // Breadcrumbs: navigations, clicks, failed fetches.
  crumb({ t: "load", to: location.pathname });
  window.addEventListener("popstate", function () { crumb({ t: "nav", to: location.pathname }); });
  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    history[name] = function () {
      var r = orig.apply(this, arguments);
      crumb({ t: "nav", to: location.pathname });
      return r;
    };
  });
  document.addEventListener("click", function (ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("a,button,[role=button],input,select") : null;
    if (el) crumb({ t: "click", el: el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""), text: cut(el.textContent || el.value || "", 40) });
  }, true);
  var origFetch = window.fetch ? window.fetch.bind(window) : null;
  if (origFetch) {
    window.fetch = function (input, init) {
      var url = cut(typeof input === "string" ? input : (input && input.url) || "", 200);
      return origFetch(input, init).then(function (resp) {
        if (!resp.ok && url.indexOf(endpoint) < 0) crumb({ t: "fetch", url: url, status: resp.status });
        return resp;
      }, function (err) {
        crumb({ t: "fetch", url: url, error: cut(err && err.message, 100) });
        throw err;
      });
    };
  }

  window.OpsBeacon = {
    report: function (error, extra) { report(error, extra || { source: "manual" }); },
    breadcrumb: function (c) { crumb(Object.assign({ t: "custom" }, c)); },
    trackWebSocket: function (socket) { ws = socket; }
  };
})();
