"""Knob search in the loop's ``SearchFunction`` shape (``cotclip.optimizer.loop._base``)."""

from __future__ import annotations

from cotclip.optimizer.search.optuna_search import knob_search
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.model import System

__all__ = ["search_knobs", "DEFAULT_TRIALS"]

DEFAULT_TRIALS = 100


def search_knobs(
    system: System, train: ImageSet, val: ImageSet, *, seed: int = 0, budget: int | None = None
) -> list[System]:
    """The most accurate knob setting on ``val`` within ``budget`` trials (in memory).

    Returns ``[]`` when no trial beat the system as given (nothing worth trying);
    ``train`` is not used (knobs are chosen on the hold-out signal directly).
    """
    result = knob_search(system, val, n_trials=budget or DEFAULT_TRIALS, seed=seed)
    if result.best.trial == 0 or result.best_system.fingerprint() == system.fingerprint():
        return []
    return [result.best_system]
