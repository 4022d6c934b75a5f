// Pure logic of the dashboard's libraries (no DOM): `node --test Tests/js/`.
import test from "node:test";
import assert from "node:assert/strict";

import { fmtInt, fmtUSD, fmtPct, fmtMs, fmtAge, fmtTime } from "../../frontend/lib/format.js";
import { gaugeStatus, arcPoint } from "../../frontend/lib/gauge.js";
import { sparkPoints } from "../../frontend/lib/sparkline.js";
import { EventList, describeEvent, normaliseEvent } from "../../frontend/lib/ticker.js";

test("format: numbers for people, a dash for null", () => {
  assert.equal(fmtInt(1234567), "1,234,567");
  assert.equal(fmtInt(null), "—");
  assert.equal(fmtUSD(null), "—");
  assert.equal(fmtUSD(0), "$0.00");
  assert.equal(fmtUSD(0.0125), "$0.0125");
  assert.equal(fmtUSD(1234.5), "$1,234.50");
  assert.equal(fmtPct(94.66), "94.7 %");
  assert.equal(fmtPct(250), "250 %");
  assert.equal(fmtMs(4.25), "4.3 ms");
  assert.equal(fmtMs(40050), "40.1 s");
  assert.equal(fmtAge(12), "12 s ago");
  assert.equal(fmtAge(125), "2 min ago");
  assert.equal(fmtTime(null), "—");
  assert.match(fmtTime(new Date().toISOString()), /^\d\d:\d\d:\d\d UTC$/);
  assert.equal(fmtTime("2020-01-02T03:04:05Z"), "2020-01-02 03:04 UTC");
});

test("gauge thresholds: green < 80, amber 80-99.9, red >= 100, off without a limit", () => {
  assert.equal(gaugeStatus(null).status, "off");
  assert.equal(gaugeStatus(79.99).status, "ok");
  assert.equal(gaugeStatus(80).status, "warn");
  assert.equal(gaugeStatus(99.9).status, "warn");
  assert.equal(gaugeStatus(100).status, "bad");
  assert.equal(gaugeStatus(250).status, "bad");
  for (const p of [null, 0, 80, 100]) assert.ok(gaugeStatus(p).shape.length > 0, "a shape besides the colour");
  // The drawing is clamped: 250 % ends where 100 % ends.
  assert.deepEqual(arcPoint(2.5), arcPoint(1));
  assert.deepEqual(arcPoint(-1), arcPoint(0));
});

test("sparkline points span the box, a flat series sits at the bottom", () => {
  const pts = sparkPoints([0, 5, 10], 100, 20, 0);
  assert.deepEqual(pts, [[0, 20], [50, 10], [100, 0]]);
  assert.deepEqual(sparkPoints([0, 0], 100, 20, 0).map((p) => p[1]), [20, 20]);
  assert.deepEqual(sparkPoints([]), []);
});

test("event list: newest first by id, no duplicates, at most cap", () => {
  const list = new EventList(3);
  for (const id of [1, 3, 2, 3, 4, 5]) list.add({ id, ts: 0, data: { type: "run_started" } });
  assert.deepEqual(list.items.map((e) => e.id), [5, 4, 3]);
  assert.equal(list.add({ id: 1, ts: 0, data: { type: "x" } }), false, "older than all kept, list full");
  assert.equal(list.add({ id: 4, ts: 0, data: { type: "x" } }), false, "duplicate");
  assert.equal(list.ids.size, 3, "ids of dropped events are forgotten");
});

test("events: frames and history rows normalise alike; details are plain text", () => {
  const frame = normaliseEvent({ v: 1, type: "ops_event", id: 7, ts: 1700000000000, data: { type: "run_failed", agent_id: "a", run_id: "r", error: "<b>x</b>" } });
  const row = normaliseEvent({ id: 7, ts: "2023-11-14T22:13:20Z", type: "run_failed", data: { type: "run_failed", agent_id: "a", run_id: "r", error: "<b>x</b>" } });
  assert.deepEqual(frame, row);
  assert.equal(describeEvent(frame.data), "agent a · run r · error: <b>x</b>");
  assert.equal(normaliseEvent({ data: {} }), null);
});
