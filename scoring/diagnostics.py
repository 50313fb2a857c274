"""Why a system scores what it scores: per-class, per-group and per-rule evidence on one split.

The loop diagnoses its best candidates on *train* and hands the result to its moves
(rule fitting reads the evidence, the LLM reviser reads the summary). Definitions,
all computed from the encoder's per-group softmax (the scorer's
:func:`~cotclip.scoring.scorer.group_probabilities`):

* an image's *answer* to a group is its most probable option;
* ``group_reliability[g]`` = share of images (of classes with a non-null rule in ``g``)
  whose answer equals the rule's option of their true class;
* ``rule_agreement[c][g]`` = the same share over the images of class ``c`` only;
* a rule *disagrees* when the option most of class ``c``'s images answer differs from
  the rule's option: recorded as ``(class, group, rule_option, favoured_option, share)``
  with ``share`` = the favoured option's share of the class's answers;
* ``identical_signatures`` lists classes whose rules can never be told apart;
* ``unused_options[g]`` are options of ``g`` no class's rule picks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from cotclip.scoring.scorer import ImageSet, group_probabilities, predict
from cotclip.systems.model import System

__all__ = ["Diagnostics", "diagnose"]


@dataclass(frozen=True)
class Diagnostics:
    """Evidence about one system on one set of labelled images (see module docstring)."""

    accuracy: float
    n: int
    per_class: dict[str, float]
    confusions: list[tuple[str, str, int]]
    group_reliability: dict[str, float]
    rule_agreement: dict[str, dict[str, float]]
    disagreeing_rules: list[tuple[str, str, int, int, float]]
    identical_signatures: list[list[str]]
    unused_options: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; tuples become lists."""
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class": dict(self.per_class),
            "confusions": [list(item) for item in self.confusions],
            "group_reliability": dict(self.group_reliability),
            "rule_agreement": {c: dict(groups) for c, groups in self.rule_agreement.items()},
            "disagreeing_rules": [list(item) for item in self.disagreeing_rules],
            "identical_signatures": [list(classes) for classes in self.identical_signatures],
            "unused_options": {g: list(options) for g, options in self.unused_options.items()},
        }


def _per_class_and_confusions(
    system: System, truth: np.ndarray, predicted: np.ndarray, top_confusions: int
) -> tuple[dict[str, float], list[tuple[str, str, int]]]:
    per_class: dict[str, float] = {}
    for index, name in enumerate(system.classes):
        mask = truth == index
        if mask.any():
            per_class[name] = float((predicted[mask] == index).mean())
    pairs = Counter(
        (system.classes[t], system.classes[p]) for t, p in zip(truth.tolist(), predicted.tolist()) if t != p
    )
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:top_confusions]
    return per_class, [(t, p, count) for (t, p), count in ranked]


def _rule_evidence(
    system: System, truth: np.ndarray, answers: list[np.ndarray]
) -> tuple[dict[str, float], dict[str, dict[str, float]], list[tuple[str, str, int, int, float]]]:
    reliability: dict[str, float] = {}
    agreement: dict[str, dict[str, float]] = defaultdict(dict)
    disagreeing: list[tuple[str, str, int, int, float]] = []
    for group, group_answers in zip(system.groups, answers):
        hits = total = 0
        for class_index, class_name in enumerate(system.classes):
            rule = system.rule(class_name, group.name)
            class_answers = group_answers[truth == class_index]
            if rule is None or class_answers.size == 0:
                continue
            agree = int((class_answers == rule).sum())
            hits, total = hits + agree, total + class_answers.size
            agreement[class_name][group.name] = agree / class_answers.size
            votes = np.bincount(class_answers, minlength=len(group.options))
            favoured = int(votes.argmax())
            if favoured != rule and votes[favoured] > votes[rule]:
                disagreeing.append(
                    (class_name, group.name, rule, favoured, float(votes[favoured] / class_answers.size))
                )
        if total:
            reliability[group.name] = hits / total
    disagreeing.sort(key=lambda item: (-item[4], item[0], item[1]))
    return reliability, dict(agreement), disagreeing


def _structure(system: System) -> tuple[list[list[str]], dict[str, list[str]]]:
    by_signature: dict[tuple[int | None, ...], list[str]] = defaultdict(list)
    for class_name in system.classes:
        by_signature[system.signature(class_name)].append(class_name)
    identical = [classes for classes in by_signature.values() if len(classes) > 1]
    unused: dict[str, list[str]] = {}
    for group in system.groups:
        used = {system.rule(c, group.name) for c in system.classes}
        missing = [option for index, option in enumerate(group.options) if index not in used]
        if missing:
            unused[group.name] = missing
    return identical, unused


def diagnose(
    system: System, images: ImageSet, *, temperature: float | None = None, top_confusions: int = 10
) -> Diagnostics:
    """Diagnose ``system`` on labelled ``images`` (raises DataError for labels outside its classes)."""
    truth = np.asarray(images.label_indices(system.classes))
    predicted = np.asarray(predict(system, images, temperature=temperature))
    answers = [probs.argmax(axis=1) for probs in group_probabilities(system, images, temperature=temperature)]
    per_class, confusions = _per_class_and_confusions(system, truth, predicted, top_confusions)
    reliability, agreement, disagreeing = _rule_evidence(system, truth, answers)
    identical, unused = _structure(system)
    return Diagnostics(
        accuracy=float((predicted == truth).mean()) if truth.size else 0.0,
        n=int(truth.size),
        per_class=per_class,
        confusions=confusions,
        group_reliability=reliability,
        rule_agreement=agreement,
        disagreeing_rules=disagreeing,
        identical_signatures=identical,
        unused_options=unused,
    )
