// Budget gauges as small SVG half-circles. The drawing is clamped to 0..100 %; the number is not.

import { svg } from "./dom.js";

/**
 * Threshold class of a budget percentage: green < 80, amber 80–99.9, red ≥ 100; "off" when
 * there is no limit (percent null).
 * @param {number|null} percent
 * @returns {{status: "ok"|"warn"|"bad"|"off", shape: string, word: string}}
 */
export function gaugeStatus(percent) {
  if (typeof percent !== "number" || !Number.isFinite(percent)) return { status: "off", shape: "–", word: "no limit" };
  if (percent >= 100) return { status: "bad", shape: "✕", word: "over budget" };
  if (percent >= 80) return { status: "warn", shape: "▲", word: "near the limit" };
  return { status: "ok", shape: "✓", word: "within budget" };
}

/**
 * End point of the value arc for a fraction 0..1 of a half circle centred at (cx, cy).
 * @returns {[number, number]}
 */
export function arcPoint(fraction, cx = 60, cy = 60, r = 48) {
  const f = Math.min(1, Math.max(0, fraction));
  const angle = Math.PI * (1 - f);
  return [cx + r * Math.cos(angle), cy - r * Math.sin(angle)];
}

const r2 = (x) => Math.round(x * 100) / 100;

/**
 * An SVG gauge (decorative: the caption next to it carries the numbers for screen readers).
 * @param {number|null} percent
 * @param {string} centerText text in the middle, e.g. "83 %"
 */
export function drawGauge(percent, centerText) {
  const { status } = gaugeStatus(percent);
  const [x, y] = arcPoint(typeof percent === "number" ? percent / 100 : 0);
  const track = "M 12 60 A 48 48 0 0 1 108 60";
  const children = [svg("path", { d: track, class: "track", fill: "none", "stroke-width": 12, "stroke-linecap": "round" })];
  if (typeof percent === "number" && percent > 0) {
    children.push(svg("path", { d: `M 12 60 A 48 48 0 0 1 ${r2(x)} ${r2(y)}`, class: `value status-${status}`,
      fill: "none", "stroke-width": 12, "stroke-linecap": "round" }));
  }
  children.push(svg("text", { x: 60, y: 56, "text-anchor": "middle", "font-size": 18, "font-weight": 600, text: centerText }));
  return svg("svg", { viewBox: "0 0 120 70", "aria-hidden": "true", focusable: "false" }, ...children);
}
