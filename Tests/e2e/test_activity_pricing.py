"""LLM calls without a cost get one from the effective-dated ops.pricing table.

cost = (prompt_tokens·usd_per_m_prompt + completion_tokens·usd_per_m_completion) / 1e6 with the
price row of the call's provider+model that has the latest valid_from <= ts; no such row ->
the cost stays null (unknown, never 0). Costs are read back through /api/ops/top?kind=models
(window 7d, so that calls an hour or two ago are in it whatever the time of day).
"""

import pytest

from activity_helpers import ago, clean, eventually, llm_call, ops  # noqa: F401


def model_cost(ops, provider, model, calls, expected):
    def check():
        rows = [m for m in ops.top("models", "7d", 100) if (m["provider"], m["model"]) == (provider, model)]
        assert len(rows) == 1 and rows[0]["calls"] == calls, \
            f"{provider}/{model}: expected one row with {calls} call(s): {rows!r}"
        got = rows[0]["cost_usd"]
        if expected is None:
            assert got is None, f"{provider}/{model}: cost should stay null (unknown), got {got!r}"
        else:
            assert got is not None and got == pytest.approx(expected, rel=1e-9, abs=1e-12), \
                f"{provider}/{model}: cost should be {expected}, got {got!r}"
    eventually(check)


def test_priced_model_gets_its_cost_filled(clean):
    ops = clean
    ops.add_price("openai", "gpt-priced", ago(days=10), prompt=2.0, completion=8.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-priced", prompt_tokens=1000,
                            completion_tokens=500, cost_usd=None, status="ok")])
    model_cost(ops, "openai", "gpt-priced", 1, (1000 * 2.0 + 500 * 8.0) / 1e6)


def test_call_without_a_cost_field_is_priced_too(clean):
    ops = clean
    ops.add_price("openai", "gpt-priced", ago(days=10), prompt=3.0, completion=6.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-priced", prompt_tokens=2000,
                            completion_tokens=1000, status="ok")])
    model_cost(ops, "openai", "gpt-priced", 1, (2000 * 3.0 + 1000 * 6.0) / 1e6)


def test_the_price_in_force_at_the_call_time_applies(clean):
    ops = clean
    ops.add_price("openai", "gpt-dated", ago(days=10), prompt=1.0, completion=2.0)
    ops.add_price("openai", "gpt-dated", ago(hours=2), prompt=10.0, completion=20.0)
    ops.ingest_ok([
        llm_call("c-before", ago(hours=3), "openai", "gpt-dated", prompt_tokens=1000, completion_tokens=1000,
                 cost_usd=None, status="ok"),
        llm_call("c-after", ago(hours=1), "openai", "gpt-dated", prompt_tokens=1000, completion_tokens=1000,
                 cost_usd=None, status="ok"),
    ])
    # 0.003 at the old price + 0.03 at the new one (both at the new price: 0.06; both old: 0.006).
    model_cost(ops, "openai", "gpt-dated", 2, 0.003 + 0.03)


def test_a_later_price_change_does_not_reprice_earlier_calls(clean):
    ops = clean
    ops.add_price("openai", "gpt-change", ago(days=10), prompt=1.0, completion=2.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-change", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=None, status="ok")])
    model_cost(ops, "openai", "gpt-change", 1, 0.003)
    ops.add_price("openai", "gpt-change", ago(minutes=30), prompt=100.0, completion=200.0)
    model_cost(ops, "openai", "gpt-change", 1, 0.003)


def test_unpriced_model_keeps_a_null_cost(clean):
    ops = clean
    ops.add_price("openai", "gpt-other", ago(days=10), prompt=1.0, completion=1.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-unpriced", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=None, status="ok")])
    model_cost(ops, "openai", "gpt-unpriced", 1, None)


def test_model_priced_only_after_the_call_keeps_a_null_cost(clean):
    ops = clean
    ops.add_price("openai", "gpt-new", ago(minutes=30), prompt=1.0, completion=1.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-new", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=None, status="ok")])
    model_cost(ops, "openai", "gpt-new", 1, None)


def test_price_of_another_provider_does_not_apply(clean):
    ops = clean
    ops.add_price("anthropic", "shared-name", ago(days=10), prompt=1.0, completion=1.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "shared-name", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=None, status="ok")])
    model_cost(ops, "openai", "shared-name", 1, None)


def test_a_cost_sent_by_the_host_app_is_kept(clean):
    ops = clean
    ops.add_price("openai", "gpt-sent", ago(days=10), prompt=1000.0, completion=1000.0)
    ops.ingest_ok([llm_call("c-1", ago(hours=1), "openai", "gpt-sent", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=0.5, status="ok"),
                   llm_call("c-2", ago(hours=1), "openai", "gpt-sent", prompt_tokens=1000,
                            completion_tokens=1000, cost_usd=0.0, status="ok")])
    model_cost(ops, "openai", "gpt-sent", 2, 0.5)
