// Support bundle download (/api/ops/support-bundle): a button that fetches it with progress and
// saves it under the server's file name, and a plain link that does the same without script.

import { h } from "../lib/dom.js";

export const title = "Support bundle";

/** The file name of a Content-Disposition header, or a fallback. */
export function fileNameOf(disposition, fallback = "opsplane-support.json.gz") {
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition || "");
  return m ? decodeURIComponent(m[1]) : fallback;
}

function kb(n) {
  return `${(n / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} KB`;
}

export function mount(root, ctx) {
  const linesSel = h("select", { id: "bd-lines" }, ...[200, 1000, 2000].map((n) => h("option", { value: String(n), text: `${n} log lines per service` })));
  const link = h("a", { class: "bd-link", href: "/api/ops/support-bundle?lines=200", download: "" }, "direct link");
  linesSel.addEventListener("change", () => { link.setAttribute("href", `/api/ops/support-bundle?lines=${linesSel.value}`); });
  const button = h("button", { type: "button", class: "bd-download" }, "Download support bundle");
  const status = h("p", { class: "bd-status", role: "status" });
  root.append(
    h("p", { class: "muted", text: "One gzipped JSON file with the context, open alerts, migrations, deploys, frontend errors, environment and recent logs, secrets redacted. Attach it to an issue instead of copying logs by hand." }),
    h("div", { class: "ops-controls" }, h("label", { for: "bd-lines" }, "Include "), linesSel, " ", button, " (or the ", link, ")"),
    status);
  let busy = false;

  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    status.textContent = "Preparing the bundle… (about 1 s with 2,000 lines)";
    try {
      const res = await fetch(`/api/ops/support-bundle?lines=${linesSel.value}`, { credentials: "same-origin", cache: "no-store" });
      if (!res.ok) {
        let msg = `HTTP ${res.status}`;
        try { msg = (await res.json()).error.message || msg; } catch (_) { /* not JSON */ }
        throw new Error(msg);
      }
      const name = fileNameOf(res.headers.get("Content-Disposition"));
      const chunks = [];
      let got = 0;
      if (res.body && res.body.getReader) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          got += value.length;
          status.textContent = `Downloading… ${kb(got)}`;
        }
      } else {
        const buf = new Uint8Array(await res.arrayBuffer());
        chunks.push(buf);
        got = buf.length;
      }
      const url = URL.createObjectURL(new Blob(chunks, { type: "application/gzip" }));
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.dataset.file = name;
      status.dataset.bytes = String(got);
      status.textContent = `Saved ${name} (${kb(got)}).`;
    } catch (e) {
      status.textContent = `The bundle could not be made: ${e.message}`;
    } finally {
      busy = false;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });

  return { refresh: async () => {} };
}
