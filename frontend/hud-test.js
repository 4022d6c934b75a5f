// The HUD check page: passes ?interval=N to hud.js and reports what the HUD decided, so a
// person (or a browser test) can see it without developer tools.
(function () {
  "use strict";
  var n = Number(new URLSearchParams(location.search).get("interval"));
  if (n >= 1 && n <= 3600) window.OpsHUDConfig = { intervalS: n };

  function report() {
    var el = document.getElementById("hud-test-state");
    var hud = window.OpsHUD;
    if (!el || !hud) return;
    var summaryRequests = performance.getEntriesByType("resource")
      .filter(function (e) { return e.name.indexOf("/api/ops/summary") !== -1; }).length;
    var text = "HUD: " + hud.state + (hud.role ? " (role " + hud.role + ")" : "") +
      ", summary requests so far: " + summaryRequests + (hud.lastError ? ", last error: " + hud.lastError : "");
    if (el.textContent !== text) el.textContent = text;
  }
  setInterval(report, 1000);
  document.addEventListener("DOMContentLoaded", report);
})();
