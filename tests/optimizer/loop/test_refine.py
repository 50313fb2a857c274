"""The refine move's fast what-if scoring agrees with recomputing the whole score matrix."""

from __future__ import annotations

import numpy as np

from cotclip.optimizer.loop.refine import _Scoreboard


def brute_force(scores: np.ndarray, truth: np.ndarray, class_index: int, column: np.ndarray) -> int:
    trial = scores.copy()
    trial[:, class_index] = column
    others = trial.copy()
    others[np.arange(len(truth)), truth] = -np.inf
    return int(np.count_nonzero(trial[np.arange(len(truth)), truth] > others.max(axis=1)))


def test_what_if_counts_match_brute_force_before_and_after_commits():
    rng = np.random.default_rng(3)
    n, classes, options = 200, 7, 5
    truth = rng.integers(classes, size=n)
    scores = rng.random((n, classes))
    board = _Scoreboard(scores, truth)
    contribution = rng.random((n, options))
    for step in range(12):
        class_index = int(rng.integers(classes))
        base = board.scores[:, class_index] - rng.random(n) * 0.5
        correct, _ = board.correct_with(class_index, base, contribution, contribution.max(axis=1))
        expected = [brute_force(board.scores, truth, class_index, base + contribution[:, k]) for k in range(options)]
        assert correct.tolist() == expected
        assert board.correct_count() == brute_force(board.scores, truth, class_index, board.scores[:, class_index])
        board.set_column(class_index, base + contribution[:, step % options])
