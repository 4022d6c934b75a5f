"""The overview's aggregates (migration 0016): axis o of ops.run_rollup (runs by created hour and
status, with the durations of the successful ones) and ops.llm_rollup (LLM calls by hour,
provider and model), kept by statement triggers and folded by the refresher.

GET /api/v1/ops/overview used to read every run and LLM call of its rolling window; it now adds
the whole hours of the aggregates, the partial first hour from the tables and takes off the
current hour's rows dated after now. /api/ops/top?kind=models reads ops.llm_rollup_now. A wrong
delta in a trigger, a bucket counted twice or missed at either end of the window, or a row of the
future counted would all be wrong numbers on the dashboard without any error, so:

- the LLM aggregates are compared row by row with the same numbers recomputed from
  ops.llm_calls after every way of writing them (ingest with pricing, replays, SQL UPDATE and
  DELETE, TRUNCATE, and rows still pending while the fold's lock is held);
- the overview's answer is compared with the previous direct computation from the tables, run in
  SQL for the same `now`, with data on both sides of every edge of both windows (24h, 7d);
- top?kind=models is compared with the direct computation of its whole UTC days.
"""

import concurrent.futures
import datetime as dt
import json
import math
import time
from decimal import Decimal

from activity_helpers import (clean, ops, eventually, run, finished_run, llm_call, agent, ago, iso, now,  # noqa: F401
                              today_ago, today_start, hold_in_second_session,
                              assert_rollup_matches)

# ops.fold_run_rollup() skips its round while another session holds this (migration 0014/0016).
FOLD_LOCK = 7286412098153
LOCK_HOLDER_APP = "e2e-overview-rollup-fold-lock"
STATES = ("queued", "running", "success", "failed", "canceled")
PERIODS = {"24h": 86_400, "7d": 7 * 86_400}
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


# --- the LLM aggregates against ops.llm_calls ----------------------------------------------

# Rows of ops.llm_rollup_now (folded + pending, summed) that differ from ops.llm_calls
# recomputed, in either direction. Zero rows on the aggregates' side are equal to no row.
LLM_DIFF_SQL = """
WITH raw AS (
  SELECT date_trunc('hour', ts, 'UTC') AS bucket, provider, model, count(*)::numeric AS calls,
         coalesce(sum(prompt_tokens), 0)::numeric AS prompt_tokens,
         coalesce(sum(completion_tokens), 0)::numeric AS completion_tokens,
         coalesce(sum(latency_ms), 0)::numeric AS latency_sum, count(latency_ms)::numeric AS latencies,
         (count(*) FILTER (WHERE (status IS NOT NULL AND status <> 'ok') OR error_code IS NOT NULL))::numeric AS errors,
         coalesce(sum(cost_usd), 0)::numeric AS cost, count(cost_usd)::numeric AS costs
  FROM ops.llm_calls GROUP BY 1, 2, 3
), agg AS (
  SELECT bucket, provider, model, sum(calls) AS calls, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(latency_sum) AS latency_sum,
         sum(latencies) AS latencies, sum(errors) AS errors, sum(cost) AS cost, sum(costs) AS costs
  FROM ops.llm_rollup_now GROUP BY 1, 2, 3
)
SELECT json_agg(d) FROM (
  (SELECT 'missing' AS side, * FROM (SELECT * FROM raw EXCEPT SELECT * FROM agg) m)
  UNION ALL
  (SELECT 'extra', * FROM (SELECT * FROM agg
                           WHERE calls <> 0 OR prompt_tokens <> 0 OR completion_tokens <> 0 OR latency_sum <> 0
                              OR latencies <> 0 OR errors <> 0 OR cost <> 0 OR costs <> 0
                           EXCEPT SELECT * FROM raw) e)
) d;
"""

# The aggregates as the answers see them (non-zero rows, summed), to compare before and after.
LLM_SNAPSHOT_SQL = """
SELECT coalesce(json_agg(a ORDER BY bucket, provider, model), '[]') FROM (
  SELECT bucket, provider, model, sum(calls) AS calls, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(latency_sum) AS latency_sum,
         sum(latencies) AS latencies, sum(errors) AS errors, sum(cost) AS cost, sum(costs) AS costs
  FROM ops.llm_rollup_now GROUP BY 1, 2, 3) a
WHERE calls <> 0 OR prompt_tokens <> 0 OR completion_tokens <> 0 OR latency_sum <> 0 OR latencies <> 0
   OR errors <> 0 OR cost <> 0 OR costs <> 0;
"""


def assert_llm_rollup_matches(o, what):
    diff = o.sql(LLM_DIFF_SQL)
    assert diff == "", f"after {what}, ops.llm_rollup_now differs from ops.llm_calls: {diff}"


def assert_llm_rollup_not_empty(o):
    # A comparison of two empty sides cannot fail: make sure there was something to compare.
    n = int(o.sql("SELECT count(*) FROM ops.llm_rollup_now WHERE calls <> 0;"))
    assert n > 0, "ops.llm_rollup_now has no rows although LLM calls were written"


def assert_run_axis_o_matches(o, what):
    # Every axis against ops.runs (axis o included, and no durations on the others), then axis o
    # not empty: a comparison of two empty sides cannot fail.
    assert_rollup_matches(o, what)
    n = int(o.sql("SELECT count(*) FROM ops.run_rollup_now WHERE axis = 'o' AND runs <> 0;"))
    assert n > 0, f"after {what}, axis o has no rows although runs were written"


def llm_snapshot(o):
    return json.loads(o.sql(LLM_SNAPSHOT_SQL), parse_float=Decimal)


def llm_pending(o):
    return int(o.sql("SELECT count(*) FROM ops.llm_rollup_pending;"))


def llm_folded(o):
    return int(o.sql("SELECT count(*) FROM ops.llm_rollup;"))


def calls_at(prefix, times, models):
    """One LLM call per (time, model) pair, with known and unknown (null) tokens, latencies and
    costs, ok and error statuses (an error_code on an 'ok' status is an error too, a null status
    without a code is not); cost omitted on some so that ops.pricing prices them."""
    statuses = ["ok", "ok", "error", None, "timeout", "ok", None]
    calls = []
    k = 0
    for t in times:
        for provider, model in models:
            fields = {
                "prompt_tokens": None if k % 7 == 3 else 100 + 13 * k,
                "completion_tokens": None if k % 5 == 2 else 10 + 3 * k,
                "latency_ms": None if k % 4 == 1 else 40 + 11 * k,
                "status": statuses[k % len(statuses)],
                "error_code": "rate_limited" if k % 6 == 1 else None,
            }
            fields = {f: v for f, v in fields.items() if v is not None}
            if k % 3 == 0:
                fields["cost_usd"] = None            # unknown, or priced when the model has a price
            elif k % 3 == 1:
                fields["cost_usd"] = round(0.000125 * (k + 1), 6)
            # k % 3 == 2: no cost field at all (priced, or unknown)
            if k % 11 == 5:
                fields["cost_usd"] = 0.0             # a known zero is not an unknown cost
            calls.append(llm_call(f"{prefix}-{k}", t, provider, model, **fields))
            k += 1
    return calls


MODELS = [("openai", "gpt-priced"), ("anthropic", "claude-b"), ("openai", "gpt-c"), ("mistral", "small")]


def test_llm_aggregates_follow_ingest_pricing_and_replays(clean):
    o = clean
    # Effective-dated prices: calls before 2 h ago at the first price, later ones at the second.
    o.add_price("openai", "gpt-priced", ago(days=10), prompt=2.0, completion=8.0)
    o.add_price("openai", "gpt-priced", ago(hours=2), prompt=3.0, completion=5.0)
    times = [ago(days=2, minutes=13), ago(hours=5, minutes=10), ago(hours=1, minutes=30), ago(minutes=20),
             ago(minutes=3), ago(minutes=-30), ago(hours=-20)]   # the last two: a clock ahead
    batch = calls_at("c-ing", times, MODELS)
    o.ingest_ok(batch)
    assert_llm_rollup_not_empty(o)
    assert_llm_rollup_matches(o, "an ingest of LLM calls")
    priced = int(o.sql("SELECT count(*) FROM ops.llm_calls WHERE cost_source = 'priced' AND cost_usd > 0;"))
    unknown = int(o.sql("SELECT count(*) FROM ops.llm_calls WHERE cost_usd IS NULL;"))
    assert priced > 0 and unknown > 0, f"the batch should hold priced ({priced}) and unknown ({unknown}) costs"
    # A second batch into the same hours (the aggregates add to existing rows, folded or not).
    o.ingest_ok(calls_at("c-ing2", times[1:4], MODELS[:2]))
    assert_llm_rollup_matches(o, "a second batch into the same hours")

    # Replays, alone and mixed with new calls, even with different values: ops.llm_calls is
    # append-only by id, the aggregates must not move.
    before = llm_snapshot(o)
    o.ingest_ok(batch)
    changed = [dict(c, prompt_tokens=999_999, cost_usd=42.0, ts=iso(ago(hours=7)), model="other") for c in batch[:6]]
    o.ingest_ok(changed)
    assert llm_snapshot(o) == before, "replayed LLM call ids changed the aggregates"
    assert_llm_rollup_matches(o, "replayed ids")
    o.ingest_ok(batch[:5] + calls_at("c-new", [ago(minutes=7)], MODELS[1:3]))
    assert_llm_rollup_matches(o, "replays mixed with new calls")
    assert llm_snapshot(o) != before, "the two new calls did not reach the aggregates"

    # Concurrent batches of the same ids with different times and models: each id is stored
    # once, by whichever batch wins; the aggregates must count exactly what was stored.
    def race(j):
        return o.ingest(calls_at("c-race", [ago(hours=j % 3, minutes=5 + j)] * 10, MODELS[j % 2:j % 2 + 2]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(race, range(8)))
    assert all(a.status_code == 200 for a in answers), [a.text[:200] for a in answers]
    assert int(o.sql("SELECT count(*) FROM ops.llm_calls WHERE id LIKE 'c-race-%';")) == 20
    assert_llm_rollup_matches(o, "8 concurrent batches of the same 20 ids")


def test_llm_aggregates_follow_sql_updates_deletes_and_truncate(clean):
    o = clean
    o.add_price("openai", "gpt-priced", ago(days=10), prompt=2.0, completion=8.0)
    times = [ago(hours=26), ago(hours=3, minutes=5), ago(hours=1, minutes=40), ago(minutes=25), ago(minutes=-15)]
    o.ingest_ok(calls_at("c", times, MODELS))
    assert_llm_rollup_not_empty(o)
    assert_llm_rollup_matches(o, "the ingest")
    ids = lambda *ks: ", ".join(f"'c-{k}'" for k in ks)  # noqa: E731
    steps = [
        ("tokens changed, one set unknown",
         f"UPDATE ops.llm_calls SET prompt_tokens = coalesce(prompt_tokens, 0) + 1000, completion_tokens = NULL "
         f"WHERE id IN ({ids(0, 1, 2)});"),
        ("a cost set unknown and an unknown cost set",
         f"UPDATE ops.llm_calls SET cost_usd = NULL, cost_source = NULL WHERE id IN ({ids(4, 5)});"
         f"UPDATE ops.llm_calls SET cost_usd = 0.125, cost_source = 'reported' WHERE id = 'c-3';"),
        ("provider and model changed",
         f"UPDATE ops.llm_calls SET provider = 'moved', model = 'moved-model' WHERE id IN ({ids(6, 7, 8)});"
         f"UPDATE ops.llm_calls SET model = 'claude-b' WHERE id = 'c-9';"),
        ("ts moved between hours",
         f"UPDATE ops.llm_calls SET ts = ts - interval '3 hours' WHERE id IN ({ids(10, 11)});"
         f"UPDATE ops.llm_calls SET ts = date_trunc('hour', ts, 'UTC') + interval '1 hour' WHERE id = 'c-12';"
         f"UPDATE ops.llm_calls SET ts = date_trunc('hour', ts, 'UTC') - interval '1 microsecond' WHERE id = 'c-13';"),
        ("statuses, error codes and latencies changed",
         f"UPDATE ops.llm_calls SET status = 'error', latency_ms = NULL WHERE id IN ({ids(14, 15)});"
         f"UPDATE ops.llm_calls SET status = 'ok', error_code = NULL WHERE error_code IS NOT NULL;"
         f"UPDATE ops.llm_calls SET status = NULL, error_code = 'filtered', latency_ms = 5 WHERE id = 'c-16';"),
        ("an update of every row that changes nothing counted",
         "UPDATE ops.llm_calls SET org_id = 'org-x';"),
        ("every row moved an hour later in one statement",
         "UPDATE ops.llm_calls SET ts = ts + interval '1 hour';"),
        ("several changes of the same rows in one transaction",
         f"BEGIN; UPDATE ops.llm_calls SET ts = ts - interval '1 day' WHERE id IN ({ids(17, 18)});"
         f"UPDATE ops.llm_calls SET prompt_tokens = 5, model = 'gpt-c' WHERE id IN ({ids(17, 18, 19)});"
         f"DELETE FROM ops.llm_calls WHERE id = 'c-18'; COMMIT;"),
        ("deletes of single calls", f"DELETE FROM ops.llm_calls WHERE id IN ({ids(0, 3, 10)});"),
        ("a whole provider deleted (its rows become zeros)", "DELETE FROM ops.llm_calls WHERE provider = 'moved';"),
        ("a retention-like delete by age", "DELETE FROM ops.llm_calls WHERE ts < now() - interval '20 hours';"),
    ]
    for what, sql in steps:
        before = llm_snapshot(o)
        o.sql(sql)
        assert_llm_rollup_matches(o, what)
        if what == "an update of every row that changes nothing counted":
            assert llm_snapshot(o) == before, f"{what}: the aggregates moved"
        else:
            assert llm_snapshot(o) != before, f"{what}: the step changed nothing in the aggregates"
    assert_llm_rollup_not_empty(o)
    assert int(o.sql("SELECT count(*) FROM ops.llm_calls WHERE provider = 'moved';")) == 0

    # TRUNCATE empties both the folded and the pending rows; what comes after counts anew.
    o.sql("TRUNCATE ops.llm_calls;")
    left = o.sql("SELECT (SELECT count(*) FROM ops.llm_rollup) || '/' || (SELECT count(*) FROM ops.llm_rollup_pending);")
    assert left == "0/0", f"TRUNCATE ops.llm_calls left aggregates behind (folded/pending rows: {left})"
    o.ingest_ok(calls_at("c-after", times[1:3], MODELS[:2]))
    assert_llm_rollup_not_empty(o)
    assert_llm_rollup_matches(o, "an ingest after the TRUNCATE")


# --- the overview against the previous direct computation ---------------------------------

# The overview's previous queries, for a given now and period (seconds): runs by created_at,
# LLM calls by ts, in (now - period, now].
OLD_OVERVIEW_SQL = """
SELECT json_build_object(
  'runs', (SELECT coalesce(json_agg(json_build_object('status', status, 'n', n, 'avg', avg_ms)), '[]') FROM (
      SELECT status, count(*) AS n, avg(duration_ms) FILTER (WHERE status = 'success') AS avg_ms
      FROM ops.runs
      WHERE created_at > :'now'::timestamptz - :'period'::bigint * interval '1 second'
        AND created_at <= :'now'::timestamptz
      GROUP BY status) r),
  'llm', (SELECT coalesce(json_agg(json_build_object('provider', provider, 'model', model, 'calls', calls,
                                                     'prompt', pt, 'completion', ct, 'latency', lat,
                                                     'errors', errs, 'cost', cost)
                                   ORDER BY calls DESC, provider, model), '[]') FROM (
      SELECT provider, model, count(*) AS calls, coalesce(sum(prompt_tokens), 0) AS pt,
             coalesce(sum(completion_tokens), 0) AS ct, avg(latency_ms) AS lat,
             count(*) FILTER (WHERE (status IS NOT NULL AND status <> 'ok') OR error_code IS NOT NULL) AS errs,
             sum(cost_usd) AS cost
      FROM ops.llm_calls
      WHERE ts > :'now'::timestamptz - :'period'::bigint * interval '1 second' AND ts <= :'now'::timestamptz
      GROUP BY provider, model) l));
"""


def swift_round(x, scale):
    """(x * scale).rounded() / scale as the API computes it (half away from zero, on doubles)."""
    v = x * scale
    return math.copysign(math.floor(abs(v) + 0.5), v) / scale


def rate(part, whole):
    return swift_round(part / whole, 10_000)


def round_usd(v):
    return swift_round(v, 1_000_000)


def served(v):
    """A float as the API prints it (15 significant digits)."""
    return None if v is None else float(f"{v:.15g}")


def expected_overview(o, period, at):
    """The overview's runs and llm objects from the previous direct queries, as of `at`."""
    out = json.loads(o.sql(OLD_OVERVIEW_SQL, now=at.isoformat(), period=str(PERIODS[period])), parse_float=Decimal)
    by_state = {s: 0 for s in STATES}
    avg = None
    for r in out["runs"]:
        by_state[r["status"]] = r["n"]
        if r["status"] == "success" and r["avg"] is not None:
            avg = served(swift_round(float(r["avg"]), 10))
    success, failed = by_state["success"], by_state["failed"]
    runs = {"total": sum(by_state.values()), "by_state": by_state,
            "success_rate": served(rate(success, success + failed)) if success + failed else None,
            "avg_runtime_ms": avg}
    calls = prompt = completion = errors = 0
    cost = None
    by_model = []
    for m in out["llm"]:
        calls += m["calls"]
        prompt += m["prompt"]
        completion += m["completion"]
        errors += m["errors"]
        if m["cost"] is not None:
            cost = (cost or 0.0) + float(m["cost"])
        by_model.append({
            "provider": m["provider"], "model": m["model"], "calls": m["calls"],
            "prompt_tokens": m["prompt"], "completion_tokens": m["completion"],
            "total_tokens": m["prompt"] + m["completion"],
            "avg_latency_ms": None if m["latency"] is None else served(swift_round(float(m["latency"]), 10)),
            "error_rate": served(rate(m["errors"], m["calls"])),
            "cost_usd": None if m["cost"] is None else served(round_usd(float(m["cost"]))),
        })
    llm = {"calls": calls, "prompt_tokens": prompt, "completion_tokens": completion,
           "total_tokens": prompt + completion, "error_rate": served(rate(errors, calls)) if calls else None,
           "cost_usd": None if cost is None else served(round_usd(cost)), "by_model": by_model}
    return {"runs": runs, "llm": llm}


def assert_overview_matches(o, period, what, timeout=5.0):
    """A freshly computed overview answer (its cached answer dropped, the data version bumped, so
    that neither a worker nor the refresher serves an older one) equals the previous direct
    computation for the `now` taken just before the request. Returns the expected objects."""
    def check():
        o.sql("DELETE FROM ops.api_cache WHERE key = :'key'; SELECT nextval('ops.data_version');",
              key=f"overview:{period}")
        at = now()
        body = o.overview(period)
        want = expected_overview(o, period, at)
        assert body["period"] == period, body
        got = {"runs": body["runs"], "llm": body["llm"]}
        assert got == want, (f"{what}: overview?period={period} at {at.isoformat()} differs from the direct "
                             f"computation:\n got  {json.dumps(got, sort_keys=True)}\n want {json.dumps(want, sort_keys=True)}")
        return want
    return eventually(check, timeout=timeout, interval=0.3)


def floor_hour(t):
    return t.replace(minute=0, second=0, microsecond=0)


def wait_for_minute_of_hour(lo=3.5, hi=56.5):
    """The overview test places data 2 minutes off the window's moving edges and 30 s off its hour
    boundaries (the partial first hour, the current hour before and after now): that needs now's
    minute (the windows' start has the same) between lo and hi. Waits at most ~7 minutes."""
    n = now()
    m = n.minute + n.second / 60
    if m < lo:
        time.sleep((lo - m) * 60 + 1)
    elif m > hi:
        time.sleep((60 - m + lo) * 60 + 1)


def test_overview_equals_the_direct_computation_at_every_edge_of_both_windows(clean):
    o = clean
    wait_for_minute_of_hour()
    n0 = now()
    hc = floor_hour(n0)
    # Slots: (name, time). Data sits >= 2 min from the moving edges (now - period, now] at n0.
    slots = []
    for period, secs in PERIODS.items():
        s = n0 - dt.timedelta(seconds=secs)
        h1 = floor_hour(s) + HOUR
        slots += [
            (f"{period}: the start's hour, before the start", floor_hour(s) + dt.timedelta(seconds=30)),
            (f"{period}: 2 min before the start", s - 2 * MINUTE),
            (f"{period}: 2 min after the start (partial first hour)", s + 2 * MINUTE),
            (f"{period}: the partial first hour's last 30 s", h1 - dt.timedelta(seconds=30)),
            (f"{period}: the first whole hour, exactly", h1),
            (f"{period}: a whole hour", h1 + 10 * HOUR + 7 * MINUTE),
        ]
    slots += [
        ("8 days ago", n0 - dt.timedelta(days=8)),
        ("3 days ago", n0 - dt.timedelta(days=3, minutes=17)),
        ("30 h ago", n0 - dt.timedelta(hours=30)),
        ("3 h ago", n0 - dt.timedelta(hours=3, minutes=1)),
        ("the last second of the previous hour", hc - dt.timedelta(seconds=1)),
        ("the current hour, exactly", hc),
        ("2 min before now", n0 - 2 * MINUTE),
        ("2 min after now (current hour)", n0 + 2 * MINUTE),
        ("the current hour's last second", hc + HOUR - dt.timedelta(seconds=1)),
        ("the next hour, exactly", hc + HOUR),
        ("the next hour", hc + HOUR + 20 * MINUTE),
        ("23 h ahead", n0 + dt.timedelta(hours=23)),
    ]
    # Runs: two per slot, of every status; successful ones with and without durations (those
    # after now or before the start are long, so that counting them would move the average).
    records = [agent("ag-o", "Overview agent")]
    for k, (name, t) in enumerate(slots):
        status = STATES[k % len(STATES)]
        fields = {"duration_ms": 1_000 + 37 * k * k} if status in ("success", "failed") else {}
        records.append(run(f"r-{k}-a", "ag-o", status, t, user_id=f"u-{k % 3}", **fields))
        if k % 4 == 3:
            records.append(run(f"r-{k}-b", "ag-o", "success", t))                 # no duration
        else:
            records.append(finished_run(f"r-{k}-b", "ag-o", t, t + dt.timedelta(milliseconds=500 + 91 * k),
                                        cost_usd=0.01))
    # LLM calls: every slot has calls of three models (ties between the two first broken by
    # provider), plus a model with calls only after now and one whose only known cost is after now.
    o.add_price("openai", "gpt-priced", n0 - dt.timedelta(days=30), prompt=2.0, completion=8.0)
    calls = calls_at("c", [t for _, t in slots], [("openai", "gpt-priced"), ("anthropic", "claude-b"),
                                                  ("openai", "gpt-c")])
    calls += [llm_call("c-after-1", n0 + 2 * MINUTE, "acme", "after-only", prompt_tokens=5, status="ok"),
              llm_call("c-after-2", hc + HOUR - dt.timedelta(seconds=1), "acme", "after-only", status="error"),
              llm_call("c-cost-1", n0 - dt.timedelta(hours=3), "acme", "cost-after", prompt_tokens=7,
                       cost_usd=None, latency_ms=10),
              llm_call("c-cost-2", n0 - 2 * MINUTE, "acme", "cost-after", prompt_tokens=9, cost_usd=None),
              llm_call("c-cost-3", n0 + 2 * MINUTE, "acme", "cost-after", prompt_tokens=11, cost_usd=1.5,
                       latency_ms=9000)]
    o.ingest_ok(records + calls)
    assert_llm_rollup_matches(o, "the overview's data")
    assert_run_axis_o_matches(o, "the overview's data")

    def in_window(t, period):
        return n0 - dt.timedelta(seconds=PERIODS[period]) < t <= n0

    for period in PERIODS:
        want = assert_overview_matches(o, period, "the first ingest")
        # The direct computation agrees with where the data was put (so it is no empty check).
        runs_in = sum(2 for _, t in slots if in_window(t, period))
        assert want["runs"]["total"] == runs_in, (period, want["runs"], runs_in)
        models = {(m["provider"], m["model"]): m for m in want["llm"]["by_model"]}
        assert ("acme", "after-only") not in models, models
        assert models[("acme", "cost-after")]["cost_usd"] is None, models[("acme", "cost-after")]
        assert models[("openai", "gpt-priced")]["cost_usd"], "no priced cost in the window"
        assert want["runs"]["avg_runtime_ms"] is not None and want["llm"]["calls"] > 0, want
        assert models[("anthropic", "claude-b")]["calls"] == models[("openai", "gpt-priced")]["calls"], \
            "the two models should tie (ordered by provider)"
    assert now() - n0 < dt.timedelta(seconds=80), "the test took too long for its 2-minute margins"

    # Runs that change state by ingest (their status moves between keys of axis o), SQL updates
    # of created_at, status and duration_ms, and LLM calls moved across the window's start.
    o.ingest_ok([finished_run(f"r-{k}-a", "ag-o", t, t + dt.timedelta(seconds=3 + k), user_id=f"u-{k % 3}")
                 for k, (_, t) in enumerate(slots) if STATES[k % len(STATES)] in ("queued", "running")])
    o.sql("UPDATE ops.runs SET created_at = :'t' WHERE run_id IN ('r-0-a', 'r-1-b');"   # into the window
          "UPDATE ops.runs SET status = 'failed' WHERE run_id IN ('r-2-b', 'r-9-b');"
          "UPDATE ops.runs SET duration_ms = duration_ms * 7 WHERE status = 'success' AND run_id LIKE '%-b';"
          "UPDATE ops.runs SET created_at = created_at - interval '2 hours' WHERE run_id = 'r-20-b';"
          "DELETE FROM ops.runs WHERE run_id IN ('r-3-a', 'r-19-b');"
          "UPDATE ops.llm_calls SET ts = ts + interval '4 minutes' WHERE id IN ('c-3', 'c-4', 'c-5');"
          "UPDATE ops.llm_calls SET ts = :'t', cost_usd = 0.5 WHERE id = 'c-cost-3';"
          "DELETE FROM ops.llm_calls WHERE id IN ('c-20', 'c-21');",
          t=(n0 - dt.timedelta(hours=5)).isoformat())
    assert_llm_rollup_matches(o, "the updates")
    assert_run_axis_o_matches(o, "the updates")
    for period in PERIODS:
        want = assert_overview_matches(o, period, "runs moved by ingest and SQL, calls moved")
        models = {(m["provider"], m["model"]): m for m in want["llm"]["by_model"]}
        assert models[("acme", "cost-after")]["cost_usd"] == 0.5, models[("acme", "cost-after")]
    assert now() - n0 < dt.timedelta(seconds=100), "the test took too long for its 2-minute margins"


# --- top?kind=models against the direct computation ----------------------------------------

TOP_MODELS_SQL = """
SELECT coalesce(json_agg(json_build_object('provider', provider, 'model', model, 'calls', calls,
                                           'prompt_tokens', pt, 'completion_tokens', ct, 'cost', cost)
                         ORDER BY calls DESC, provider, model), '[]')
FROM (SELECT provider, model, count(*) AS calls, coalesce(sum(prompt_tokens), 0) AS pt,
             coalesce(sum(completion_tokens), 0) AS ct, sum(cost_usd) AS cost
      FROM ops.llm_calls WHERE ts >= :'start' AND ts < :'end' GROUP BY provider, model) x;
"""


def expected_top_models(o, window, at):
    day = dt.datetime(at.year, at.month, at.day, tzinfo=dt.timezone.utc)
    start = day - dt.timedelta(days=6 if window == "7d" else 0)
    rows = json.loads(o.sql(TOP_MODELS_SQL, start=start.isoformat(), end=(day + dt.timedelta(days=1)).isoformat()),
                      parse_float=Decimal)
    return [{"provider": r["provider"], "model": r["model"], "calls": r["calls"], "prompt_tokens": r["prompt_tokens"],
             "completion_tokens": r["completion_tokens"],
             "cost_usd": None if r["cost"] is None else served(round_usd(float(r["cost"])))} for r in rows]


def assert_top_models_match(o, window, what, timeout=5.0):
    def check():
        o.sql("DELETE FROM ops.api_cache WHERE key LIKE 'top:models:%'; SELECT nextval('ops.data_version');")
        at = now()
        want = expected_top_models(o, window, at)
        got = o.top("models", window, limit=100)
        assert got == want, (f"{what}: top?kind=models&window={window} differs from the direct computation:\n"
                             f" got  {json.dumps(got)}\n want {json.dumps(want)}")
        got5 = o.top("models", window)
        assert got5 == want[:5], f"{what}: the default limit of 5: {got5} is not {want[:5]}"
        return want
    return eventually(check, timeout=timeout, interval=0.3)


def test_top_models_equal_the_direct_computation_of_whole_days(clean):
    o = clean
    day = today_start()
    o.add_price("openai", "gpt-priced", day - dt.timedelta(days=20), prompt=2.0, completion=8.0)
    t_today = today_ago(minutes=30)
    records = []
    n = 0

    def calls(provider, model, times, **fields):
        nonlocal n
        for t in times:
            records.append(llm_call(f"t-{n}", t, provider, model, **fields))
            n += 1

    # Ties of three calls today (provider, then model order), known, zero and unknown costs.
    calls("b-prov", "m-1", [t_today, day, day + dt.timedelta(days=1, seconds=-1)], prompt_tokens=10, cost_usd=0.002)
    calls("a-prov", "m-2", [t_today] * 3, prompt_tokens=20, completion_tokens=2, cost_usd=0.0)
    calls("a-prov", "m-1", [t_today] * 3, completion_tokens=4)                     # unknown cost only
    calls("openai", "gpt-priced", [t_today] * 4, prompt_tokens=1000, completion_tokens=500)   # priced
    # Only unknown costs today, a known one yesterday (7d: known).
    calls("anthropic", "mixed", [t_today] * 2, prompt_tokens=3, cost_usd=None)
    calls("anthropic", "mixed", [day - dt.timedelta(seconds=30)], prompt_tokens=3, cost_usd=0.25)
    # The edges of the days: the 7d window starts at 00:00 six days ago, today ends at midnight.
    calls("edge", "seven-days", [day - dt.timedelta(days=6), day - dt.timedelta(days=6) + HOUR], cost_usd=0.01)
    calls("edge", "eight-days", [day - dt.timedelta(days=6, seconds=1)], cost_usd=0.01)
    calls("edge", "tomorrow", [day + dt.timedelta(days=1), day + dt.timedelta(days=1, seconds=30)], cost_usd=0.02)
    calls("edge", "later-today", [min(now() + 2 * HOUR, day + dt.timedelta(days=1, seconds=-2))], cost_usd=0.03)
    calls("many", "small", [t_today] * 6 + [day - dt.timedelta(days=3)] * 2, prompt_tokens=1, cost_usd=0.000001)
    o.ingest_ok(records)
    assert_llm_rollup_matches(o, "the calls of the top models")

    today = assert_top_models_match(o, "today", "the ingest")
    seven = assert_top_models_match(o, "7d", "the ingest")
    names = lambda rows: [(r["provider"], r["model"]) for r in rows]  # noqa: E731
    assert len(today) == 7 and len(seven) == 8, (today, seven)
    assert names(today)[names(today).index(("a-prov", "m-1")):][:3] == \
        [("a-prov", "m-1"), ("a-prov", "m-2"), ("b-prov", "m-1")], f"ties of 3 calls: {names(today)}"
    by = {(r["provider"], r["model"]): r for r in today}
    assert by[("a-prov", "m-1")]["cost_usd"] is None and by[("a-prov", "m-2")]["cost_usd"] == 0, by
    assert by[("anthropic", "mixed")]["cost_usd"] is None, by[("anthropic", "mixed")]
    assert ("edge", "tomorrow") not in by and ("edge", "later-today") in by, names(today)
    by7 = {(r["provider"], r["model"]): r for r in seven}
    assert by7[("anthropic", "mixed")]["cost_usd"] == 0.25 and ("edge", "eight-days") not in by7, seven
    assert by7[("edge", "seven-days")]["calls"] == 2, seven

    # SQL changes (not through ingest: the data version is bumped by the helper).
    o.sql("UPDATE ops.llm_calls SET ts = ts - interval '1 day' WHERE model = 'm-2';"
          "UPDATE ops.llm_calls SET provider = 'b-prov' WHERE id IN (SELECT min(id) FROM ops.llm_calls "
          "  WHERE provider = 'a-prov' AND model = 'm-1');"
          "UPDATE ops.llm_calls SET cost_usd = 0.5 WHERE id IN (SELECT min(id) FROM ops.llm_calls WHERE model = 'mixed');"
          "DELETE FROM ops.llm_calls WHERE model = 'small' AND ts < now() - interval '1 day';"
          "UPDATE ops.llm_calls SET ts = ts - interval '2 days' WHERE model = 'tomorrow';")
    assert_llm_rollup_matches(o, "the SQL changes")
    assert_top_models_match(o, "today", "the SQL changes")
    assert_top_models_match(o, "7d", "the SQL changes")


# --- pending rows -----------------------------------------------------------------------------

def hold_fold_lock(o, seconds):
    """A second session holding the fold's lock (ops.fold_run_rollup skips while it is held);
    returns once it is granted."""
    return hold_in_second_session(o, f"BEGIN; SELECT pg_advisory_xact_lock({FOLD_LOCK}); SELECT pg_sleep({seconds}); COMMIT;",
                                  LOCK_HOLDER_APP, "l.locktype = 'advisory'")


def test_pending_llm_rows_count_in_the_answers_and_are_folded(clean):
    o = clean
    holder = hold_fold_lock(o, 10)
    try:
        o.ingest_ok(calls_at("p", [ago(hours=30), ago(hours=3), today_ago(minutes=40)], MODELS)
                    + [finished_run("r-p", "ag-p", ago(hours=3), ago(hours=3) + MINUTE)])
        time.sleep(0.6)  # several refresher rounds
        assert llm_pending(o) > 0, "the pending rows were folded although the fold's lock was held"
        assert llm_folded(o) == 0, "rows reached ops.llm_rollup although the fold's lock was held"
        assert_llm_rollup_not_empty(o)
        assert_llm_rollup_matches(o, "an ingest whose rows are pending")
        # Updates and deletes of rows whose aggregates are still pending.
        o.sql("UPDATE ops.llm_calls SET ts = ts - interval '2 hours', prompt_tokens = 1 WHERE id IN ('p-0', 'p-5');"
              "DELETE FROM ops.llm_calls WHERE id IN ('p-1', 'p-6');")
        assert_llm_rollup_matches(o, "updates and deletes of pending rows")
        # The answers read only pending rows now: they must count them all.
        want = assert_overview_matches(o, "24h", "pending rows")
        assert want["llm"]["calls"] == 7, want["llm"]   # 8 in the 24 h, one of them deleted
        assert_overview_matches(o, "7d", "pending rows")
        assert_top_models_match(o, "7d", "pending rows")
        assert holder.poll() is None and llm_folded(o) == 0, \
            "the fold's lock was released before the answers were checked: they may not have read pending rows"
    finally:
        holder.wait(timeout=20)
    assert holder.returncode == 0, holder.stderr.read()

    def folded():
        assert llm_pending(o) == 0, f"{llm_pending(o)} pending LLM aggregate rows were not folded"
    eventually(folded, timeout=5.0)
    assert llm_folded(o) > 0, "the fold moved nothing into ops.llm_rollup"
    assert_llm_rollup_matches(o, "the fold")
    assert_overview_matches(o, "24h", "the fold")
    assert_top_models_match(o, "7d", "the fold")
