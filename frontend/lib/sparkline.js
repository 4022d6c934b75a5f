// Sparklines: a line with a light area under it and a dot on the last point, drawn in SVG.

import { svg } from "./dom.js";

/**
 * Points of a sparkline for `values` in a width×height box with `pad` units of margin.
 * Nulls are treated as 0 (the series are zero-filled anyway). A flat series sits at the bottom.
 * @param {Array<number|null>} values
 * @returns {Array<[number, number]>}
 */
export function sparkPoints(values, width = 240, height = 40, pad = 3) {
  const vs = values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : 0));
  if (vs.length === 0) return [];
  const max = Math.max(...vs, 0);
  const min = Math.min(...vs, 0);
  const span = max - min || 1;
  const step = vs.length > 1 ? (width - 2 * pad) / (vs.length - 1) : 0;
  return vs.map((v, i) => [
    Math.round((pad + i * step) * 100) / 100,
    Math.round((height - pad - ((v - min) / span) * (height - 2 * pad)) * 100) / 100,
  ]);
}

/**
 * An SVG sparkline; `label` is its accessible name (role="img").
 * @param {Array<number|null>} values
 * @param {string} label
 */
export function drawSparkline(values, label, width = 240, height = 40) {
  const pts = sparkPoints(values, width, height);
  const children = [];
  if (pts.length) {
    const line = pts.map(([x, y]) => `${x},${y}`).join(" ");
    const first = pts[0];
    const last = pts[pts.length - 1];
    children.push(svg("polygon", { class: "area", points: `${first[0]},${height} ${line} ${last[0]},${height}` }));
    children.push(svg("polyline", { class: "line", points: line }));
    children.push(svg("circle", { class: "last", cx: last[0], cy: last[1], r: 3 }));
  }
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img",
    "aria-label": label }, svg("title", { text: label }), ...children);
}
