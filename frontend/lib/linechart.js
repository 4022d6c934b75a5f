// A small SVG line chart: axes with "nice" ticks, gaps for null values, a hover/keyboard cursor
// that reads the values out, and a data table for screen readers (rendered when opened).
// No innerHTML anywhere: every label is a Text node. Styles come from ops-panels.css classes
// (lc-*); nothing is set through a style attribute, so it works under `style-src 'self'`.

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 220;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };

/**
 * Round tick values from 0 (or below, for negative data) up to at least `max`.
 * @param {number} min smallest value to cover (0 for most charts)
 * @param {number} max largest value to cover
 * @param {number} [count] about how many intervals
 * @returns {number[]} ascending tick values; at least two
 */
export function niceTicks(min, max, count = 4) {
  if (!Number.isFinite(min)) min = 0;
  if (!Number.isFinite(max) || max <= min) max = min + 1;
  const raw = (max - min) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  const lo = Math.floor(min / step) * step;
  const ticks = [];
  for (let v = lo; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.length < 2) ticks.push(lo + step);
  return ticks;
}

/**
 * The index of the x value closest to `x` (xs ascending), or -1 for an empty list.
 * @param {number[]} xs
 * @param {number} x
 */
export function nearestIndex(xs, x) {
  if (!xs.length) return -1;
  let lo = 0, hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid; else hi = mid;
  }
  return Math.abs(xs[hi] - x) < Math.abs(xs[lo] - x) ? hi : lo;
}

/**
 * SVG path data for one series; a null (or non-finite) value breaks the line.
 * @param {number[]} xs pixel x per point
 * @param {(number|null)[]} ys pixel y per point, null for a gap
 * @returns {string}
 */
export function pathData(xs, ys) {
  let d = "";
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? "L" : "M"}${xs[i].toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.appendChild(document.createTextNode(text));
  return e;
}

function html(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** "14:05" (UTC) for short ranges, "12-07 14:00" for ranges over a day. */
export function timeLabel(ms, spanMs) {
  const iso = new Date(ms).toISOString();
  return spanMs > 36 * 3600 * 1000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/**
 * Creates a chart inside `host`.
 * @param {HTMLElement} host
 * @param {{label: string, yFormat?: (v: number) => string, id?: string}} opts
 *   `label` names the chart for screen readers and the table caption; `yFormat` formats values.
 * @returns {{update: (data: {x: number[], series: {name: string, values: (number|null)[]}[]}) => void,
 *            showIndex: (i: number) => void, destroy: () => void, root: HTMLElement}}
 */
export function createLineChart(host, opts) {
  const yFormat = opts.yFormat || ((v) => String(v));
  const root = html("figure", "lc");
  const readout = html("p", "lc-readout", "");
  readout.setAttribute("aria-live", "polite");
  readout.id = `${opts.id || "lc"}-readout-${Math.random().toString(36).slice(2, 8)}`;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "lc-svg", tabindex: "0", role: "img",
    "aria-label": `${opts.label}. Use the left and right arrow keys to read the values.`,
    "aria-describedby": readout.id, preserveAspectRatio: "xMidYMid meet" });
  const legend = html("ul", "lc-legend");
  const details = html("details", "lc-table");
  const summary = html("summary", "", "Data table");
  details.appendChild(summary);
  const caption = html("figcaption", "lc-caption", opts.label);
  root.append(caption, legend, svg, readout, details);
  host.appendChild(root);

  /** @type {{x: number[], series: {name: string, values: (number|null)[]}[]}} */
  let data = { x: [], series: [] };
  let scale = { x: (/** @type {number} */ _v) => 0, y: (/** @type {number} */ _v) => 0 };
  let cursorIndex = -1;
  const cursorLayer = el("g", { class: "lc-cursor" });

  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    const xs = data.x;
    let ymax = 0, ymin = 0;
    for (const s of data.series) for (const v of s.values) {
      if (v !== null && Number.isFinite(v)) { ymax = Math.max(ymax, v); ymin = Math.min(ymin, v); }
    }
    const ticks = niceTicks(ymin, ymax, 4);
    const y0 = ticks[0], y1 = ticks[ticks.length - 1];
    const x0 = xs.length ? xs[0] : 0, x1 = xs.length > 1 ? xs[xs.length - 1] : x0 + 1;
    const iw = W - PAD.left - PAD.right, ih = H - PAD.top - PAD.bottom;
    scale = {
      x: (v) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * iw,
      y: (v) => PAD.top + ih - ((v - y0) / (y1 - y0 || 1)) * ih,
    };
    const axes = el("g", { class: "lc-axes", "aria-hidden": "true" });
    for (const t of ticks) {
      const y = scale.y(t);
      axes.appendChild(el("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "lc-grid" }));
      axes.appendChild(el("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "lc-tick" }, yFormat(t)));
    }
    axes.appendChild(el("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: PAD.top + ih, class: "lc-axis" }));
    axes.appendChild(el("line", { x1: PAD.left, x2: W - PAD.right, y1: PAD.top + ih, y2: PAD.top + ih, class: "lc-axis" }));
    const span = x1 - x0;
    const nx = Math.min(5, Math.max(1, xs.length - 1));
    for (let k = 0; k <= nx && xs.length; k++) {
      const t = x0 + (span * k) / nx;
      const x = scale.x(t);
      const anchor = k === 0 ? "start" : k === nx ? "end" : "middle";
      axes.appendChild(el("text", { x, y: H - 8, "text-anchor": anchor, class: "lc-tick" }, timeLabel(t, span)));
    }
    svg.appendChild(axes);
    const px = xs.map(scale.x);
    data.series.forEach((s, i) => {
      const py = s.values.map((v) => (v === null || !Number.isFinite(v) ? null : scale.y(v)));
      svg.appendChild(el("path", { d: pathData(px, py), class: `lc-line lc-s${i}`, "data-series": s.name }));
      // A lone point between gaps has no line to show it: a dot does.
      py.forEach((y, j) => {
        if (y !== null && (j === 0 || py[j - 1] === null) && (j === py.length - 1 || py[j + 1] === null)) {
          svg.appendChild(el("circle", { cx: px[j], cy: y, r: 2.5, class: `lc-dot lc-s${i}` }));
        }
      });
      const item = html("li", `lc-key lc-s${i}`);
      const swatch = html("span", "lc-swatch");
      swatch.setAttribute("aria-hidden", "true");
      item.append(swatch, document.createTextNode(s.name));
      legend.appendChild(item);
    });
    if (!xs.length) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "lc-empty" }, "No data in this range"));
    }
    while (cursorLayer.firstChild) cursorLayer.removeChild(cursorLayer.firstChild);
    svg.appendChild(cursorLayer);
    if (cursorIndex >= xs.length) cursorIndex = xs.length - 1;
    if (cursorIndex >= 0) showIndex(cursorIndex);
    else readout.textContent = "";
    if (details.open) fillTable();
  }

  function valuesText(i) {
    const t = new Date(data.x[i]).toISOString().replace(/\.\d+Z$/, "Z").replace("T", " ");
    const parts = data.series.map((s) => {
      const v = s.values[i];
      return `${s.name} ${v === null || v === undefined ? "no data" : yFormat(v)}`;
    });
    return `${t}: ${parts.join(", ")}`;
  }

  /** Moves the cursor to point i and reads its values out (hover, arrow keys, tests). */
  function showIndex(i) {
    while (cursorLayer.firstChild) cursorLayer.removeChild(cursorLayer.firstChild);
    if (i < 0 || i >= data.x.length) { cursorIndex = -1; readout.textContent = ""; return; }
    cursorIndex = i;
    const x = scale.x(data.x[i]);
    cursorLayer.appendChild(el("line", { x1: x, x2: x, y1: PAD.top, y2: H - PAD.bottom, class: "lc-cursor-line" }));
    data.series.forEach((s, k) => {
      const v = s.values[i];
      if (v !== null && v !== undefined && Number.isFinite(v)) {
        cursorLayer.appendChild(el("circle", { cx: x, cy: scale.y(v), r: 4, class: `lc-cursor-dot lc-s${k}` }));
      }
    });
    readout.textContent = valuesText(i);
  }

  function fillTable() {
    const old = details.querySelector("table");
    if (old) old.remove();
    const table = html("table", "lc-data");
    table.appendChild(html("caption", "", opts.label));
    const head = html("tr");
    head.appendChild(html("th", "", "Time (UTC)"));
    for (const s of data.series) head.appendChild(html("th", "", s.name));
    const thead = html("thead");
    thead.appendChild(head);
    const tbody = html("tbody");
    data.x.forEach((t, i) => {
      const tr = html("tr");
      const th = html("th", "", new Date(t).toISOString().slice(0, 19).replace("T", " "));
      th.setAttribute("scope", "row");
      tr.appendChild(th);
      for (const s of data.series) {
        const v = s.values[i];
        tr.appendChild(html("td", "", v === null || v === undefined ? "—" : yFormat(v)));
      }
      tbody.appendChild(tr);
    });
    table.append(thead, tbody);
    details.appendChild(table);
  }

  function pointerIndex(ev) {
    const rect = svg.getBoundingClientRect();
    if (!rect.width) return -1;
    // viewBox with "meet": the drawing is scaled uniformly and centred.
    const k = Math.min(rect.width / W, rect.height / H);
    const offsetX = (rect.width - W * k) / 2;
    const vx = (ev.clientX - rect.left - offsetX) / k;
    const x0 = data.x[0], x1 = data.x[data.x.length - 1];
    const iw = W - PAD.left - PAD.right;
    const t = x0 + ((vx - PAD.left) / iw) * (x1 - x0 || 1);
    return nearestIndex(data.x, t);
  }

  const onMove = (ev) => { if (data.x.length) showIndex(pointerIndex(ev)); };
  const onLeave = () => { if (document.activeElement !== svg) showIndex(-1); };
  const onKey = (ev) => {
    const n = data.x.length;
    if (!n) return;
    let i = cursorIndex < 0 ? n - 1 : cursorIndex;
    if (ev.key === "ArrowLeft") i = Math.max(0, i - 1);
    else if (ev.key === "ArrowRight") i = Math.min(n - 1, i + 1);
    else if (ev.key === "Home") i = 0;
    else if (ev.key === "End") i = n - 1;
    else return;
    ev.preventDefault();
    showIndex(i);
  };
  const onFocus = () => { if (cursorIndex < 0 && data.x.length) showIndex(data.x.length - 1); };
  const onBlur = () => showIndex(-1);
  const onToggle = () => { if (details.open) fillTable(); };
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerleave", onLeave);
  svg.addEventListener("keydown", onKey);
  svg.addEventListener("focus", onFocus);
  svg.addEventListener("blur", onBlur);
  details.addEventListener("toggle", onToggle);
  draw();

  return {
    root,
    update(next) { data = next; draw(); },
    showIndex,
    destroy() {
      svg.removeEventListener("pointermove", onMove);
      svg.removeEventListener("pointerleave", onLeave);
      svg.removeEventListener("keydown", onKey);
      svg.removeEventListener("focus", onFocus);
      svg.removeEventListener("blur", onBlur);
      details.removeEventListener("toggle", onToggle);
      root.remove();
    },
  };
}
