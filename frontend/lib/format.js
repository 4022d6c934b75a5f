// Formatting for people. Every function accepts null/undefined and then shows "—".

const DASH = "—";
const isNum = (x) => typeof x === "number" && Number.isFinite(x);

export function fmtInt(n) {
  return isNum(n) ? Math.round(n).toLocaleString("en-US") : DASH;
}

export function fmtUSD(x) {
  if (!isNum(x)) return DASH;
  const digits = Math.abs(x) < 1 && x !== 0 ? 4 : 2;
  return "$" + x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits });
}

/** x is already a percentage (12.5 → "12.5 %"). */
export function fmtPct(x) {
  if (!isNum(x)) return DASH;
  const digits = Math.abs(x) >= 100 ? 0 : 1;
  return x.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits }) + " %";
}

export function fmtMs(x) {
  if (!isNum(x)) return DASH;
  if (x >= 10000) return (x / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " s";
  return x.toLocaleString("en-US", { maximumFractionDigits: x < 10 ? 1 : 0 }) + " ms";
}

/** Seconds → "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function fmtAge(seconds) {
  if (!isNum(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** ISO-8601 (or epoch ms) → "14:03:07 UTC" today, "2026-12-06 14:03 UTC" otherwise. */
export function fmtTime(iso) {
  if (iso === null || iso === undefined || iso === "") return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const s = d.toISOString();
  const today = new Date().toISOString().slice(0, 10);
  return s.slice(0, 10) === today ? `${s.slice(11, 19)} UTC` : `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}
