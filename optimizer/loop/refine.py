"""``refine_rules``: coordinate ascent on the rules, maximising train accuracy.

Rule fitting (``fit_rules``) looks at one class at a time; it cannot see that two
classes end up with the same answers. Refinement scores the whole system: it tries,
for every unlocked (class, group), every option of the group, and keeps the change
that wins the most train images (ties broken by the class's mean score margin). A
change touches one column of the ``[N, C]`` class-score matrix, so each try costs
O(N) with the top-two competitor scores of every image precomputed.
"""

from __future__ import annotations

import numpy as np

from cotclip.optimizer.loop._base import MoveContext, MoveResult
from cotclip.scoring.scorer import class_scores, group_probabilities
from cotclip.systems.model import System

__all__ = ["RefineRulesMove"]

_LOG_FLOOR = np.log(1e-12)


def _contributions(system: System, probabilities: list[np.ndarray]) -> list[np.ndarray]:
    """Each group's additive contribution ``[N, k_g]`` to a class score, per option."""
    logs = system.scoring.aggregation == "log_prob_sum"
    return [
        group.weight * (np.maximum(np.log(np.maximum(p, 1e-30)), _LOG_FLOOR) if logs else p)
        for group, p in zip(system.groups, probabilities)
    ]


class _Scoreboard:
    """Class scores of the train images with fast what-if updates of one class column."""

    def __init__(self, scores: np.ndarray, truth: np.ndarray) -> None:
        self.scores = scores.astype(np.float64)
        self.truth = truth
        self.rows = np.arange(len(truth))
        self.own = self.scores[self.rows, self.truth]
        self.top_index = np.zeros(len(truth), dtype=np.intp)
        self.second_index = np.zeros(len(truth), dtype=np.intp)
        self._refresh(self.rows)

    def _refresh(self, rows: np.ndarray) -> None:
        """Recompute the two best competitor classes (not the true one) of ``rows``."""
        others = self.scores[rows].copy()
        others[np.arange(len(rows)), self.truth[rows]] = -np.inf
        if others.shape[1] > 2:
            top_two = np.argpartition(-others, 1, axis=1)[:, :2]
        else:
            top_two = np.tile(np.arange(others.shape[1]), (len(rows), 1))[:, :2]
        values = np.take_along_axis(others, top_two, axis=1)
        swap = values[:, 1] > values[:, 0]
        top_two[swap] = top_two[swap][:, ::-1]
        self.top_index[rows] = top_two[:, 0]
        self.second_index[rows] = top_two[:, 1] if others.shape[1] > 1 else top_two[:, 0]
        self.top = self.scores[self.rows, self.top_index]
        self.second = (
            self.scores[self.rows, self.second_index] if self.scores.shape[1] > 1 else np.full(len(self.rows), -np.inf)
        )

    def correct_count(self) -> int:
        """Images classified correctly by the current scores (strictly above every competitor)."""
        return int(np.count_nonzero(self.own > self.top))

    def correct_with(
        self, class_index: int, base: np.ndarray, contribution: np.ndarray, best_gain: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct images and class margin when column ``class_index`` becomes ``base + contribution[:, k]``.

        Only images whose outcome can change are scored: the class's own images, images
        whose strongest competitor is this class, and images the new column could overtake
        (``base + best_gain >= own``); every other image keeps its current outcome.
        """
        mine = self.truth == class_index
        could = mine | (self.top_index == class_index) | (base + best_gain >= self.own)
        fixed = int(np.count_nonzero((self.own > self.top)[~could]))
        rows = np.flatnonzero(could)
        columns = base[rows, None] + contribution[rows]
        rows_mine = mine[rows]
        rival = np.where(self.top_index[rows] == class_index, self.second[rows], self.top[rows])[:, None]
        correct_other = self.own[rows, None] > np.maximum(rival, columns)
        correct_mine = columns > self.top[rows, None]
        correct = np.where(rows_mine[:, None], correct_mine, correct_other).sum(axis=0) + fixed
        if rows_mine.any():
            margin = (columns[rows_mine] - self.top[rows[rows_mine], None]).mean(axis=0)
        else:
            margin = np.zeros(contribution.shape[1])
        return correct, margin

    def set_column(self, class_index: int, column: np.ndarray) -> None:
        """Commit a change; only images whose top-two competitors may change are recomputed."""
        self.scores[:, class_index] = column
        self.own = self.scores[self.rows, self.truth]
        touched = (self.top_index == class_index) | (self.second_index == class_index) | (column > self.second)
        touched &= self.truth != class_index
        self._refresh(self.rows[touched])


class RefineRulesMove:
    """Greedy coordinate ascent of the unlocked rules on train accuracy.

    A change must win at least ``min_gain`` train images (small train sets overfit
    otherwise); at most ``sweeps`` passes over all (class, group) pairs.
    """

    name = "refine_rules"

    def __init__(self, *, sweeps: int = 3, min_gain: int = 2, temperature: float | None = None) -> None:
        self.sweeps = sweeps
        self.min_gain = min_gain
        self.temperature = temperature

    def _sweep(
        self, parent: System, board: _Scoreboard, contributions: list[np.ndarray], rules: dict, changes: list
    ) -> bool:
        changed = False
        best_gains = [contribution.max(axis=1) for contribution in contributions]
        for class_index, class_name in enumerate(parent.classes):
            for group, contribution, best_gain in zip(parent.groups, contributions, best_gains):
                if parent.locks.rule_locked(class_name, group.name):
                    continue
                current = rules[class_name][group.name]
                base = board.scores[:, class_index] - (contribution[:, current] if current is not None else 0.0)
                correct, margin = board.correct_with(class_index, base, contribution, best_gain)
                now = board.correct_count()
                best = int(np.lexsort((margin, correct))[-1])
                if best != current and correct[best] >= now + self.min_gain:
                    rules[class_name][group.name] = best
                    board.set_column(class_index, base + contribution[:, best])
                    changes.append([class_name, group.name, current, best, int(correct[best] - now)])
                    changed = True
        return changed

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """One candidate with the refined rules (none when no change wins a train image)."""
        truth = np.asarray(context.train.label_indices(parent.classes))
        board = _Scoreboard(class_scores(parent, context.train, temperature=self.temperature), truth)
        contributions = _contributions(parent, group_probabilities(parent, context.train, temperature=self.temperature))
        rules = {c: {g.name: parent.rule(c, g.name) for g in parent.groups} for c in parent.classes}
        changes: list[list] = []
        for _ in range(self.sweeps):
            if not self._sweep(parent, board, contributions, rules, changes):
                break
        if not changes:
            return MoveResult(candidates=[], details={"changed_rules": 0})
        return MoveResult(
            candidates=[parent.evolve(rules=rules)], details={"changed_rules": len(changes), "changes": changes}
        )
