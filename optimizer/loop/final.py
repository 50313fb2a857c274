"""The final report on test: the only place the test split is read.

Compared on test: the final choice (:func:`~cotclip.optimizer.loop.choice.choose_final`),
the initial proposal (the best of the proposer's round-0 candidates on val), the user's
``--init`` system if given, and the class-name zero-shot baseline; each with a 95% bootstrap
interval, per-class accuracy and a confusion matrix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cotclip.optimizer.loop.result import HeldOutScore
from cotclip.optimizer.loop.runs import VersionRecord
from cotclip.scoring.baselines import name_baseline_scores
from cotclip.scoring.scorer import ImageSet, predict
from cotclip.systems.errors import EncoderError
from cotclip.systems.model import System

__all__ = ["score_on_test", "baseline_on_test", "pick_comparisons", "environment"]


def score_on_test(
    label: str,
    system: System,
    test: ImageSet,
    *,
    temperature: float | None,
    n_resamples: int,
    seed: int,
    version: str | None = None,
) -> HeldOutScore:
    """Test accuracy with CI, per-class accuracy and confusion of one system."""
    truth = np.asarray(test.label_indices(system.classes))
    predicted = np.asarray(predict(system, test, temperature=temperature))
    return HeldOutScore.from_predictions(
        label, list(system.classes), truth, predicted, n_resamples=n_resamples, seed=seed, version=version
    )


def baseline_on_test(
    classes: list[str], test: ImageSet, *, n_resamples: int, seed: int
) -> tuple[HeldOutScore | None, str | None]:
    """The class-name baseline on test, or None and why when the encoder cannot embed its prompts."""
    try:
        scores = name_baseline_scores(classes, test)
    except EncoderError as exc:
        return None, exc.message
    truth = np.asarray(test.label_indices(classes))
    predicted = np.asarray(scores).argmax(axis=1)
    return HeldOutScore.from_predictions(
        "class-name baseline", classes, truth, predicted, n_resamples=n_resamples, seed=seed
    ), None


def pick_comparisons(versions: list[VersionRecord]) -> dict[str, VersionRecord | None]:
    """``best`` (val), ``initial`` (best round-0 proposal on val) and ``user`` (the --init system)."""

    def top(records: list[VersionRecord]) -> VersionRecord | None:
        return max(records, key=lambda v: (v.val_accuracy, -v.number)) if records else None

    return {
        "best": top(versions),
        "initial": top([v for v in versions if v.move == "propose"]),
        "user": top([v for v in versions if v.move == "init"]),
    }


def environment(config_seed: int, encoder_identity: str, data: dict[str, Any]) -> dict[str, Any]:
    """Package versions, Python, platform, encoder identity and seeds (``environment.json``)."""
    import platform
    import sys
    from importlib import metadata

    packages: dict[str, str | None] = {}
    for name in ("cotclip", "numpy", "torch", "transformers", "dspy", "litellm", "optuna", "pydantic", "matplotlib"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
        "encoder_identity": encoder_identity,
        "seeds": {"split": config_seed, "loop": config_seed},
        "data": data,
        "cwd": str(Path.cwd()),
    }
