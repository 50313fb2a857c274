"""``tune_scoring``: fit the scoring knobs (aggregation, temperature, name prior, group weights) on train.

The knobs are few, so train accuracy chooses them with little overfitting, and every
trial is a gather and a softmax on precomputed similarities
(:class:`~cotclip.optimizer.search.evaluator.KnobEvaluator`): the move spends no val
evaluation besides its candidates. It returns up to two candidates:

1. the best point of a small grid over aggregation x temperature x name-prior weight;
2. that point with the group weights fitted by coordinate ascent over a weight grid
   (weight 0 removes the group), each change winning at least ``min_gain`` train images.

Locked groups keep their weight. The name prior is one of the searched knobs, so a
system whose groups read worse than the class names can lean on the names.
"""

from __future__ import annotations

from dataclasses import replace

from cotclip.optimizer.loop._base import MoveContext, MoveResult
from cotclip.systems.model import System

__all__ = ["TuneScoringMove", "TEMPERATURES", "NAME_PRIOR_WEIGHTS", "GROUP_WEIGHTS"]

TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.3, 1.0)
NAME_PRIOR_WEIGHTS = (0.0, 0.3, 1.0, 3.0)
GROUP_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


class TuneScoringMove:
    """Scoring knobs fitted on train accuracy (see the module docstring)."""

    name = "tune_scoring"

    def __init__(self, *, min_gain: int = 1, sweeps: int = 2) -> None:
        self.min_gain = min_gain
        self.sweeps = sweeps

    @staticmethod
    def _grid(evaluator, start):
        """The grid point with the most correct train images (ties: the parent's own knobs, then grid order)."""
        best, best_score = start, evaluator.evaluate(start).accuracy
        for aggregation in ("prob_sum", "log_prob_sum"):
            for temperature in TEMPERATURES:
                for prior in NAME_PRIOR_WEIGHTS:
                    if prior > 0 and evaluator.name_cosines is None:
                        continue
                    knobs = replace(start, aggregation=aggregation, temperature=temperature, name_prior_weight=prior)
                    score = evaluator.evaluate(knobs).accuracy
                    if score > best_score:
                        best, best_score = knobs, score
        return best

    def _weights(self, evaluator, start, locked: set[str], n_images: int):
        """Coordinate ascent of the group weights; a change must win ``min_gain`` train images."""
        knobs = start
        correct = round(evaluator.evaluate(knobs).accuracy * n_images)
        for _ in range(self.sweeps):
            changed = False
            for group in list(knobs.weights):
                if group in locked:
                    continue
                for weight in GROUP_WEIGHTS:
                    weights = {**knobs.weights, group: weight}
                    if weight == knobs.weights[group] or not any(w > 0 for w in weights.values()):
                        continue
                    trial = replace(knobs, weights=weights)
                    trial_correct = round(evaluator.evaluate(trial).accuracy * n_images)
                    if trial_correct >= correct + self.min_gain:
                        knobs, correct, changed = trial, trial_correct, True
            if not changed:
                break
        return knobs

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """The grid's best knobs, and those knobs with fitted group weights (parent-equal candidates dropped)."""
        from cotclip.optimizer.search import Knobs
        from cotclip.optimizer.search.evaluator import KnobEvaluator

        evaluator = KnobEvaluator(parent, context.train)
        start = Knobs.of(parent)
        grid = self._grid(evaluator, start)
        weighted = self._weights(evaluator, grid, set(parent.locks.groups), len(context.train))
        candidates, seen = [], {parent.fingerprint()}
        for knobs in (grid, weighted):
            system = evaluator.to_system(knobs, method="tune-scoring")
            system = system.evolve(provenance=parent.provenance, locks=parent.locks)
            if system.fingerprint() not in seen:
                seen.add(system.fingerprint())
                candidates.append(system)
        details = {
            "grid": {k: v for k, v in grid.to_dict().items() if k != "templates"},
            "weights": dict(weighted.weights),
        }
        return MoveResult(candidates=candidates, details=details)
