"""When the loop stops: convergence on val, or a budget spent.

``stopped_because`` is one of ``converged`` (no val gain >= ``min_delta`` for
``patience`` rounds), ``max_evaluations``, ``max_llm_calls``, ``max_usd``,
``max_wall_s`` (that budget is spent), ``exhausted`` (no move produced a new candidate) or
``llm_unavailable`` (the LLM endpoint failed every attempt of a call).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Budgets", "Spent", "Convergence", "budget_spent", "paid_llm_calls", "stale_rounds", "STOP_REASONS"]

STOP_REASONS = {
    "converged": "no val gain >= min_delta for `patience` rounds",
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

    def evaluations_left(self, spent: "Spent") -> int | None:
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
    """Stop when no round improves the best val accuracy by ``min_delta`` for ``patience`` rounds."""

    min_delta: float = 0.005
    patience: int = 3

    def converged(self, round_bests: list[float]) -> bool:
        """Whether the best-so-far history (one value per finished round) has stalled."""
        return stale_rounds(round_bests, self.min_delta) >= self.patience


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
