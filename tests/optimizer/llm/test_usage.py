"""Usage totals, prices from litellm's bundled map, and budgets."""

import pytest

from cotclip.optimizer.llm.usage import Budget, CallUsage, Usage, price_of_call
from cotclip.systems.errors import BudgetExhaustedError, InputError


def test_usage_adds_calls_tokens_dollars_and_latency():
    usage = Usage().add(CallUsage("m", 100, 20, 0.5, 1.5)).add(CallUsage("m", 10, 2, 0.25, 0.5))
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.tokens) == (2, 110, 22, 132)
    assert usage.usd == pytest.approx(0.75) and usage.latency_s == pytest.approx(2.0)
    assert usage.to_dict()["tokens"] == 132


def test_unknown_price_makes_the_total_unknown_but_cached_calls_are_free():
    usage = Usage().add(CallUsage("m", 1, 1, None)).add(CallUsage("m", 5, 5, 9.0, cached=True))
    assert usage.usd is None and usage.calls == 2 and usage.cached_calls == 1 and usage.tokens == 2


def test_prices_come_from_the_local_map_or_are_none():
    assert price_of_call("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)
    assert price_of_call("openai/no-such-model-xyz", 10, 10) is None


def test_budget_limits_calls_tokens_and_dollars():
    spent = Usage(calls=3, prompt_tokens=90, completion_tokens=10, usd=0.02)
    assert Budget().spent_by(spent) is None
    assert "call budget" in Budget(max_calls=3).spent_by(spent)
    assert Budget(max_calls=3).spent_by(Usage(calls=3, cached_calls=1)) is None  # cached calls are free
    assert "token budget" in Budget(max_tokens=100).spent_by(spent)
    assert "dollar budget spent" in Budget(max_usd=0.01).spent_by(spent)
    assert "price is unknown" in Budget(max_usd=1.0).spent_by(Usage(calls=1, usd=None))
    with pytest.raises(BudgetExhaustedError, match="raise the limit"):
        Budget(max_calls=1).check(spent)


def test_negative_budget_is_an_input_error():
    with pytest.raises(InputError, match="max_calls"):
        Budget(max_calls=-1)
