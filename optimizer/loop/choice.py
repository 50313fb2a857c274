"""Which version the run hands back: the class-name baseline as a candidate, and a final choice that respects val noise.

* :func:`baseline_system` is the class-name zero-shot baseline written as a system (the
  name prior only: one group whose rules are all null, ``name_prior_weight`` 1; a human's
  locked groups and rules are kept, so it is the baseline plus the locks). The loop
  records it in round 0, so the run can always fall back to it and every move can build
  on it; the final report says when the chosen system is not better than it.
* :func:`choose_final` picks the final version. The top version on val is partly chosen
  by val noise (val is small on real tasks). Versions whose val accuracy is not
  distinguishable from the top's by a paired comparison (the top's lead in correct val
  images is at most ``z`` standard errors of the per-image differences) are tied; among
  the tied, the one with the most correct images on train and val pooled wins (more
  images, less noise), then the higher val accuracy, then the earlier version.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cotclip.optimizer.loop.runs import VersionRecord
from cotclip.scoring.scorer import ImageSet, predict
from cotclip.systems.model import System

__all__ = ["BASELINE_MOVE", "baseline_system", "name_only_system", "FinalChoice", "choose_final", "versus_baseline"]

BASELINE_MOVE = "baseline"


def name_only_system(classes: list[str]) -> System:
    """The class-name baseline for a run with no system yet (no proposal, no ``--init``).

    Its one group asks for the class name itself, with every rule null, so only the name
    prior scores: the same predictions as :func:`baseline_system` of any system.
    """
    reference = System.from_data(
        {
            "name": "class-names",
            "classes": list(classes),
            "groups": [{"name": "class_name", "prompt": "a photo of {}", "options": list(classes)}],
            "rules": {c: {"class_name": None} for c in classes},
        }
    )
    return baseline_system(reference)


def baseline_system(reference: System) -> System:
    """The class-name baseline as a system: name prior 1, no rules, except what ``reference`` locks.

    Without locks it asks ``reference``'s first group and gives every class a null rule;
    a human's locked groups and rules are kept exactly (with their locks), so that the
    fallback never drops a human edit.
    """
    locked = [
        g.name
        for g in reference.groups
        if g.name in reference.locks.groups or any(group == g.name for _, group in reference.locks.rules)
    ]
    kept = locked or [reference.groups[0].name]
    groups = []
    for name in kept:
        group = reference.group(name).model_dump(mode="json")
        if name not in reference.locks.groups:
            group.update(weight=1.0, extra_prompts=[])
        groups.append(group)
    rules = {
        c: {g: reference.rule(c, g) if reference.locks.rule_locked(c, g) else None for g in kept}
        for c in reference.classes
    }
    return System.from_data(
        {
            "name": "class-name-baseline",
            "classes": list(reference.classes),
            "groups": groups,
            "rules": rules,
            "scoring": {
                "temperature": 1.0,
                "aggregation": "prob_sum",
                "name_prior_weight": 1.0,
                "name_template": reference.scoring.name_template,
            },
            "provenance": {"method": BASELINE_MOVE, "details": {"what": "class names only (a photo of {class})"}},
            "locks": reference.locks.model_dump(mode="json"),
            "notes": [
                "The class-name zero-shot baseline: no rules (a human's locked ones aside), scored by the name prior."
            ],
        }
    )


@dataclass(frozen=True)
class FinalChoice:
    """The chosen version, the val-top version and the versions the paired comparison tied."""

    chosen: str
    top: str
    top_val_accuracy: float
    tied: list[str]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _correct(system: System, images: ImageSet, temperature: float | None) -> np.ndarray:
    truth = np.asarray(images.label_indices(system.classes))
    return np.asarray(predict(system, images, temperature=temperature)) == truth


def choose_final(
    versions: list[VersionRecord],
    train: ImageSet,
    val: ImageSet,
    *,
    temperature: float | None = None,
    z: float = 1.0,
    consider: int = 12,
) -> tuple[VersionRecord, FinalChoice]:
    """The final version by the paired rule of the module docstring (only the ``consider`` best on val compete)."""
    ranked = sorted(versions, key=lambda v: (-v.val_accuracy, v.number))[:consider]
    top = ranked[0]
    top_correct = _correct(top.system, val, temperature)
    tied = []
    for record in ranked:
        difference = top_correct.astype(int) - _correct(record.system, val, temperature).astype(int)
        if difference.sum() <= z * math.sqrt(np.count_nonzero(difference)):
            tied.append(record)

    def pooled(record: VersionRecord) -> tuple[int, float, int]:
        correct = int(_correct(record.system, train, temperature).sum() + round(record.val_accuracy * record.val_n))
        return correct, record.val_accuracy, -record.number

    chosen = max(tied, key=pooled)
    rule = f"paired val comparison (z={z}) then train+val accuracy"
    return chosen, FinalChoice(chosen.version_id, top.version_id, top.val_accuracy, [v.version_id for v in tied], rule)


def versus_baseline(
    best_val: float, baseline_val: float | None, best_test: float, baseline_test: float | None
) -> dict[str, Any]:
    """Whether the chosen system beats the class-name baseline on val and on test, with a sentence for the report."""
    verdict: dict[str, Any] = {"val": None, "test": None, "note": None}
    notes = []
    for split, best, baseline in (("val", best_val, baseline_val), ("test", best_test, baseline_test)):
        if baseline is None:
            continue
        verdict[split] = {"best": best, "baseline": baseline, "better": best > baseline}
        if best <= baseline:
            notes.append(f"{split} {best:.1%} vs baseline {baseline:.1%}")
    if notes:
        verdict["note"] = "the chosen system is NOT better than the class-name baseline on " + "; ".join(notes)
    return verdict
