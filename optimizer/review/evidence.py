"""Per-rule evidence: does the encoder see a class's rule option on its train images?

Definitions match :mod:`cotclip.scoring.diagnostics`: an image's *answer* to a group
is its most probable option under the scorer's per-group softmax. For a rule
``(class, group) -> option`` the *share* is the fraction of that class's images
whose answer is the option; the rule *disagrees* with the data when another option
is answered strictly more often than the rule's (the *favoured* option).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cotclip.scoring.scorer import ImageSet, group_probabilities
from cotclip.systems.model import System

__all__ = ["RuleEvidence", "rule_evidence"]


@dataclass(frozen=True)
class RuleEvidence:
    """What the images of one class answer to one group, against the class's rule."""

    class_name: str
    group: str
    rule_option: int | None
    n_images: int
    share: float | None
    """Fraction of the class's images answering the rule's option (None: no rule or no images)."""
    favoured_option: int | None
    favoured_share: float | None
    disagrees: bool
    answer_counts: list[int]
    agreeing: list[int]
    """Positions (into the image set) of up to ``examples`` images answering the rule's option."""
    disagreeing: list[int]
    """Positions of up to ``examples`` images answering something else."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``class`` for the class name)."""
        return {
            "class": self.class_name,
            "group": self.group,
            "rule_option": self.rule_option,
            "n_images": self.n_images,
            "share": self.share,
            "favoured_option": self.favoured_option,
            "favoured_share": self.favoured_share,
            "disagrees": self.disagrees,
            "answer_counts": list(self.answer_counts),
            "agreeing": list(self.agreeing),
            "disagreeing": list(self.disagreeing),
        }


def _one_rule(
    class_name: str,
    group_name: str,
    n_options: int,
    rule: int | None,
    positions: np.ndarray,
    answers: np.ndarray,
    examples: int,
) -> RuleEvidence:
    class_answers = answers[positions]
    counts = np.bincount(class_answers, minlength=n_options) if positions.size else np.zeros(n_options, dtype=int)
    favoured = int(counts.argmax()) if positions.size else None
    favoured_share = float(counts[favoured] / positions.size) if favoured is not None else None
    if rule is None or not positions.size:
        share, disagrees, agreeing, disagreeing = None, False, [], []
    else:
        agree_mask = class_answers == rule
        share = float(agree_mask.mean())
        disagrees = favoured != rule and counts[favoured] > counts[rule]
        agreeing = positions[agree_mask][:examples].tolist()
        disagreeing = positions[~agree_mask][:examples].tolist()
    return RuleEvidence(
        class_name=class_name,
        group=group_name,
        rule_option=rule,
        n_images=int(positions.size),
        share=share,
        favoured_option=favoured,
        favoured_share=favoured_share,
        disagrees=bool(disagrees),
        answer_counts=counts.astype(int).tolist(),
        agreeing=agreeing,
        disagreeing=disagreeing,
    )


def rule_evidence(
    system: System, images: ImageSet, *, examples: int = 4, temperature: float | None = None
) -> list[RuleEvidence]:
    """Evidence for every (class, group) pair of ``system`` on labelled ``images``, class-major order."""
    truth = np.asarray(images.label_indices(system.classes))
    answers = [probs.argmax(axis=1) for probs in group_probabilities(system, images, temperature=temperature)]
    evidence = []
    for class_index, class_name in enumerate(system.classes):
        positions = np.flatnonzero(truth == class_index)
        for group, group_answers in zip(system.groups, answers):
            rule = system.rule(class_name, group.name)
            evidence.append(
                _one_rule(class_name, group.name, len(group.options), rule, positions, group_answers, examples)
            )
    return evidence
