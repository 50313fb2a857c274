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

**Which group next.** The unasked group that fits in the remaining budget with the
largest expected information gain under the current belief,
``I_pi(C; A_g) = H(sum_c pi_c theta_gc) - sum_c pi_c H(theta_gc)`` (bits; the default
``rank="gain"``), or that gain divided by the group's prompt cost
(``rank="gain_per_prompt"``; on the planted worlds it stops less well).

**Stop** when ``max_c pi >= threshold``, when no unasked group fits in the budget, or
when every group is asked. A group's cost is its number of options: the text
comparisons it adds per image (template variants are averaged into one embedding per
option, so they cost nothing per image).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from cotclip.scoring.scorer import ImageSet, class_scores, group_probabilities, predict
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "AnswerModel", "AdaptiveResult", "AdaptivePoint", "AdaptiveCurve", "AdaptiveClassifier", "Rank",
    "entropy_bits", "answer_model_from_probabilities", "fit_answer_model", "expected_information_gain",
    "group_terms", "fit_sharpness", "DEFAULT_THRESHOLDS",
]

Rank = Literal["gain", "gain_per_prompt"]
DEFAULT_THRESHOLDS = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
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
        return {"classes": list(self.classes), "groups": list(self.groups), "smoothing": self.smoothing,
                "class_counts": self.class_counts.tolist(),
                "theta": {g: t.tolist() for g, t in zip(self.groups, self.theta)}}


def answer_model_from_probabilities(
    probabilities: Sequence[np.ndarray], label_indices: np.ndarray, classes: Sequence[str], groups: Sequence[str],
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


def fit_answer_model(system: System, train: ImageSet, *, smoothing: float = 0.5,
                     temperature: float | None = None) -> AnswerModel:
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


def _log_softmax(logits: np.ndarray) -> np.ndarray:
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
        return float(_log_softmax(np.exp(log_beta) * scores)[rows, labels].sum())

    low, high = np.log(bounds[0]), np.log(bounds[1])
    for _ in range(100):  # ternary search: the log-likelihood is concave in beta
        a, b = low + (high - low) / 3, high - (high - low) / 3
        low, high = (low, b) if log_likelihood(a) >= log_likelihood(b) else (a, high)
    return float(np.exp((low + high) / 2.0))


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
        return {"n": n, "accuracy": self.accuracy, "threshold": self.threshold, "budget": self.budget,
                "mean_prompts": self.mean_prompts, "full_prompts": self.full_prompts,
                "prompt_fraction": self.prompt_fraction,
                "mean_questions": float(self.asked.sum(axis=1).mean()) if n else 0.0,
                "group_ask_rate": {g: float(self.asked[:, i].mean()) if n else 0.0 for i, g in enumerate(self.groups)}}


@dataclass(frozen=True)
class AdaptivePoint:
    """One point of the accuracy vs prompts curve."""

    threshold: float | None
    accuracy: float
    mean_prompts: float
    prompt_fraction: float

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class AdaptiveCurve:
    """Accuracy vs mean prompts per image over stopping thresholds, against the full system."""

    points: tuple[AdaptivePoint, ...]
    full_accuracy: float
    full_prompts: int
    budget: int | None = None
    rank: str = "gain"

    def cheapest_matching(self, tolerance: float = 0.0) -> AdaptivePoint | None:
        """The point with the fewest prompts whose accuracy >= full accuracy - ``tolerance``."""
        good = [p for p in self.points if p.accuracy >= self.full_accuracy - tolerance - 1e-12]
        return min(good, key=lambda p: p.mean_prompts, default=None)

    def table(self) -> str:
        """Markdown table of the curve, the full system last."""
        lines = ["| threshold | accuracy | mean prompts/image | fraction of full |", "|---|---|---|---|"]
        for p in self.points:
            shown = "never" if p.threshold is None else f"{p.threshold:g}"
            lines.append(f"| {shown} | {p.accuracy:.4f} | {p.mean_prompts:.1f} | {p.prompt_fraction:.2f} |")
        lines.append(f"| full system | {self.full_accuracy:.4f} | {self.full_prompts} | 1.00 |")
        return "\n".join(lines)

    def save_plot(self, path: str | Path, title: str = "Adaptive questioning") -> Path:
        """Write the curve as a PNG (matplotlib, Agg backend) and return its path."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5.5, 4.0), dpi=120)
        axes = figure.subplots()
        axes.plot([p.mean_prompts for p in self.points], [p.accuracy for p in self.points], marker="o", label="adaptive")
        axes.scatter([self.full_prompts], [self.full_accuracy], color="black", marker="*", s=120, label="full system")
        axes.axvline(self.full_prompts / 2, color="gray", linestyle=":", label="50% of prompts")
        axes.set(xlabel="mean prompts (text comparisons) per image", ylabel="accuracy", title=title)
        axes.legend(loc="lower right")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
        return path

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        best = self.cheapest_matching()
        return {"full_accuracy": self.full_accuracy, "full_prompts": self.full_prompts, "budget": self.budget,
                "rank": self.rank, "points": [p.to_dict() for p in self.points],
                "cheapest_at_full_accuracy": None if best is None else best.to_dict()}


def _check_policy(threshold: float | None, budget: int | None, rank: str) -> None:
    if rank not in ("gain", "gain_per_prompt"):
        raise InputError(f"unknown rank {rank!r}; use 'gain' or 'gain_per_prompt'")
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise InputError(f"threshold must be in (0, 1] (got {threshold}); e.g. 0.9, or omit it to never stop early")
    if budget is not None and budget < 1:
        raise InputError(f"prompt budget must be >= 1 (got {budget}); omit it for no budget")


@dataclass(frozen=True, eq=False)
class AdaptiveClassifier:
    """A system plus what adaptive questioning needs from train: answer model and ``beta``.

    Build it with :meth:`fit`; then :meth:`run` (labelled :class:`ImageSet`),
    :meth:`run_arrays` (raw group probabilities and full scores, e.g. from a compiled
    classifier) or :meth:`curve`.
    """

    system: System
    answers: AnswerModel
    sharpness: float
    temperature: float | None = None

    @classmethod
    def fit(
        cls, system: System, train: ImageSet, *, smoothing: float = 0.5, temperature: float | None = None
    ) -> "AdaptiveClassifier":
        """Fit the answer model and the posterior sharpness ``beta`` on ``train``."""
        probabilities = group_probabilities(system, train, temperature)
        labels = train.label_indices(system.classes)
        answers = answer_model_from_probabilities(probabilities, labels, system.classes, system.group_names, smoothing)
        beta = fit_sharpness(class_scores(system, train, temperature), labels)
        return cls(system, answers, beta, temperature)

    @property
    def prior_prompts(self) -> int:
        """Prompts every image pays up front: the class names when the name prior is on."""
        return len(self.system.classes) if self.system.scoring.name_prior_weight > 0 else 0

    @property
    def full_prompts(self) -> int:
        """Prompts per image of the full system."""
        return int(self.answers.costs.sum()) + self.prior_prompts

    def run(self, images: ImageSet, *, threshold: float | None = 0.9, budget: int | None = None,
            rank: Rank = "gain") -> AdaptiveResult:
        """Adaptive predictions for labelled ``images`` (accuracy filled in)."""
        probabilities = group_probabilities(self.system, images, self.temperature)
        scores = class_scores(self.system, images, self.temperature)
        full = predict(self.system, images, self.temperature)
        result = self.run_arrays(probabilities, scores, full, threshold=threshold, budget=budget, rank=rank)
        labels = images.label_indices(self.system.classes)
        accuracy = float(np.mean(result.predictions == labels)) if labels.size else 0.0
        return AdaptiveResult(**{**result.__dict__, "accuracy": accuracy})

    def run_arrays(
        self, probabilities: Sequence[np.ndarray], scores: np.ndarray, full_predictions: np.ndarray | None = None,
        *, threshold: float | None = 0.9, budget: int | None = None, rank: Rank = "gain",
    ) -> AdaptiveResult:
        """Adaptive predictions from per-group soft answers ``[N, k_g]`` and full class scores ``[N, C]``.

        ``scores`` must be the system's full class scores for the same images (they give
        the name-prior term and, unless ``full_predictions`` is passed, the decision when
        every group is asked).
        """
        _check_policy(threshold, budget, rank)
        terms = group_terms(self.system, probabilities)
        name_term = np.zeros(terms.shape[1:])
        if self.prior_prompts:  # the scores minus the groups' terms is the name-prior term
            name_term = np.asarray(scores, dtype=np.float64) - terms.sum(axis=0)
        full = np.argmax(scores, axis=1) if full_predictions is None else np.asarray(full_predictions)
        predictions, prompts, asked = self._ask(terms, name_term, full, threshold, budget, rank)
        return AdaptiveResult(self.answers.classes, self.answers.groups, predictions, prompts, asked,
                              self.full_prompts, threshold, budget)

    def _gains(self, posterior: np.ndarray, open_groups: np.ndarray, rank: Rank) -> np.ndarray:
        gains = np.full(open_groups.shape, -np.inf)
        for g, theta in enumerate(self.answers.theta):
            rows = open_groups[:, g]
            if rows.any():
                gain = expected_information_gain(posterior[rows], theta)
                gains[rows, g] = gain / theta.shape[1] if rank == "gain_per_prompt" else gain
        return gains

    def _ask(self, terms: np.ndarray, name_term: np.ndarray, full: np.ndarray, threshold: float | None,
             budget: int | None, rank: Rank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_groups, n_images, _ = terms.shape
        costs = self.answers.costs
        limit = np.inf if budget is None else budget
        scores = name_term.copy()
        asked = np.zeros((n_images, n_groups), dtype=bool)
        spent = np.full(n_images, self.prior_prompts, dtype=np.int64)
        active = np.ones(n_images, dtype=bool)
        for _ in range(n_groups):
            index = np.flatnonzero(active)
            if index.size == 0:
                break
            posterior = np.exp(_log_softmax(self.sharpness * scores[index]))
            sure = posterior.max(axis=1) >= threshold if threshold is not None else np.zeros(index.size, bool)
            open_groups = ~asked[index] & (spent[index, None] + costs[None, :] <= limit)
            gains = self._gains(posterior, open_groups & ~sure[:, None], rank)
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

    def curve(self, images: ImageSet, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *,
              budget: int | None = None, rank: Rank = "gain") -> AdaptiveCurve:
        """Accuracy vs mean prompts per image on ``images`` for each stopping threshold."""
        points = []
        for threshold in thresholds:
            result = self.run(images, threshold=threshold, budget=budget, rank=rank)
            points.append(AdaptivePoint(threshold, float(result.accuracy), result.mean_prompts, result.prompt_fraction))
        truth = images.label_indices(self.system.classes)
        full_accuracy = float(np.mean(predict(self.system, images, self.temperature) == truth))
        return AdaptiveCurve(tuple(points), full_accuracy, self.full_prompts, budget, rank)
