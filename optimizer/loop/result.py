"""Frozen results of a run: test scores of the compared systems and the run summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HeldOutScore", "RunSummary", "bootstrap_ci"]


def bootstrap_ci(
    correct: np.ndarray, n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 vector (images resampled with replacement)."""
    correct = np.asarray(correct, dtype=np.float64)
    if correct.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = rng.choice(correct, size=(n_resamples, correct.size), replace=True).mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return (float(low), float(high))


@dataclass(frozen=True)
class HeldOutScore:
    """One system (or baseline) scored on the test split."""

    label: str
    accuracy: float
    ci: tuple[float, float]
    n: int
    per_class: dict[str, float]
    confusion: list[list[int]]
    """``confusion[t][p]`` = test images of class ``classes[t]`` predicted as ``classes[p]``."""
    classes: list[str]
    version: str | None = None

    @classmethod
    def from_predictions(
        cls,
        label: str,
        classes: list[str],
        truth: np.ndarray,
        predicted: np.ndarray,
        *,
        n_resamples: int = 2000,
        seed: int = 0,
        version: str | None = None,
    ) -> HeldOutScore:
        """Accuracy, bootstrap CI, per-class accuracy and confusion from class indices."""
        truth, predicted = np.asarray(truth), np.asarray(predicted)
        correct = truth == predicted
        confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
        np.add.at(confusion, (truth, predicted), 1)
        per_class = {
            name: float(correct[truth == index].mean()) for index, name in enumerate(classes) if (truth == index).any()
        }
        return cls(
            label=label,
            accuracy=float(correct.mean()) if correct.size else 0.0,
            ci=bootstrap_ci(correct, n_resamples, seed),
            n=int(correct.size),
            per_class=per_class,
            confusion=confusion.tolist(),
            classes=list(classes),
            version=version,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "label": self.label,
            "version": self.version,
            "accuracy": self.accuracy,
            "ci": list(self.ci),
            "n": self.n,
            "per_class": dict(self.per_class),
            "classes": list(self.classes),
            "confusion": [list(row) for row in self.confusion],
        }


@dataclass(frozen=True)
class RunSummary:
    """The outcome of ``cotclip optimize`` (``summary.json``)."""

    run_dir: str
    stopped_because: str
    versions: int
    evaluations: int
    best_version: str
    best_val_accuracy: float
    best: HeldOutScore
    baseline: HeldOutScore | None
    baseline_note: str | None
    initial: HeldOutScore | None
    user_system: HeldOutScore | None
    encoder_calls: int
    unique_inputs: int
    llm: dict[str, Any]
    wall_s: float
    loop_overhead_s_per_evaluation: float
    sessions: int
    extra: dict[str, Any] = field(default_factory=dict)
    versus_baseline: dict[str, Any] = field(default_factory=dict)
    """Whether the chosen system beats the class-name baseline on val and test (``note`` says when it does not)."""

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (what ``summary.json`` holds)."""

        def score(item: HeldOutScore | None) -> dict[str, Any] | None:
            return None if item is None else item.to_dict()

        return {
            "run_dir": self.run_dir,
            "stopped_because": self.stopped_because,
            "versions": self.versions,
            "evaluations": self.evaluations,
            "best_version": self.best_version,
            "best_val_accuracy": self.best_val_accuracy,
            "best": score(self.best),
            "baseline": score(self.baseline),
            "baseline_note": self.baseline_note,
            "initial": score(self.initial),
            "user_system": score(self.user_system),
            "encoder_calls": self.encoder_calls,
            "unique_inputs": self.unique_inputs,
            "llm": dict(self.llm),
            "wall_s": self.wall_s,
            "loop_overhead_s_per_evaluation": self.loop_overhead_s_per_evaluation,
            "sessions": self.sessions,
            "versus_baseline": dict(self.versus_baseline),
            "extra": dict(self.extra),
        }

    def to_cli_json(self) -> dict[str, Any]:
        """The short document ``cotclip optimize --json`` prints."""
        return {
            "run_dir": self.run_dir,
            "stopped_because": self.stopped_because,
            "versions": self.versions,
            "best": {
                "version": self.best_version,
                "val_accuracy": self.best_val_accuracy,
                "test_accuracy": self.best.accuracy,
                "test_ci": list(self.best.ci),
            },
            "baseline_test_accuracy": None if self.baseline is None else self.baseline.accuracy,
            "not_better_than_baseline": self.versus_baseline.get("note"),
            "encoder_calls": self.encoder_calls,
            "llm": {
                "calls": self.llm.get("calls", 0),
                "tokens": self.llm.get("prompt_tokens", 0) + self.llm.get("completion_tokens", 0),
                "usd": self.llm.get("usd", 0.0),
            },
        }
