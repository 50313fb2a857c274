"""When the loop stops: convergence on val, or a budget spent.

``stopped_because`` is one of ``converged`` (no val gain >= ``min_delta`` for
``patience`` rounds, and the budget left no longer buys a likely gain: see
:meth:`Convergence.converged`), ``max_evaluations``, ``max_llm_calls``, ``max_usd``,
``max_wall_s`` (that budget is spent), ``exhausted`` (no move produced a new candidate) or
``llm_unavailable`` (the LLM endpoint failed every attempt of a call).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Budgets",
    "Spent",
    "Convergence",
    "budget_spent",
    "paid_llm_calls",
    "stale_rounds",
    "expected_gain",
    "STOP_REASONS",
]

STOP_REASONS = {
    "converged": "no val gain >= min_delta for `patience` rounds, and the recent gain per evaluation "
    "times the evaluations left promised less than min_delta",
    "max_evaluations": "the evaluation budget is spent",
    "max_llm_calls": "the LLM call budget is spent",
    "max_usd": "the dollar budget is spent",
    "max_wall_s": "the wall-time budget is spent",
    "exhausted": "no move produced a new candidate",
    "llm_unavailable": "the LLM endpoint failed every attempt (see proposer_log.jsonl)",
}


@dataclass(frozen=True)
class Budgets:
    """Upper limits; None = unlimited."""

    max_evaluations: int | None = None
    max_llm_calls: int | None = None
    max_usd: float | None = None
    max_wall_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)

    def evaluations_left(self, spent: Spent) -> int | None:
        """Evaluations still allowed (None = unlimited)."""
        return None if self.max_evaluations is None else max(0, self.max_evaluations - spent.evaluations)


def paid_llm_calls(llm_usage: dict[str, Any]) -> int:
    """LLM calls that count against ``max_llm_calls``: answers from the response cache are free.

    The proposer's own :class:`~cotclip.optimizer.llm.usage.Budget` counts the same way, so a
    resumed run that replays cached answers is not stopped for calls it never paid for.
    Usage saved before cached calls were recorded has no ``cached_calls``: all its calls count.
    """
    return int(llm_usage.get("calls", 0)) - int(llm_usage.get("cached_calls", 0))


@dataclass(frozen=True)
class Spent:
    """What the run has used so far (over all sessions of a resumed run)."""

    evaluations: int = 0
    llm_calls: int = 0  # paid calls: answers from the response cache are free, as in llm.usage.Budget
    usd: float = 0.0
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class Convergence:
    """Stop when the best val accuracy has stalled and the budget left no longer buys a likely gain.

    Stalled: no round improved the best by ``min_delta`` for ``patience`` rounds. When the
    evaluations per round and the evaluations left are known, a stalled run still goes on
    while :func:`expected_gain` (the recent gain per evaluation times the evaluations
    left) is at least ``min_delta``: budget is not left unused while it can still buy a
    gain at the rate the run has been finding them.
    """

    min_delta: float = 0.005
    patience: int = 3

    def converged(
        self, round_bests: list[float], evaluations: list[int] | None = None, evaluations_left: int | None = None
    ) -> bool:
        """Whether to stop; ``evaluations[i]`` = evaluations spent by the end of round ``i``."""
        if stale_rounds(round_bests, self.min_delta) < self.patience:
            return False
        if evaluations is None or evaluations_left is None:
            return True
        return expected_gain(round_bests, evaluations, evaluations_left) < self.min_delta


def expected_gain(round_bests: list[float], evaluations: list[int], evaluations_left: int) -> float:
    """Val gain the budget left would buy at the rate of the later half of the run so far.

    The rate is the best's gain since the last round that ended within the first half of
    the evaluations spent, divided by the evaluations spent since that round.
    """
    if not round_bests or len(evaluations) != len(round_bests):
        return 0.0
    half = evaluations[-1] / 2
    reference = max((i for i, spent in enumerate(evaluations) if spent <= half), default=0)
    spent_since = evaluations[-1] - evaluations[reference]
    if spent_since <= 0:
        return 0.0
    return (round_bests[-1] - round_bests[reference]) / spent_since * evaluations_left


def stale_rounds(round_bests: list[float], min_delta: float) -> int:
    """Trailing rounds without a gain >= ``min_delta`` over the last counted improvement.

    Small gains accumulate: the reference moves only when a round clears ``min_delta``.
    """
    if not round_bests:
        return 0
    reference, stale = round_bests[0], 0
    for best in round_bests[1:]:
        if best >= reference + min_delta:
            reference, stale = best, 0
        else:
            stale += 1
    return stale


def budget_spent(budgets: Budgets, spent: Spent) -> str | None:
    """The first budget that is spent (its ``STOP_REASONS`` key), or None."""
    limits = (
        ("max_evaluations", budgets.max_evaluations, spent.evaluations),
        ("max_llm_calls", budgets.max_llm_calls, spent.llm_calls),
        ("max_usd", budgets.max_usd, spent.usd),
        ("max_wall_s", budgets.max_wall_s, spent.wall_s),
    )
    for reason, limit, used in limits:
        if limit is not None and used >= limit:
            return reason
    return None
