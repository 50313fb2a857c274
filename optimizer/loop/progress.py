"""``progress.json``: what a run has done so far, so that a resumed session continues it exactly.

It records finished rounds, the (parent, move) pairs already expanded, spent budgets,
LLM use over all sessions, the proposer's state and the current round's plan (see
:mod:`cotclip.optimizer.loop.loop`). This module holds its layout and the arithmetic
that carries LLM use from one session to the next.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from cotclip.optimizer.llm.usage import Usage

__all__ = ["PROGRESS", "Resumable", "fresh_progress", "llm_use_over_sessions"]

PROGRESS = "progress.json"


def fresh_progress() -> dict[str, Any]:
    """The progress of a run that has done nothing yet."""
    return {
        "rounds_done": -1,
        "round_bests": [],
        "expanded": [],
        "search_evaluations": 0,
        "wall_s": 0.0,
        "llm": {
            "calls": 0,
            "cached_calls": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "usd": 0.0,
            "latency_s": 0.0,
        },
        "sessions": 0,
        "stopped_because": None,
        "rejected": [],
        "plan": None,
        "proposer_state": None,
    }


@runtime_checkable
class Resumable(Protocol):
    """A proposer whose state (what its next answers depend on) is stored with the run, so a resume is exact."""

    def state(self) -> dict[str, Any]:
        """What to store."""
        ...

    def restore_state(self, state: dict[str, Any]) -> None:
        """Continue from a stored :meth:`state`."""
        ...


def llm_use_over_sessions(before: dict[str, Any], now: Usage | None) -> dict[str, Any]:
    """LLM use of earlier sessions (``before``, from ``progress.json``) plus this session's ``now``.

    Dollars become unknown (None) once either side is unknown.
    """
    total = dict(before)
    if now is None:
        return total
    for key in ("calls", "cached_calls", "prompt_tokens", "completion_tokens", "latency_s"):
        total[key] = total.get(key, 0) + getattr(now, key, 0)
    total["usd"] = None if now.usd is None or total.get("usd") is None else total["usd"] + now.usd
    return total
