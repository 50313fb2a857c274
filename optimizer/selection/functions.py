"""Question selection in the loop's ``SearchFunction`` shape (``cotclip.optimizer.loop._base``)."""

from __future__ import annotations

from cotclip.optimizer.selection.greedy_accuracy import ValAccuracySelector
from cotclip.optimizer.selection.greedy_information import InformationGainSelector
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.model import System

__all__ = ["select_groups"]


def select_groups(
    system: System, train: ImageSet, val: ImageSet, *, seed: int = 0, budget: int | None = None
) -> list[System]:
    """Sub-systems asking fewer questions: information gain on train, and forward selection on val.

    ``budget`` bounds the val evaluations of the forward selection. Systems equal to the
    input are left out, so ``[]`` means every group is worth its prompts.
    """
    selections = [
        InformationGainSelector(seed=seed).select(system, train, val),
        ValAccuracySelector(max_evaluations=budget).select(system, train, val),
    ]
    found: dict[str, System] = {}
    for selection in selections:
        found.setdefault(selection.system.fingerprint(), selection.system)
    found.pop(system.fingerprint(), None)
    return list(found.values())
