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


def test_a_stalled_run_goes_on_while_the_budget_left_promises_a_gain() -> None:
    from cotclip.optimizer.loop.stopping import Convergence, expected_gain

    bests, spent = [0.5, 0.6, 0.7, 0.7, 0.7], [10, 20, 30, 40, 50]
    # the later half (from round 1, 20 evaluations, to 50) gained 0.1 in 30 evaluations
    assert abs(expected_gain(bests, spent, 150) - 0.5) < 1e-9
    rule = Convergence(0.005, 2)
    assert not rule.converged(bests, spent, 150)  # stalled for 2 rounds, but 150 evaluations promise 0.5
    assert rule.converged(bests, spent, 1)  # one evaluation left promises 0.0033 < min_delta
    assert rule.converged(bests)  # without budget information: stalled = converged
    flat = [0.7] * 6
    assert rule.converged(flat, [10, 20, 30, 40, 50, 60], 1000)  # no gain in the later half: nothing to buy
    assert not Convergence(0.005, 3).converged(bests, spent, 0)  # not stalled for `patience` rounds yet
