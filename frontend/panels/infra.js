// Database, cache, workers and queues: /api/monitoring/database, /api/monitoring/cache/stats,
// /api/monitoring/workers/status and /api/v1/ops/queue, each in its own card. A source that
// fails shows its error in its card; the others still draw. When every source fails, refresh
// throws (the shell marks the panel stale) and the last values stay.

import { h, clear } from "../lib/dom.js";
import { fmtMs, fmtPct, fmtInt, fmtTime, fmtAge } from "../lib/format.js";
import { need } from "../lib/api.js";

export const title = "Infrastructure";

const HEALTH = { ok: ["✓", "status-ok"], healthy: ["✓", "status-ok"], degraded: ["▲", "status-warn"],
  warn: ["▲", "status-warn"], stale: ["▲", "status-warn"], down: ["✕", "status-bad"], failed: ["✕", "status-bad"],
  error: ["✕", "status-bad"] };

function statusText(s) {
  const [shape, cls] = HEALTH[s] || ["?", "status-unknown"];
  return h("span", { class: `badge ${cls}` }, h("span", { "aria-hidden": "true", text: shape + " " }), String(s ?? "unknown"));
}

/** A number with up to `d` decimals, or "—". */
export function fmtNum(x, d = 1) {
  return typeof x === "number" && Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: d }) : "—";
}

/** A ratio 0..1 as a percentage ("99.2 %"). */
function fmtRatio(x) {
  return typeof x === "number" ? fmtPct(x * 100) : "—";
}

function facts(pairs) {
  return h("dl", { class: "ops-figures" }, ...pairs.flatMap(([term, value, key]) =>
    [h("dt", { text: term }), h("dd", { "data-key": key }, value)]));
}

function warningList(ws) {
  // "" (not null): the caller appends with Element.append, which would print "null".
  return (ws && ws.length) ? h("ul", { class: "ops-warnings" }, ...ws.map((w) => h("li", { text: w }))) : "";
}

export function mount(root, ctx) {
  const api = ctx.api;
  const cards = {
    database: h("section", { class: "ops-sub", "data-source": "database", "aria-labelledby": "inf-db-h" },
      h("h3", { id: "inf-db-h", text: "Database" }), h("div")),
    cache: h("section", { class: "ops-sub", "data-source": "cache", "aria-labelledby": "inf-cache-h" },
      h("h3", { id: "inf-cache-h", text: "Cache (Redis)" }), h("div")),
    workers: h("section", { class: "ops-sub", "data-source": "workers", "aria-labelledby": "inf-workers-h" },
      h("h3", { id: "inf-workers-h", text: "Workers" }), h("div")),
    queue: h("section", { class: "ops-sub", "data-source": "queue", "aria-labelledby": "inf-queue-h" },
      h("h3", { id: "inf-queue-h", text: "Queues" }), h("div")),
  };
  root.append(h("div", { class: "ops-subgrid" }, cards.database, cards.cache, cards.workers, cards.queue));
  const body = (k) => cards[k].lastElementChild;

  function drawDatabase(d) {
    const p = d.connection_pool || {}, q = d.query_performance || {};
    const tables = Object.entries(d.table_stats || {}).sort((a, b) => (b[1].size_mb || 0) - (a[1].size_mb || 0)).slice(0, 8);
    clear(body("database")).append(
      facts([
        ["Connections", `${fmtInt(p.total)} of ${fmtInt(p.max)} (${fmtPct(p.utilization)})`, "connections"],
        ["Active / idle", `${fmtInt(p.active)} / ${fmtInt(p.idle)}`, "active_idle"],
        ["Idle in transaction", fmtInt(p.idle_in_transaction), "idle_in_transaction"],
        ["Size", `${fmtNum(d.db_size_mb)} MB`, "db_size_mb"],
        ["Cache hit ratio", fmtRatio(d.cache_hit_ratio), "cache_hit_ratio"],
        ["Average query", fmtMs(q.avg_query_time_ms), "avg_query_time_ms"],
        ["Slow queries", fmtInt(q.slow_queries), "slow_queries"],
        ["Long transactions", fmtInt(d.long_running_transactions), "long_running_transactions"],
      ]),
      h("table", { class: "ops-table" }, h("caption", { text: "Largest tables" }),
        h("thead", null, h("tr", null, h("th", { scope: "col", text: "Table" }), h("th", { scope: "col", text: "Rows" }),
          h("th", { scope: "col", text: "Size" }))),
        h("tbody", null, ...tables.map(([name, t]) => h("tr", null, h("th", { scope: "row", text: name }),
          h("td", { class: "num", text: fmtInt(t.row_count) }), h("td", { class: "num", text: `${fmtNum(t.size_mb)} MB` }))))),
      h("p", { class: "muted", text: `Checked ${fmtTime(d.checked_at)}` }),
      warningList(d.warnings));
  }

  function drawCache(c) {
    clear(body("cache")).append(
      facts([
        ["Service", h("span", null, c.service ?? "—", " ", statusText(c.status)), "service"],
        ["Hit rate", fmtPct(c.hit_rate), "hit_rate"],
        ["Memory", `${fmtNum(c.size_mb)} MB`, "size_mb"],
        ["Evictions", `${fmtNum(c.eviction_rate, 2)} /s`, "eviction_rate"],
        ["Clients", fmtInt(c.connected_clients), "connected_clients"],
        ["Operations", `${fmtNum(c.ops_per_sec)} /s`, "ops_per_sec"],
      ]),
      h("p", { class: "muted", text: `Checked ${fmtTime(c.checked_at)}` }),
      warningList(c.warnings));
  }

  function drawWorkers(w) {
    const rows = (w.workers || []).map((x) => h("tr", { "data-component": x.component },
      h("th", { scope: "row", text: x.component }),
      h("td", null, statusText(x.stale ? "stale" : (x.health || x.status))),
      h("td", { class: "num", text: fmtAge(x.age_s) })));
    clear(body("workers")).append(
      facts([
        ["Active", `${fmtInt(w.active_workers)} of ${fmtInt(w.total_workers)}`, "active_workers"],
        ["Health", statusText(w.worker_health), "worker_health"],
        ["Queue length", fmtInt(w.queue_length), "queue_length"],
        ["Processing", `${fmtNum(w.processing_rate, 2)} /s`, "processing_rate"],
        ["Failed tasks", fmtInt(w.failed_tasks), "failed_tasks"],
      ]),
      rows.length ? h("table", { class: "ops-table" }, h("caption", { text: "Heartbeats" }),
        h("thead", null, h("tr", null, ...["Component", "Health", "Last beat"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", null, ...rows)) : h("p", { class: "muted", text: "No worker heartbeats." }),
      warningList(w.warnings));
  }

  function drawQueue(q) {
    const rows = (q.queues || []).map((x) => h("tr", { "data-component": x.component },
      h("th", { scope: "row", text: x.component }),
      h("td", null, statusText(x.status)),
      h("td", { class: "num", "data-key": "depth", text: fmtInt(x.depth) }),
      h("td", { class: "num", text: fmtNum(x.processing_rate, 2) }),
      h("td", { class: "num", text: fmtInt(x.failed) }),
      h("td", { class: "num", text: fmtAge(x.age_s) })));
    clear(body("queue")).append(
      facts([["Total depth", fmtInt(q.total_depth), "total_depth"]]),
      rows.length ? h("table", { class: "ops-table" }, h("caption", { text: "Queues" }),
        h("thead", null, h("tr", null, ...["Queue", "Status", "Depth", "Rate /s", "Failed", "Last beat"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", null, ...rows)) : h("p", { class: "muted", text: "No queue heartbeats." }));
  }

  function drawError(k, e) {
    // Keep what was drawn; add (or replace) one line saying why it is not fresh.
    const b = body(k);
    const old = b.querySelector(".inf-error");
    if (old) old.remove();
    b.prepend(h("p", { class: "inf-error status-warn", role: "note" }, h("span", { "aria-hidden": "true", text: "▲ " }),
      e.status === 404 ? "Not configured: " : "Not available: ", e.message || String(e)));
  }

  const sources = [
    ["database", "/api/monitoring/database", drawDatabase],
    ["cache", "/api/monitoring/cache/stats", drawCache],
    ["workers", "/api/monitoring/workers/status", drawWorkers],
    ["queue", "/api/v1/ops/queue", drawQueue],
  ];

  async function refresh() {
    const results = await Promise.allSettled(sources.map(([, path]) => api.get(path).then(need)));
    let failed = null, ok = 0;
    results.forEach((r, i) => {
      const [k, , draw] = sources[i];
      if (r.status === "fulfilled") { draw(r.value); ok++; } else { drawError(k, r.reason); failed = r.reason; }
    });
    if (!ok && failed) throw failed;
  }

  return { refresh };
}
