"""Adaptive per-image questioning: ask the most informative group next, stop when sure.

Test-time compute scaling for one image: ask groups one at a time instead of comparing
the image with every option of every group, and stop once the class is clear:

**Soft answers.** For image ``x`` and group ``g``, the encoder's answer is the scorer's
``q_g(a|x)``: the softmax over the group's options of cosine / temperature
(:func:`cotclip.scoring.scorer.group_probabilities`).

**Answer model (fitted on train).** Treat the answer to group ``g`` as a categorical
variable ``A_g``. Given the class ``c`` it follows ``theta_gc`` with

    theta_gc[a] = (sum over train images x of class c of q_g(a|x) + alpha) / (n_c + alpha * k_g)

(the mean soft answer with additive smoothing ``alpha``). Groups are assumed
*conditionally independent given the class* (naive Bayes). That assumption is what
makes the information of a set of groups computable; it overstates the information of
groups whose answers co-vary within a class (the static selector penalises that).

**Posterior (at test time).** After asking the groups ``S`` of image ``x``::

    pi_S(c|x)  proportional to  exp(beta * (sum_{g in S} T_g(x)[c] + N(x)[c]))

``T_g`` is group ``g``'s term of the system's class score (``w_g q_g(r_cg|x)`` for
``prob_sum``, ``w_g log q_g(r_cg|x)`` for ``log_prob_sum``, 0 for a null rule) and ``N``
the name-prior term (always included when its weight is > 0; it costs ``C`` prompts).
The class prior is uniform. ``beta`` is fitted on train by maximum likelihood of the
true class under all groups (:func:`fit_sharpness`). The scores are additive over
groups, so ``pi`` is a product of per-group factors and ``argmax pi_S`` is the system's
own decision restricted to ``S``; once every group is asked the prediction *is* the
full system's :func:`~cotclip.scoring.scorer.predict` (ties -> first class).

**Which group next.** Among the unasked groups that fit in the remaining budget: the
largest expected information gain under the current belief,
``I_pi(C; A_g) = H(sum_c pi_c theta_gc) - sum_c pi_c H(theta_gc)`` (bits; the default
``rank="gain"``), that gain divided by the group's prompt cost
(``rank="gain_per_prompt"``), or the largest expected rise of the leader's margin per
prompt (``rank="margin_per_prompt"``, defined in :mod:`cotclip.scoring.deploy.adaptive_stops`).

**Stop** when the stopping rule says so, when no unasked group fits in the budget, or
when every group is asked. Rules (``stop=``): ``"posterior"`` (default) stops when
``max_c pi >= threshold``; ``"margin"`` stops once the unasked groups cannot change the
full system's decision (exact: predictions equal the full system's); ``"flip"`` stops
when the answer model's probability that they change it is below ``epsilon``
(``prob_sum`` only; ``epsilon=0`` is ``"margin"``); ``"accuracy"`` stops when asking the
rest is not expected to raise the chance of a right answer by ``epsilon`` (estimated by
resampling the train images' answers); see :mod:`cotclip.scoring.deploy.adaptive_stops`.
A group's cost is its number of options: the text comparisons it adds per image
(template variants are averaged into one embedding per option: no extra cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cotclip.scoring.deploy.adaptive_curve import AdaptiveCurve, AdaptivePoint
from cotclip.scoring.deploy.adaptive_model import (
    AnswerModel,
    answer_model_from_probabilities,
    entropy_bits,
    expected_information_gain,
    fit_answer_model,
    fit_sharpness,
    group_terms,
    log_softmax,
)
from cotclip.scoring.deploy.adaptive_stops import (
    AdaptivePolicy,
    Margins,
    Rank,
    Stop,
    TrainPool,
    accuracy_gain,
    rule_tables,
)
from cotclip.scoring.scorer import ImageSet, class_scores, group_probabilities, predict
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "AnswerModel",
    "AdaptiveResult",
    "AdaptivePoint",
    "AdaptiveCurve",
    "AdaptiveClassifier",
    "Rank",
    "Stop",
    "entropy_bits",
    "answer_model_from_probabilities",
    "fit_answer_model",
    "expected_information_gain",
    "group_terms",
    "fit_sharpness",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_EPSILONS",
]

DEFAULT_THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
DEFAULT_EPSILONS = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001, 0.0)


@dataclass(frozen=True, eq=False)
class AdaptiveResult:
    """Predictions of adaptive questioning on a set of images, with the prompts each used."""

    classes: tuple[str, ...]
    groups: tuple[str, ...]
    predictions: np.ndarray
    """``[N]`` class indices into ``classes``."""
    prompts: np.ndarray
    """``[N]`` text comparisons spent per image (options of asked groups + name prior)."""
    asked: np.ndarray
    """``[N, G]`` whether each group was asked for each image."""
    full_prompts: int
    threshold: float | None
    budget: int | None
    accuracy: float | None = None
    stop: str = "posterior"
    epsilon: float | None = None

    @property
    def mean_prompts(self) -> float:
        """Mean text comparisons per image."""
        return float(self.prompts.mean()) if self.prompts.size else 0.0

    @property
    def prompt_fraction(self) -> float:
        """Mean prompts per image divided by the full system's prompts per image."""
        return self.mean_prompts / self.full_prompts if self.full_prompts else 0.0

    @property
    def labels(self) -> list[str]:
        """Predicted class names."""
        return [self.classes[i] for i in self.predictions]

    def to_dict(self) -> dict[str, Any]:
        """Summary (no per-image arrays): accuracy, prompt use and how often each group was asked."""
        n = int(self.predictions.size)
        return {
            "n": n,
            "accuracy": self.accuracy,
            "threshold": self.threshold,
            "budget": self.budget,
            "stop": self.stop,
            "epsilon": self.epsilon,
            "mean_prompts": self.mean_prompts,
            "full_prompts": self.full_prompts,
            "prompt_fraction": self.prompt_fraction,
            "mean_questions": float(self.asked.sum(axis=1).mean()) if n else 0.0,
            "group_ask_rate": {g: float(self.asked[:, i].mean()) if n else 0.0 for i, g in enumerate(self.groups)},
        }


@dataclass(frozen=True, eq=False)
class AdaptiveClassifier:
    """A system plus what adaptive questioning needs from train: answer model, ``beta`` and
    (for ``stop="accuracy"``) the train images' group terms.

    Build it with :meth:`fit`; then :meth:`run` (labelled :class:`ImageSet`),
    :meth:`run_arrays` (raw group probabilities and full scores, e.g. from a compiled
    classifier) or :meth:`curve`.
    """

    system: System
    answers: AnswerModel
    sharpness: float
    temperature: float | None = None
    pool: TrainPool | None = None

    @classmethod
    def fit(
        cls, system: System, train: ImageSet, *, smoothing: float = 0.5, temperature: float | None = None
    ) -> AdaptiveClassifier:
        """Fit the answer model, the posterior sharpness ``beta`` and the train pool on ``train``."""
        probabilities = group_probabilities(system, train, temperature)
        labels = train.label_indices(system.classes)
        answers = answer_model_from_probabilities(probabilities, labels, system.classes, system.group_names, smoothing)
        beta = fit_sharpness(class_scores(system, train, temperature), labels)
        return cls(system, answers, beta, temperature, TrainPool(group_terms(system, probabilities), labels))

    @property
    def prior_prompts(self) -> int:
        """Prompts every image pays up front: the class names when the name prior is on."""
        return len(self.system.classes) if self.system.scoring.name_prior_weight > 0 else 0

    @property
    def full_prompts(self) -> int:
        """Prompts per image of the full system."""
        return int(self.answers.costs.sum()) + self.prior_prompts

    def run(
        self,
        images: ImageSet,
        *,
        threshold: float | None = 0.9,
        budget: int | None = None,
        rank: Rank = "gain",
        stop: Stop = "posterior",
        epsilon: float = 0.05,
    ) -> AdaptiveResult:
        """Adaptive predictions for labelled ``images`` (accuracy filled in).

        ``threshold`` is used by ``stop="posterior"`` only, ``epsilon`` by ``"flip"`` and ``"accuracy"``.
        """
        probabilities = group_probabilities(self.system, images, self.temperature)
        scores = class_scores(self.system, images, self.temperature)
        full = predict(self.system, images, self.temperature)
        result = self.run_arrays(
            probabilities, scores, full, threshold=threshold, budget=budget, rank=rank, stop=stop, epsilon=epsilon
        )
        return replace(result, accuracy=_accuracy(result.predictions, images.label_indices(self.system.classes)))

    def run_arrays(
        self,
        probabilities: Sequence[np.ndarray],
        scores: np.ndarray,
        full_predictions: np.ndarray | None = None,
        *,
        threshold: float | None = 0.9,
        budget: int | None = None,
        rank: Rank = "gain",
        stop: Stop = "posterior",
        epsilon: float = 0.05,
    ) -> AdaptiveResult:
        """Adaptive predictions from per-group soft answers ``[N, k_g]`` and full class scores ``[N, C]``.

        ``scores`` must be the system's full class scores for the same images (they give
        the name-prior term and, unless ``full_predictions`` is passed, the decision when
        every group is asked).
        """
        policy = AdaptivePolicy(threshold, budget, rank, stop, epsilon)
        return self.run_policy(probabilities, scores, policy, full_predictions)

    def run_policy(
        self,
        probabilities: Sequence[np.ndarray],
        scores: np.ndarray,
        policy: AdaptivePolicy,
        full_predictions: np.ndarray | None = None,
    ) -> AdaptiveResult:
        """:meth:`run_arrays` with its settings given as one :class:`AdaptivePolicy` (checked here)."""
        policy = policy.check(self.system.scoring.aggregation)
        if policy.stop == "accuracy":
            self._train_pool()  # before any work: without a pool the run cannot finish
        terms = group_terms(self.system, probabilities)
        name_term = np.zeros(terms.shape[1:])
        if self.prior_prompts:  # the scores minus the groups' terms is the name-prior term
            name_term = np.asarray(scores, dtype=np.float64) - terms.sum(axis=0)
        full = np.argmax(scores, axis=1) if full_predictions is None else np.asarray(full_predictions)
        predictions, prompts, asked = self._ask(terms, name_term, full, policy)
        return AdaptiveResult(
            self.answers.classes,
            self.answers.groups,
            predictions,
            prompts,
            asked,
            self.full_prompts,
            policy.threshold,
            policy.budget,
            stop=policy.stop,
            epsilon=policy.epsilon if policy.stop in ("flip", "accuracy") else None,
        )

    def _gains(self, posterior: np.ndarray, open_groups: np.ndarray, rank: str) -> np.ndarray:
        gains = np.full(open_groups.shape, -np.inf)
        for g, theta in enumerate(self.answers.theta):
            rows = open_groups[:, g]
            if rows.any():
                gain = expected_information_gain(posterior[rows], theta)
                gains[rows, g] = gain / theta.shape[1] if rank == "gain_per_prompt" else gain
        return gains

    def _train_pool(self) -> TrainPool:
        if self.pool is None:
            raise InputError(
                "stop='accuracy' resamples train images' answers; build the classifier with "
                "AdaptiveClassifier.fit(system, train) or use stop='flip'"
            )
        return self.pool

    def _stopped(
        self,
        posterior: np.ndarray,
        scores: np.ndarray,
        unasked: np.ndarray,
        policy: AdaptivePolicy,
        margins: Margins | None,
    ) -> np.ndarray:
        """Which images stop now (``margins``: present whenever ``policy.uses_margins``)."""
        if policy.stop == "posterior":
            if policy.threshold is None:
                return np.zeros(len(scores), dtype=bool)
            return posterior.max(axis=1) >= policy.threshold
        if policy.stop == "accuracy":
            pool = self._train_pool()
            gains = [accuracy_gain(s, p, u, pool) for s, p, u in zip(scores, posterior, unasked)]
            return np.array(gains) < policy.epsilon
        return _needed(margins).sure(posterior, unasked, policy.epsilon if policy.stop == "flip" else 0.0)

    def _ask(
        self, terms: np.ndarray, name_term: np.ndarray, full: np.ndarray, policy: AdaptivePolicy
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_groups, n_images, _ = terms.shape
        costs = self.answers.costs
        limit = np.inf if policy.budget is None else policy.budget
        tables = rule_tables(self.system, self.answers.theta) if policy.uses_margins else None
        scores = name_term.copy()
        asked = np.zeros((n_images, n_groups), dtype=bool)
        spent = np.full(n_images, self.prior_prompts, dtype=np.int64)
        active = np.ones(n_images, dtype=bool)
        for _ in range(n_groups):
            index = np.flatnonzero(active)
            if index.size == 0:
                break
            posterior = np.exp(log_softmax(self.sharpness * scores[index]))
            unasked = ~asked[index]
            margins = None if tables is None else Margins.of(scores[index], unasked, tables)
            sure = self._stopped(posterior, scores[index], unasked, policy, margins)
            open_groups = unasked & (spent[index, None] + costs[None, :] <= limit) & ~sure[:, None]
            gains = self._gains(posterior, open_groups, policy.rank)
            if policy.rank == "margin_per_prompt":  # information gain only breaks ties
                values = _needed(margins).values(posterior, unasked, costs)
                gains = np.where(open_groups, values + 1e-9 * gains, -np.inf)
            choice = gains.argmax(axis=1)
            going = np.isfinite(gains[np.arange(index.size), choice])
            active[index[~going]] = False
            rows, picked = index[going], choice[going]
            scores[rows] += terms[picked, rows]
            spent[rows] += costs[picked]
            asked[rows, picked] = True
        predictions = scores.argmax(axis=1)
        everything = asked.all(axis=1)
        predictions[everything] = full[everything]
        return predictions, spent, asked

    def curve(
        self,
        images: ImageSet,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        *,
        budget: int | None = None,
        rank: Rank = "gain",
        stop: Stop = "posterior",
        epsilons: Sequence[float] = DEFAULT_EPSILONS,
    ) -> AdaptiveCurve:
        """Accuracy vs mean prompts per image on ``images``: one point per threshold
        (``stop="posterior"``), per epsilon (``"flip"``, ``"accuracy"``), or the exact point (``"margin"``)."""
        by_epsilon: list[tuple[float | None, float | None]] = [(None, e) for e in epsilons]
        knobs: dict[str, list[tuple[float | None, float | None]]] = {
            "posterior": [(t, None) for t in thresholds],
            "flip": by_epsilon,
            "accuracy": by_epsilon,
        }
        truth = images.label_indices(self.system.classes)
        points = []
        for threshold, epsilon in knobs.get(stop, [(None, None)]):
            result = self.run(
                images,
                threshold=threshold,
                budget=budget,
                rank=rank,
                stop=stop,
                epsilon=0.0 if epsilon is None else epsilon,
            )
            accuracy = _accuracy(result.predictions, truth)
            points.append(AdaptivePoint(threshold, accuracy, result.mean_prompts, result.prompt_fraction, epsilon))
        full_accuracy = float(np.mean(predict(self.system, images, self.temperature) == truth))
        return AdaptiveCurve(tuple(points), full_accuracy, self.full_prompts, budget, rank, stop)


def _accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``predictions`` equal to ``labels`` (0 for no images)."""
    return float(np.mean(predictions == labels)) if labels.size else 0.0


def _needed(margins: Margins | None) -> Margins:
    """``margins``, which :attr:`AdaptivePolicy.uses_margins` provides for the margin and flip stops and ranking."""
    if margins is None:
        raise ValueError("the margin and flip stops and the margin ranking need the rule tables (uses_margins)")
    return margins
