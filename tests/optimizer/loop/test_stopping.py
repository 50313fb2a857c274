"""Budget accounting: which LLM calls count against ``max_llm_calls``."""

from __future__ import annotations

from cotclip.optimizer.llm.usage import Budget, CallUsage, Usage
from cotclip.optimizer.loop.stopping import Budgets, Spent, budget_spent, paid_llm_calls


def test_cached_answers_do_not_count_against_the_call_budget() -> None:
    usage = {"calls": 5, "cached_calls": 3, "prompt_tokens": 100}
    assert paid_llm_calls(usage) == 2
    assert budget_spent(Budgets(max_llm_calls=3), Spent(llm_calls=paid_llm_calls(usage))) is None
    assert budget_spent(Budgets(max_llm_calls=2), Spent(llm_calls=paid_llm_calls(usage))) == "max_llm_calls"


def test_usage_saved_without_cached_calls_counts_every_call() -> None:
    assert paid_llm_calls({"calls": 4}) == 4
    assert paid_llm_calls({}) == 0


def test_the_loop_and_the_proposer_budget_count_the_same_calls() -> None:
    usage = Usage()
    for cached in (True, True, False):
        usage = usage.add(CallUsage(model="local", cached=cached))
    as_saved = {"calls": usage.calls, "cached_calls": usage.cached_calls}
    assert paid_llm_calls(as_saved) == 1
    assert Budget(max_calls=1).spent_by(usage) is not None
    assert Budget(max_calls=2).spent_by(usage) is None
