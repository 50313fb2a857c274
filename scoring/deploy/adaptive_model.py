"""The answer model of adaptive questioning and the posterior's pieces, fitted on train.

See :mod:`cotclip.scoring.deploy.adaptive` for the method: the soft answers ``q_g(a|x)``, the
class-conditional answer distributions ``theta_gc`` (:class:`AnswerModel`, fitted with additive
smoothing), each group's additive term of the class scores (:func:`group_terms`), the
posterior's sharpness ``beta`` (:func:`fit_sharpness`) and the expected information gain that
ranks the groups (:func:`expected_information_gain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cotclip.scoring.scorer import ImageSet, group_probabilities
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "AnswerModel",
    "entropy_bits",
    "answer_model_from_probabilities",
    "fit_answer_model",
    "expected_information_gain",
    "group_terms",
    "fit_sharpness",
    "log_softmax",
]

_LOG_FLOOR = 1e-12  # the scorer's floor under log(probability)


def entropy_bits(distribution: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in bits along ``axis`` (0 log 0 = 0)."""
    p = np.asarray(distribution, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


@dataclass(frozen=True, eq=False)
class AnswerModel:
    """Class-conditional answer distributions ``theta[g]`` (``[C, k_g]``) fitted on train."""

    classes: tuple[str, ...]
    groups: tuple[str, ...]
    theta: tuple[np.ndarray, ...]
    smoothing: float
    class_counts: np.ndarray

    @property
    def costs(self) -> np.ndarray:
        """Prompts per image of each group (its number of options)."""
        return np.array([t.shape[1] for t in self.theta], dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the distributions as nested lists)."""
        return {
            "classes": list(self.classes),
            "groups": list(self.groups),
            "smoothing": self.smoothing,
            "class_counts": self.class_counts.tolist(),
            "theta": {g: t.tolist() for g, t in zip(self.groups, self.theta)},
        }


def answer_model_from_probabilities(
    probabilities: Sequence[np.ndarray],
    label_indices: np.ndarray,
    classes: Sequence[str],
    groups: Sequence[str],
    smoothing: float = 0.5,
) -> AnswerModel:
    """Fit ``theta`` from soft answers ``[N, k_g]`` per group and true class indices ``[N]``."""
    if smoothing < 0:
        raise InputError(f"smoothing must be >= 0 (got {smoothing}); use e.g. 0.5")
    labels = np.asarray(label_indices, dtype=np.int64)
    onehot = np.zeros((len(classes), labels.size))
    onehot[labels, np.arange(labels.size)] = 1.0
    counts = onehot.sum(axis=1)
    thetas = []
    for probs in probabilities:
        k = probs.shape[1]
        totals = onehot @ np.asarray(probs, dtype=np.float64) + smoothing
        denominators = counts[:, None] + smoothing * k
        if np.any(denominators == 0):
            raise InputError("a class has no train image and smoothing is 0; use smoothing > 0 or more train images")
        thetas.append(totals / denominators)
    return AnswerModel(tuple(classes), tuple(groups), tuple(thetas), float(smoothing), counts)


def fit_answer_model(
    system: System, train: ImageSet, *, smoothing: float = 0.5, temperature: float | None = None
) -> AnswerModel:
    """The answer model of ``system``'s groups from the soft answers on ``train`` images."""
    probabilities = group_probabilities(system, train, temperature)
    labels = train.label_indices(system.classes)
    return answer_model_from_probabilities(probabilities, labels, system.classes, system.group_names, smoothing)


def expected_information_gain(posterior: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``I_pi(C; A) = H(pi @ theta) - pi @ H(theta)`` in bits, one value per row of ``posterior``."""
    posterior = np.asarray(posterior, dtype=np.float64)
    mixture = posterior @ theta
    return entropy_bits(mixture) - posterior @ entropy_bits(theta)


def group_terms(system: System, probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """``[G, N, C]``: each group's additive term of the system's class scores (see module doc)."""
    n = probabilities[0].shape[0] if probabilities else 0
    terms = np.zeros((len(system.groups), n, len(system.classes)))
    log_scores = system.scoring.aggregation == "log_prob_sum"
    for g, (group, probs) in enumerate(zip(system.groups, probabilities)):
        values = np.log(np.maximum(probs, _LOG_FLOOR)) if log_scores else probs
        for c, class_name in enumerate(system.classes):
            option = system.rule(class_name, group.name)
            if option is not None:
                terms[g, :, c] = group.weight * values[:, option]
    return terms


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log softmax`` along the last axis, shifted by the maximum for stability."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def fit_sharpness(scores: np.ndarray, label_indices: np.ndarray, bounds: tuple[float, float] = (1e-3, 1e6)) -> float:
    """The ``beta`` maximising ``sum_i log softmax(beta * scores_i)[y_i]`` (ternary search on log beta).

    The log-likelihood is concave in ``beta``; when train is perfectly separated it keeps
    rising and the upper bound is returned.
    """
    labels = np.asarray(label_indices, dtype=np.int64)
    rows = np.arange(labels.size)

    def log_likelihood(log_beta: float) -> float:
        return float(log_softmax(np.exp(log_beta) * scores)[rows, labels].sum())

    low, high = np.log(bounds[0]), np.log(bounds[1])
    for _ in range(100):  # ternary search: the log-likelihood is concave in beta
        a, b = low + (high - low) / 3, high - (high - low) / 3
        low, high = (low, b) if log_likelihood(a) >= log_likelihood(b) else (a, high)
    return float(np.exp((low + high) / 2.0))
