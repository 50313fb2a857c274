"""Greedy-by-val-accuracy question selection: the empirical baseline for information gain.

Forward selection: starting from the locked groups, add the candidate question whose
sub-system has the highest val accuracy (ties: fewer prompts, then system order),
while the best addition raises val accuracy by more than ``min_delta`` and fits in
the budget. Every candidate costs one val evaluation (``Selection.evaluations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cotclip.optimizer.selection._base import Selection, SelectionStep, candidate_questions, prior_prompts, system_of
from cotclip.scoring.scorer import ImageSet, accuracy
from cotclip.systems.model import System

__all__ = ["ValAccuracySelector"]


@dataclass(frozen=True)
class ValAccuracySelector:
    """Forward selection by val accuracy (see the module docstring)."""

    name: ClassVar[str] = "val-accuracy"
    min_delta: float = 0.0
    prune_options: bool = True
    max_evaluations: int | None = None

    def select(self, system: System, train: ImageSet, val: ImageSet, *, budget: int | None = None) -> Selection:
        """The forward selection within ``budget`` prompts per image (``train`` is not used)."""
        questions = candidate_questions(system, prune_options=self.prune_options)
        locked = set(system.locks.groups) | {g for _, g in system.locks.rules}
        chosen = [q for q in questions if q.name in locked and not q.pruned]
        spent = prior_prompts(system) + sum(q.cost for q in chosen)
        current = accuracy(system_of(system, chosen, self.name), val) if chosen else float("-inf")
        evaluations, steps, stopped = 0, [], "every group is chosen"
        while True:
            names = {q.name for q in chosen}
            fitting = [q for q in questions if q.name not in names and (budget is None or spent + q.cost <= budget)]
            if self.max_evaluations is not None and evaluations + len(fitting) > self.max_evaluations:
                stopped = f"the next step would exceed {self.max_evaluations} val evaluations"
                break
            if not fitting:
                left = any(q.name not in names for q in questions)
                stopped = f"no remaining question fits in the budget of {budget} prompts" if left else stopped
                break
            scored = [
                (accuracy(system_of(system, [*chosen, q], self.name), val), -q.cost, -i, q)
                for i, q in enumerate(fitting)
            ]
            evaluations += len(scored)
            best_accuracy, _, _, best = max(scored, key=lambda item: item[:3])
            if chosen and not best_accuracy > current + self.min_delta:
                stopped = f"no remaining question raises val accuracy by more than {self.min_delta}"
                break
            chosen.append(best)
            spent += best.cost
            current = best_accuracy
            steps.append(SelectionStep(best.label, best_accuracy, spent, {"val_accuracy": best_accuracy}))
        details = {"val_accuracy": current, "evaluations": evaluations, "stopped_because": stopped}
        full = prior_prompts(system) + sum(len(g.options) for g in system.groups)
        return Selection(
            self.name,
            system_of(system, chosen, self.name, details),
            tuple(q.label for q in chosen),
            tuple(steps),
            spent,
            full,
            stopped,
            evaluations,
        )
