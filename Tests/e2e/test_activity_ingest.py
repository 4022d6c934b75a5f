"""POST /api/ops/ingest: formats, per-record errors, whole-body errors, idempotency, events, NOTIFY.

Every test starts from empty activity tables (`clean`). Events are read from ops.events with
psql; the answers the host app sees are checked as it would see them.
"""

import datetime as dt
import json
import os
import subprocess

import pytest

import helpers
from activity_helpers import (agent, ago, assert_ingest_error, clean, eventually, expect_json,  # noqa: F401
                              finished_run, heartbeat, iso, llm_call, message, now, ops, run, today_at)

ONE_MIB = 1024 * 1024


def good_agent(i=0):
    return agent(f"ag-{i}", f"Agent {i}", owner_email=f"owner{i}@example.com")


# --- formats --------------------------------------------------------------------------------

def test_ndjson_batch_is_accepted_and_blank_lines_are_skipped(clean):
    ops = clean
    lines = [json.dumps(good_agent(1)), "", "   ", json.dumps(message("m-1", "t-1", ago(seconds=30))), ""]
    resp = ops.post("/api/ops/ingest", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    body = expect_json(resp, 200, "NDJSON batch with blank lines")
    assert body == {"accepted": 2, "rejected": 0, "errors": []}, \
        f"two records and three blank lines should give accepted 2, rejected 0, errors []: {body!r}"
    assert ops.count("agents") == 1 and ops.count("messages") == 1, "NDJSON records were not stored"


def test_json_array_batch_is_accepted(clean):
    ops = clean
    body = ops.ingest_ok([good_agent(1), message("m-1", "t-1", ago(seconds=30))], fmt="json")
    assert body["errors"] == [], f"a clean JSON array produced errors: {body!r}"
    assert ops.count("agents") == 1 and ops.count("messages") == 1, "JSON-array records were not stored"


def test_ndjson_line_that_is_not_json_is_invalid_json_and_indexes_skip_blank_lines(clean):
    ops = clean
    text = (json.dumps(good_agent(1)) + "\n\n" + '{"kind": "agent", "agent_id": \n'
            + json.dumps(message("m-1", "t-1", ago(seconds=30))) + "\n")
    body = expect_json(ops.post("/api/ops/ingest", text.encode(), "application/x-ndjson"), 200,
                       "NDJSON with one broken line")
    assert body["accepted"] == 2 and body["rejected"] == 1, f"expected 2 accepted, 1 rejected: {body!r}"
    # The broken line is the 2nd non-blank line: index 1 (the blank line does not count).
    assert_ingest_error(body, 1, "invalid_json", "NDJSON line that is not JSON")
    assert ops.count("agents") == 1 and ops.count("messages") == 1, \
        "the good lines around a broken NDJSON line were not kept"


# --- per-record errors ----------------------------------------------------------------------

def _future(days):
    return iso(now() + dt.timedelta(days=days))


BAD_RECORDS = [
    # (test id, record, expected code)
    ("number-record", 5, "invalid_record"),
    ("string-record", "run", "invalid_record"),
    ("array-record", [1, 2], "invalid_record"),
    ("null-record", None, "invalid_record"),
    ("unknown-kind", {"kind": "deployment", "id": "d-1"}, "unknown_kind"),
    ("agent-missing-name", {"kind": "agent", "agent_id": "ag-x"}, "missing_field"),
    ("agent-missing-id", {"kind": "agent", "name": "No id"}, "missing_field"),
    ("agent-name-number", {"kind": "agent", "agent_id": "ag-x", "name": 123}, "invalid_field"),
    ("agent-id-bool", {"kind": "agent", "agent_id": True, "name": "x"}, "invalid_field"),
    ("agent-id-float", {"kind": "agent", "agent_id": 1.5, "name": "x"}, "invalid_field"),
    ("agent-id-object", {"kind": "agent", "agent_id": {"id": 1}, "name": "x"}, "invalid_field"),
    ("agent-id-201-chars", {"kind": "agent", "agent_id": "a" * 201, "name": "x"}, "invalid_field"),
    ("agent-unknown-field", {"kind": "agent", "agent_id": "ag-x", "name": "x", "colour": "red"},
     "unknown_field"),
    ("agent-schedule-number", {"kind": "agent", "agent_id": "ag-x", "name": "x", "schedule": 5},
     "invalid_field"),
    ("run-bad-status", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x", "status": "done",
                        "created_at": "2026-01-01T00:00:00Z"}, "invalid_field"),
    ("run-missing-status", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                            "created_at": "2026-01-01T00:00:00Z"}, "missing_field"),
    ("run-missing-created_at", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                                "status": "queued"}, "missing_field"),
    ("run-missing-agent_id", {"kind": "run", "run_id": "r-x", "status": "queued",
                              "created_at": "2026-01-01T00:00:00Z"}, "missing_field"),
    ("run-timestamp-without-offset", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                                      "status": "queued", "created_at": "2026-01-01T03:01:00"},
     "invalid_timestamp"),
    ("run-timestamp-garbage", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                               "status": "queued", "created_at": "yesterday"}, "invalid_timestamp"),
    ("run-timestamp-date-only", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                                 "status": "queued", "created_at": "2026-01-01"}, "invalid_timestamp"),
    ("run-duration-string", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x", "status": "success",
                             "created_at": "2026-01-01T00:00:00Z", "duration_ms": "fast"},
     "invalid_field"),
    ("run-negative-duration", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x", "status": "success",
                               "created_at": "2026-01-01T00:00:00Z", "duration_ms": -1}, "out_of_range"),
    ("run-negative-prompt-tokens", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                                    "status": "success", "created_at": "2026-01-01T00:00:00Z",
                                    "prompt_tokens": -10}, "out_of_range"),
    ("run-negative-completion-tokens", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x",
                                        "status": "success", "created_at": "2026-01-01T00:00:00Z",
                                        "completion_tokens": -1}, "out_of_range"),
    ("run-negative-cost", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x", "status": "success",
                           "created_at": "2026-01-01T00:00:00Z", "cost_usd": -0.01}, "out_of_range"),
    ("run-cost-string", {"kind": "run", "run_id": "r-x", "agent_id": "ag-x", "status": "success",
                         "created_at": "2026-01-01T00:00:00Z", "cost_usd": "0.10"}, "invalid_field"),
    ("message-missing-thread", {"kind": "message", "message_id": "m-x",
                                "created_at": "2026-01-01T00:00:00Z"}, "missing_field"),
    ("llm-missing-provider", {"kind": "llm_call", "id": "c-x", "ts": "2026-01-01T00:00:00Z",
                              "model": "m"}, "missing_field"),
    ("llm-negative-latency", {"kind": "llm_call", "id": "c-x", "ts": "2026-01-01T00:00:00Z",
                              "provider": "p", "model": "m", "latency_ms": -3}, "out_of_range"),
    ("heartbeat-bad-type", {"kind": "heartbeat", "component": "db", "component_type": "database",
                            "status": "ok", "ts": "2026-01-01T00:00:00Z"}, "invalid_field"),
    ("heartbeat-metrics-not-object", {"kind": "heartbeat", "component": "q", "component_type": "queue",
                                      "status": "ok", "ts": "2026-01-01T00:00:00Z", "metrics": "full"},
     "invalid_field"),
    ("heartbeat-missing-ts", {"kind": "heartbeat", "component": "q", "component_type": "queue",
                              "status": "ok"}, "missing_field"),
]


@pytest.mark.parametrize("record,code", [(r, c) for _, r, c in BAD_RECORDS],
                         ids=[i for i, _, _ in BAD_RECORDS])
def test_bad_record_gets_its_error_code_and_the_good_one_beside_it_is_kept(clean, record, code):
    ops = clean
    for fmt in ("json", "ndjson"):
        ops.truncate()
        resp = ops.ingest([good_agent(1), record], fmt=fmt)
        body = expect_json(resp, 200, f"{fmt} batch [good agent, {record!r}]")
        assert body["accepted"] == 1 and body["rejected"] == 1, \
            f"{fmt}: [good agent, {record!r}] should give accepted 1, rejected 1: {body!r}"
        assert_ingest_error(body, 1, code, f"{fmt} record {record!r}")
        assert ops.count("agents") == 1, f"{fmt}: the good agent beside {record!r} was not kept"


@pytest.mark.parametrize("kind_record", [
    lambda t: run("r-f", "ag-1", "queued", t),
    lambda t: message("m-f", "t-1", t),
    lambda t: llm_call("c-f", t, "openai", "gpt-x"),
    lambda t: heartbeat("worker-1", "worker", "ok", t),
], ids=["run", "message", "llm_call", "heartbeat"])
def test_timestamp_more_than_a_day_in_the_future_is_out_of_range(clean, kind_record):
    body = expect_json(clean.ingest([kind_record(now() + dt.timedelta(days=2))]), 200,
                       "record dated two days ahead")
    assert body["accepted"] == 0 and body["rejected"] == 1, f"a record two days ahead was accepted: {body!r}"
    assert_ingest_error(body, 0, "out_of_range", "timestamp two days in the future")


def test_timestamp_an_hour_ahead_is_accepted(clean):
    # Clock skew between the host app and Opsplane is normal: only > 1 day ahead is refused.
    clean.ingest_ok([message("m-soon", "t-1", now() + dt.timedelta(hours=1))])


def test_timestamp_with_numeric_offset_is_accepted(clean):
    clean.ingest_ok([message("m-off", "t-1", iso(ago(minutes=5), offset=dt.timedelta(hours=2)))])


def test_id_of_200_characters_is_accepted(clean):
    ops = clean
    long_id = "a" * 200
    ops.ingest_ok([agent(long_id, "Long id"), run("r-1", long_id, "running", ago(seconds=30),
                                                  started_at=ago(seconds=30))])
    top = eventually(lambda: _top_today(ops, 1))
    assert top[0]["agent_id"] == long_id, f"a 200-character agent_id came back as {top[0]['agent_id']!r}"


def test_empty_id_is_refused(clean):
    body = expect_json(clean.ingest([agent("", "Empty id")]), 200, "agent with an empty id")
    assert body["accepted"] == 0 and body["rejected"] == 1, f"an empty agent_id was accepted: {body!r}"
    errs = body["errors"]
    assert errs and errs[0]["index"] == 0 and errs[0]["code"] in ("invalid_field", "missing_field"), \
        f"an empty agent_id should be invalid_field (ids are 1..200 chars): {body!r}"


def _top_today(ops, n):
    s = ops.summary()
    assert len(s["top_agents_today"]) == n, f"top_agents_today: {s['top_agents_today']!r}"
    return s["top_agents_today"]


def test_integer_ids_are_kept_as_decimal_strings(clean):
    ops = clean
    t = ago(seconds=40)
    ops.ingest_ok([agent(42, "Answer"), run(31337, 42, "running", t, started_at=t, user_id=7)])
    top = eventually(lambda: _top_today(ops, 1))
    assert top[0]["agent_id"] == "42", f"agent_id 42 came back as {top[0]['agent_id']!r}, not '42'"
    users = ops.top("users", "today")
    assert [u["user_id"] for u in users] == ["7"], f"user_id 7 should come back as '7': {users!r}"
    # The same run sent with a string id is the same record: no second run, no new event.
    before = ops.max_event_id()
    ops.ingest_ok([run("31337", "42", "running", t, started_at=t, user_id="7")])
    assert ops.event_types_since(before) == [], "run '31337' was treated as a new run after run 31337"
    assert ops.count("runs") == 1, "run 31337 and run '31337' are stored as two runs"


def test_hostile_strings_round_trip_exactly(clean):
    ops = clean
    name = "<script>alert(1)</script>'; DROP TABLE ops.runs;--"
    email = "zoë+\"quoted\"\\back\\slash\n🚀@exämple.com"
    t = ago(seconds=30)
    ops.ingest_ok([agent("ag-evil", name, owner_email=email),
                   run("r-evil", "ag-evil", "running", t, started_at=t)])
    top = eventually(lambda: _top_today(ops, 1))
    assert top[0]["name"] == name, f"agent name did not round-trip: sent {name!r}, got {top[0]['name']!r}"
    assert top[0]["owner_email"] == email, \
        f"owner_email did not round-trip: sent {email!r}, got {top[0]['owner_email']!r}"
    assert ops.count("runs") == 1, "ops.runs lost its row after the hostile agent name"


def test_huge_string_is_stored_exactly_or_refused_per_record(clean):
    ops = clean
    name = "N" * 20000
    t = ago(seconds=30)
    resp = ops.ingest([agent("ag-huge", name), agent("ag-ok", "fine"),
                       run("r-1", "ag-huge", "running", t, started_at=t)])
    body = expect_json(resp, 200, "agent with a 20,000-character name")
    if body["rejected"]:
        assert_ingest_error(body, 0, "invalid_field", "20,000-character name")
        assert body["accepted"] == 2, f"the good records beside the huge name were refused: {body!r}"
    else:
        top = eventually(lambda: _top_today(ops, 1))
        assert top[0]["name"] == name, "a 20,000-character name was accepted but not stored exactly"


# --- mixed batches and whole-body errors ----------------------------------------------------

def test_mixed_batch_keeps_good_records_and_reports_each_bad_one(clean):
    ops = clean
    t0, t1 = ago(seconds=90), ago(seconds=30)
    batch = [
        agent("ag-1", "Good agent"),                                     # 0 ok
        {"kind": "agent", "agent_id": "ag-2"},                           # 1 missing name
        finished_run("r-1", "ag-1", t0, t1, cost_usd=0.25, user_id="u-1"),  # 2 ok
        {"kind": "gremlin"},                                             # 3 unknown kind
        message("m-1", "t-1", t1, user_id="u-2"),                        # 4 ok
        run("r-2", "ag-1", "success", "2026-11-22 03:01:00"),            # 5 no offset
    ]
    for fmt in ("json", "ndjson"):
        ops.truncate()
        body = expect_json(ops.ingest(batch, fmt=fmt), 200, f"mixed {fmt} batch")
        assert body["accepted"] == 3 and body["rejected"] == 3, f"{fmt}: expected 3 accepted, 3 rejected: {body!r}"
        assert sorted(e["index"] for e in body["errors"]) == [1, 3, 5], \
            f"{fmt}: errors should be for records 1, 3 and 5: {body!r}"
        assert_ingest_error(body, 1, "missing_field", fmt)
        assert_ingest_error(body, 3, "unknown_kind", fmt)
        assert_ingest_error(body, 5, "invalid_timestamp", fmt)
        assert (ops.count("agents"), ops.count("runs"), ops.count("messages")) == (1, 1, 1), \
            f"{fmt}: good records of a mixed batch were not all kept"


@pytest.mark.parametrize("payload", [
    b'[{"kind":"agent","agent_id":"ag-1","name":"x"}, {"kind":',
    b"42",
    b'"just a string"',
    b"true",
    b"hello world",
    b"",
], ids=["cut-off-array", "number", "string", "bool", "garbage", "empty"])
def test_body_that_is_not_a_json_array_is_400_invalid_body_and_stores_nothing(clean, payload):
    ops = clean
    resp = ops.post("/api/ops/ingest", payload, "application/json")
    helpers.assert_error_envelope(resp, 400, "invalid_body")
    assert ops.count("agents") == 0, f"body {payload!r} was refused but stored an agent"


def test_invalid_utf8_is_400_invalid_body_and_stores_nothing(clean):
    ops = clean
    bad = b'{"kind":"agent","agent_id":"ag-2","name":"caf\xc3\x28 \xff"}'
    good = json.dumps(good_agent(1)).encode()
    for ctype, body in (("application/json", b"[" + good + b"," + bad + b"]"),
                        ("application/x-ndjson", good + b"\n" + bad + b"\n")):
        resp = ops.post("/api/ops/ingest", body, ctype)
        helpers.assert_error_envelope(resp, 400, "invalid_body")
        assert ops.count("agents") == 0, f"{ctype} body with invalid UTF-8 was refused but stored records"


def _agents_body(n_bytes):
    """A JSON array of agent records at least n_bytes long."""
    rec = json.dumps(agent("ag-big-%06d", "x" * 900))
    n = n_bytes // (len(rec) + 1) + 1
    return ("[" + ",".join(rec.replace("%06d", f"{i:06d}") for i in range(n)) + "]").encode()


def test_body_over_1_mib_is_413_and_stores_nothing(clean):
    ops = clean
    resp = ops.post("/api/ops/ingest", _agents_body(ONE_MIB + 1024))
    helpers.assert_error_envelope(resp, 413, "body_too_large")
    assert ops.count("agents") == 0, "an oversized body was refused but some of it was stored"


def test_10_mb_batch_is_413_and_what_was_stored_before_is_kept(clean):
    ops = clean
    ops.ingest_ok([agent("ag-big-000001", "Stored before")])
    body = _agents_body(10 * ONE_MIB)
    resp = helpers.raw_request(ops.url, "POST", "/api/ops/ingest", body=body, timeout=60,
                               headers={"Content-Type": "application/json",
                                        "Authorization": f"Bearer {ops.ingest_token}"})
    helpers.assert_error_envelope(resp, 413, "body_too_large")
    assert ops.count("agents") == 1, "a 10 MB batch was refused but changed the stored agents"
    top_name = ops.sql("SELECT name FROM ops.agents;")
    assert top_name == "Stored before", f"the agent stored before a refused 10 MB batch now reads {top_name!r}"


def _messages(n):
    t = iso(ago(seconds=30))
    return [{"kind": "message", "message_id": f"m{i}", "thread_id": "t", "created_at": t} for i in range(n)]


def test_more_than_5000_records_is_413_too_many_records_and_stores_nothing(clean):
    ops = clean
    for fmt in ("json", "ndjson"):
        resp = ops.ingest(_messages(5001), fmt=fmt)
        helpers.assert_error_envelope(resp, 413, "too_many_records")
        assert ops.count("messages") == 0, f"{fmt}: a batch of 5001 records was refused but stored messages"


def test_exactly_5000_records_are_accepted(clean):
    ops = clean
    body = ops.ingest_ok(_messages(5000), fmt="ndjson")
    assert body["accepted"] == 5000, body
    assert ops.count("messages") == 5000, "5000 accepted messages are not all stored"


# --- idempotency, merging and events --------------------------------------------------------

def test_new_agent_publishes_agent_created(clean):
    ops = clean
    before = ops.max_event_id()
    ops.ingest_ok([good_agent(1)])
    assert ops.event_types_since(before) == ["agent_created"], \
        f"a new agent should publish exactly agent_created: {ops.events_since(before)!r}"


def test_changed_agent_publishes_agent_updated_and_shows_the_new_name(clean):
    ops = clean
    t = ago(seconds=20)
    ops.ingest_ok([agent("ag-1", "Old name"), run("r-1", "ag-1", "running", t, started_at=t)])
    before = ops.max_event_id()
    ops.ingest_ok([agent("ag-1", "New name")])
    assert ops.event_types_since(before) == ["agent_updated"], \
        f"renaming an agent should publish exactly agent_updated: {ops.events_since(before)!r}"

    def check():
        s = ops.summary()
        assert s["agents_total"] == 1, f"a renamed agent counts twice: agents_total {s['agents_total']}"
        assert s["top_agents_today"][0]["name"] == "New name", f"top agents still show {s['top_agents_today']!r}"
    eventually(check)


def test_replayed_batch_changes_nothing(clean):
    ops = clean
    t0, t1 = ago(seconds=100), ago(seconds=40)
    batch = [agent("ag-1", "Replay", schedule="*/5 * * * *"),
             finished_run("r-1", "ag-1", t0, t1, cost_usd=0.5, user_id="u-1"),
             message("m-1", "th-1", t1, user_id="u-2"),
             llm_call("c-1", t1, "openai", "gpt-x", prompt_tokens=10, completion_tokens=5, cost_usd=0.01,
                      status="ok")]
    ops.ingest_ok(batch)
    first = eventually(lambda: _summary_with(ops, runs_today=1))
    before = ops.max_event_id()
    resp = ops.ingest(batch)
    body = expect_json(resp, 200, "replayed batch")
    assert body["rejected"] == 0, f"a replayed batch had rejected records: {body!r}"
    assert ops.event_types_since(before) == [], \
        f"replaying identical records published events: {ops.events_since(before)!r}"
    again = ops.summary()
    for key in ("runs_today", "cost_today_usd", "active_users_24h", "agents_total", "agents_scheduled"):
        assert again[key] == first[key], f"replay changed {key}: {first[key]!r} -> {again[key]!r}"
    assert (ops.count("agents"), ops.count("runs"), ops.count("messages"), ops.count("llm_calls")) == (1, 1, 1, 1), \
        "replay stored duplicate rows"


def _summary_with(ops, **expected):
    s = ops.summary()
    for k, v in expected.items():
        assert s[k] == v, f"summary {k} = {s[k]!r}, expected {v!r}"
    return s


def test_run_lifecycle_publishes_run_started_then_run_success(clean):
    ops = clean
    tc, ts, tf = ago(seconds=100), ago(seconds=90), ago(seconds=10)
    before = ops.max_event_id()
    ops.ingest_ok([run("r-1", "ag-1", "queued", tc)])
    assert ops.event_types_since(before) == [], "a queued run published an event"
    ops.ingest_ok([run("r-1", "ag-1", "running", tc, started_at=ts)])
    assert ops.event_types_since(before) == ["run_started"], \
        f"queued -> running should add run_started: {ops.events_since(before)!r}"
    ops.ingest_ok([run("r-1", "ag-1", "success", tc, started_at=ts, finished_at=tf, duration_ms=80000)])
    assert ops.event_types_since(before) == ["run_started", "run_success"], \
        f"queued -> running -> success should publish exactly run_started, run_success: {ops.events_since(before)!r}"
    assert ops.count("runs") == 1, "one run arriving three times is stored more than once"


def test_run_update_without_a_status_change_publishes_nothing(clean):
    ops = clean
    t = ago(seconds=60)
    ops.ingest_ok([run("r-1", "ag-1", "running", t, started_at=t)])
    before = ops.max_event_id()
    ops.ingest_ok([run("r-1", "ag-1", "running", t, started_at=t, model="gpt-x", prompt_tokens=10)])
    assert ops.event_types_since(before) == [], \
        f"new fields on a still-running run published events: {ops.events_since(before)!r}"


def test_running_then_failed_publishes_run_started_then_run_failed(clean):
    ops = clean
    t = ago(seconds=60)
    before = ops.max_event_id()
    ops.ingest_ok([run("r-1", "ag-1", "running", t, started_at=t)])
    ops.ingest_ok([run("r-1", "ag-1", "failed", t, finished_at=ago(seconds=1), error="boom")])
    assert ops.event_types_since(before) == ["run_started", "run_failed"], ops.events_since(before)


def test_batch_mixing_new_advancing_and_replayed_runs_stores_and_publishes_each_once(clean):
    # New runs are inserted without being read first; runs already stored go through the
    # merge. One batch holding both kinds must give each run exactly its own event.
    ops = clean
    t = ago(seconds=120).replace(microsecond=0)
    at = lambda s: t + dt.timedelta(seconds=s)  # noqa: E731
    ops.ingest_ok([run("r-old-1", "ag-1", "running", t, started_at=t),
                   run("r-old-2", "ag-1", "running", t, started_at=t),
                   finished_run("r-old-3", "ag-1", t, at(60), cost_usd=0.25)])
    before = ops.max_event_id()
    ops.ingest_ok([run("r-new-1", "ag-2", "running", t, started_at=t),
                   run("r-old-1", "ag-1", "success", t, finished_at=at(115)),
                   finished_run("r-new-2", "ag-2", t, at(57), status="failed", error="boom"),
                   run("r-old-2", "ag-1", "queued", t),                                   # late, ignored
                   finished_run("r-old-3", "ag-1", t, at(60), cost_usd=0.25)])          # replay
    events = ops.events_since(before)
    assert sorted((e["type"], e["data"]["run_id"]) for e in events) == [
        ("run_failed", "r-new-2"), ("run_started", "r-new-1"), ("run_success", "r-old-1")], events
    rows = ops.sql("SELECT run_id || ':' || status || ':' || coalesce(duration_ms::text, '-') "
                   "FROM ops.runs ORDER BY run_id;").split()
    assert rows == ["r-new-1:running:-", "r-new-2:failed:57000", "r-old-1:success:115000",
                    "r-old-2:running:-", "r-old-3:success:60000"], rows


def test_failed_run_publishes_run_failed(clean):
    ops = clean
    before = ops.max_event_id()
    ops.ingest_ok([finished_run("r-1", "ag-1", ago(seconds=60), ago(seconds=5), status="failed",
                                error="boom")])
    assert ops.event_types_since(before) == ["run_failed"], \
        f"a failed run should publish exactly run_failed: {ops.events_since(before)!r}"


def test_canceled_run_publishes_nothing(clean):
    ops = clean
    before = ops.max_event_id()
    ops.ingest_ok([run("r-1", "ag-1", "queued", ago(seconds=60))])
    ops.ingest_ok([run("r-1", "ag-1", "canceled", ago(seconds=60), finished_at=ago(seconds=5))])
    assert ops.event_types_since(before) == [], \
        f"queued and canceled runs publish nothing: {ops.events_since(before)!r}"


def test_late_running_after_success_is_accepted_and_changes_nothing(clean):
    ops = clean
    tc, ts, tf = ago(seconds=100), ago(seconds=90), ago(seconds=10)
    ops.ingest_ok([run("r-1", "ag-1", "success", tc, started_at=ts, finished_at=tf, duration_ms=80000)])
    before = ops.max_event_id()
    body = ops.ingest_ok([run("r-1", "ag-1", "running", tc, started_at=ts)])
    assert body["errors"] == [], f"a late 'running' should be accepted silently: {body!r}"
    assert ops.event_types_since(before) == [], \
        f"a late 'running' after success published events: {ops.events_since(before)!r}"

    def check():
        o = ops.overview("24h")
        assert o["runs"]["by_state"]["success"] == 1 and o["runs"]["by_state"]["running"] == 0, \
            f"the run moved backwards from success: by_state {o['runs']['by_state']!r}"
    eventually(check)


def test_fields_missing_in_a_later_record_keep_their_stored_values(clean):
    ops = clean
    tc, ts, tf = ago(seconds=100), ago(seconds=90), ago(seconds=30)
    ops.ingest_ok([run("r-1", "ag-1", "queued", tc, user_id="u-keep", model="gpt-x", prompt_tokens=100)])
    ops.ingest_ok([run("r-1", "ag-1", "running", tc, started_at=ts)])
    ops.ingest_ok([run("r-1", "ag-1", "success", tc, finished_at=tf, cost_usd=0.2)])

    def check():
        users = ops.top("users", "today")
        assert users == [{"user_id": "u-keep", "runs": 1, "cost_usd": pytest.approx(0.2)}], \
            f"user_id sent only with 'queued' should stay on the run: top users {users!r}"
        s = ops.summary()
        assert s["runs_today"] == 1, f"started_at sent only with 'running' was lost: runs_today {s['runs_today']}"
    eventually(check)


def test_duration_is_computed_from_started_and_finished_when_absent(clean):
    ops = clean
    ts = today_at(10)
    tf = ts + dt.timedelta(milliseconds=1500)
    ops.ingest_ok([run("r-1", "ag-1", "success", ts, started_at=ts, finished_at=tf)])

    def check():
        lat = ops.summary()["latency_ms"]
        assert lat["p50"] == pytest.approx(1500) and lat["p95"] == pytest.approx(1500), \
            f"a run 1.5 s long sent without duration_ms should have 1500 ms: latency_ms {lat!r}"
    eventually(check)


def test_duration_is_computed_from_started_and_finished_sent_in_different_records(clean):
    ops = clean
    ts = today_at(10)
    tf = ts + dt.timedelta(milliseconds=2500)
    ops.ingest_ok([run("r-1", "ag-1", "running", ts, started_at=ts)])
    ops.ingest_ok([run("r-1", "ag-1", "success", ts, finished_at=tf)])

    def check():
        lat = ops.summary()["latency_ms"]
        assert lat["p50"] == pytest.approx(2500), \
            f"started_at (from 'running') and finished_at (from 'success') give 2500 ms, latency_ms {lat!r}"
    eventually(check)


def test_duplicate_ids_in_one_batch_last_one_wins(clean):
    ops = clean
    t = ago(seconds=30)
    body = ops.ingest_ok([agent("ag-1", "First"), agent("ag-1", "Second"),
                          run("r-1", "ag-1", "running", t, started_at=t)])
    assert body["accepted"] == 3, f"every duplicate counts as accepted: {body!r}"

    def check():
        s = ops.summary()
        assert s["agents_total"] == 1, f"duplicate agent ids in one batch stored twice: {s['agents_total']}"
        assert s["top_agents_today"][0]["name"] == "Second", \
            f"the last record of a duplicated id should win: {s['top_agents_today']!r}"
    eventually(check)


def test_message_publishes_thread_message_created_once(clean):
    ops = clean
    before = ops.max_event_id()
    rec = message("m-1", "th-1", ago(seconds=30), user_id="u-1")
    ops.ingest_ok([rec])
    assert ops.event_types_since(before) == ["thread_message_created"], ops.events_since(before)
    mid = ops.max_event_id()
    ops.ingest_ok([rec])
    assert ops.event_types_since(mid) == [], "a replayed message published another event"


def test_llm_calls_and_heartbeats_are_stored_without_ticker_events(clean):
    ops = clean
    before = ops.max_event_id()
    t = ago(seconds=30)
    ops.ingest_ok([llm_call("c-1", t, "openai", "gpt-x", prompt_tokens=1, completion_tokens=1, status="ok"),
                   heartbeat("queue-main", "queue", "ok", t, metrics={"depth": 1, "processing_rate": 2.0,
                                                                     "failed": 0})])
    assert ops.count("llm_calls") == 1 and ops.count("heartbeats") >= 1, "llm_call/heartbeat not stored"
    events = ops.event_types_since(before)
    allowed = {"run_started", "run_success", "run_failed", "agent_created", "agent_updated",
               "thread_message_created", "budget_denied", "alert_fired", "alert_resolved"}
    assert set(events) <= allowed, f"unknown ticker event types: {events!r}"


def test_events_have_a_timestamp_and_an_object_payload(clean):
    ops = clean
    before = ops.max_event_id()
    ops.ingest_ok([agent("ag-1", "A"), finished_run("r-1", "ag-1", ago(seconds=60), ago(seconds=5))])
    rows = json.loads(ops.sql(
        "SELECT coalesce(json_agg(json_build_object('ts', ts, 'data', data) ORDER BY id), '[]') "
        "FROM ops.events WHERE id > :'since';", since=str(before)))
    assert rows, "no events were stored"
    for row in rows:
        assert row["ts"], f"event without ts: {row!r}"
        assert isinstance(row["data"], dict), f"event data is not a JSON object: {row!r}"


# --- NOTIFY ---------------------------------------------------------------------------------

def test_ingest_that_inserts_events_notifies_ops_events_with_the_max_id(clean):
    ops = clean
    app = f"activity-test-listener-{os.getpid()}"   # tells our session from the ticker's LISTEN
    listener = subprocess.Popen(["psql", ops.db_url, "-X", "-q", "-At"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, PGAPPNAME=app))
    try:
        listener.stdin.write("LISTEN ops_events;\n")
        listener.stdin.flush()
        # Listening once another session sees this backend's last query being LISTEN.
        helpers.wait_until(lambda: ops.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN ops_events%' "
            "AND state = 'idle' AND application_name = :'app';", app=app) != "0", 10,
            what="psql LISTEN ops_events")
        ops.ingest_ok([agent("ag-1", "A"), agent("ag-2", "B")])
        max_id = ops.max_event_id()
        listener.stdin.write("SELECT pg_sleep(0.3);\nSELECT 'end';\n\\q\n")
        listener.stdin.flush()
        out, err = listener.communicate(timeout=20)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(5)
    notes = [line for line in out.splitlines() if "Asynchronous notification" in line]
    assert any('"ops_events"' in n and f'payload "{max_id}"' in n for n in notes), (
        f"no NOTIFY ops_events with payload {max_id} (the newest event id) after an ingest "
        f"that inserted two events; psql saw: {notes!r} {err!r}")


# --- hostile bodies -------------------------------------------------------------------------

def _hostile_bodies():
    t = iso(ago(seconds=30))
    deep = "[" * 5000 + "]" * 5000
    return [
        ("nul-in-string", b'[{"kind":"agent","agent_id":"ag-h","name":"a\\u0000b"}]'),
        ("integer-2^63", ('[{"kind":"run","run_id":"r-h","agent_id":"a","status":"success","created_at":"%s",'
                          '"prompt_tokens":9223372036854775808}]' % t).encode()),
        ("float-1e308-cost", ('[{"kind":"run","run_id":"r-h","agent_id":"a","status":"success","created_at":"%s",'
                              '"cost_usd":1e308}]' % t).encode()),
        ("nesting-5000-deep", ('[{"kind":"heartbeat","component":"q","component_type":"queue","status":"ok",'
                               '"ts":"%s","metrics":{"d":%s}}]' % (t, deep)).encode()),
        ("duplicate-keys", b'[{"kind":"agent","agent_id":"ag-h","name":"a","name":"b"}]'),
        ("utf8-bom", b'\xef\xbb\xbf[{"kind":"agent","agent_id":"ag-h","name":"a"}]'),
        ("impossible-date", ('[{"kind":"run","run_id":"r-h","agent_id":"a","status":"queued",'
                             '"created_at":"2026-02-30T00:00:00Z"}]').encode()),
        ("hour-25", ('[{"kind":"run","run_id":"r-h","agent_id":"a","status":"queued",'
                     '"created_at":"2026-11-22T25:00:00Z"}]').encode()),
    ]


@pytest.mark.parametrize("body", [b for _, b in _hostile_bodies()], ids=[i for i, _ in _hostile_bodies()])
def test_hostile_body_gets_a_4xx_or_a_per_record_error_and_no_worker_dies(clean, workers_unharmed, body):
    ops = clean
    resp = ops.post("/api/ops/ingest", body, "application/json")
    assert resp.status_code in (200, 400, 413), f"hostile body: {helpers.describe(resp)}"
    if resp.status_code == 200:
        answer = resp.json()
        assert answer["rejected"] == 1 and answer["errors"][0]["code"] in {
            "invalid_field", "out_of_range", "invalid_timestamp"}, f"hostile record accepted: {answer!r}"
    else:
        helpers.assert_error_envelope(resp, resp.status_code)
    workers_unharmed.check()


# --- freshness ------------------------------------------------------------------------------

def test_small_data_answers_reflect_every_earlier_ingest_at_once(clean):
    # With a handful of rows nothing is expensive: no answer may be stale, even within 2 s.
    ops = clean
    for i in range(1, 4):
        t = ago(seconds=10 * i)
        ops.ingest_ok([finished_run(f"r-{i}", "ag-1", t, t + dt.timedelta(seconds=1), user_id="u-1",
                                    cost_usd=0.1)])
        s = ops.summary()
        assert s["runs_today"] == i, f"summary right after ingest #{i} shows runs_today {s['runs_today']}"
        top = ops.top("agents", "today")
        assert top and top[0]["runs"] == i, f"top agents right after ingest #{i}: {top!r}"
        b = expect_json(ops.budget_check("u-1"), 200, "budget check")
        assert b["global"]["used_usd"] == pytest.approx(0.1 * i), \
            f"budget check right after ingest #{i} shows global used_usd {b['global']['used_usd']}"
