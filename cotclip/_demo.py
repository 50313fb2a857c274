"""``demo``: the offline end-to-end run of ``cotclip demo`` on a synthetic world (a SIMULATION of images).

The world's planted oracle is scored beside the run's own systems, so the result shows the
class-name baseline, the first proposal, the best system and the oracle on one test split.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cotclip._types import need, need_path, need_text
from cotclip.optimizer.loop.result import RunSummary
from cotclip.systems.errors import InputError

__all__ = ["DemoResult", "demo"]

_ORACLE = "oracle (simulation only)"


@dataclass(frozen=True)
class DemoResult:
    """A demo run's :class:`RunSummary` and its world's oracle accuracy on the same test split."""

    summary: RunSummary
    oracle_test_accuracy: float

    def to_dict(self) -> dict[str, Any]:
        """What ``cotclip demo --json`` prints: the run's short summary plus the oracle's test accuracy."""
        return {**self.summary.to_cli_json(), "oracle_test_accuracy": self.oracle_test_accuracy}


def demo(
    world: str = "pokemon-like-xl",
    *,
    lm: str = "local",
    proposer: str = "auto",
    runs_dir: str | os.PathLike[str] = "runs",
    cache_dir: str | os.PathLike[str] | None = None,
    llm_timeout_s: float | None = None,
    llm_retries: int = 2,
    on_version: Callable[[Any, float], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    progress: bool = False,
) -> DemoResult:
    """Optimize a system for the synthetic ``world`` with ``lm`` and score the world's oracle beside it.

    ``lm`` is ``local`` (the default local model), ``local:<name>`` or ``simulated``;
    ``proposer`` is ``staged``, ``oneshot`` or ``auto``; ``llm_timeout_s`` None keeps the
    LLM's default (1800 s for a local one). The run dir is a new folder under ``runs_dir``.
    Raises :class:`InputError` for an unknown proposer mode and :class:`DataError` for an
    unknown world; ``on_version`` and ``on_step`` are as for :func:`cotclip.optimize`.
    """
    need_text(world, "world", "pokemon-like-xl")
    need_text(lm, "lm", "local")
    if proposer not in ("auto", "staged", "oneshot"):
        raise InputError(f"--proposer {proposer!r} is not a proposer mode; use staged, oneshot or auto")
    need(llm_retries, "llm_retries", int, "an int >= 0")
    if llm_timeout_s is not None:
        need(llm_timeout_s, "llm_timeout_s", (int, float), "a number of seconds > 0")
    from cotclip._optimize import optimize
    from cotclip.optimizer.loop.demo import demo_config
    from cotclip.scoring.simulation.world import load_world

    cache = None if cache_dir is None else str(need_path(cache_dir, "cache_dir"))
    config = demo_config(world, lm, proposer, runs_dir=str(need_path(runs_dir, "runs_dir")), cache_dir=cache)
    settings: dict[str, Any] = {"llm_retries": llm_retries}
    if llm_timeout_s is not None:
        settings["llm_timeout_s"] = llm_timeout_s
    oracle = load_world(world).oracle_system()
    summary = optimize(
        config.model_copy(update=settings),
        on_version=on_version,
        progress=progress,
        extra_systems=lambda inputs: {_ORACLE: oracle},
        on_step=on_step,
    )
    return DemoResult(summary, float(summary.extra["other_systems"][0]["accuracy"]))
