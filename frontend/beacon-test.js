// The error-reporting check page: raises real errors from a same-origin script (errors from
// other origins reach window.onerror only as "Script error."). `?kinds=uncaught,rejection,
// console&tag=X` raises them at load, for automated checks.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var tag = params.get("tag") || "manual check";
  var status = document.getElementById("beacon-test-status");

  function raise(kind) {
    var note = "beacon check (" + tag + ") " + kind;
    if (kind === "uncaught") setTimeout(function () { throw new TypeError(note); }, 0);
    else if (kind === "rejection") Promise.reject(new Error(note));
    else if (kind === "console") console.error(note, { check: true });
    status.textContent = "Raised: " + note;
  }

  document.querySelectorAll("button[data-kind]").forEach(function (b) {
    b.addEventListener("click", function () { raise(b.dataset.kind); });
  });
  (params.get("kinds") || "").split(",").filter(Boolean).forEach(raise);
})();
