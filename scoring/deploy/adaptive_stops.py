"""Stopping rules and the margin ranking of adaptive questioning (:mod:`cotclip.scoring.deploy.adaptive`).

Notation, for one image after the groups ``S`` have been asked: ``s[c]`` is the running
class score ``sum_{g in S} T_g[c] + N[c]`` (group terms and name prior as in
:func:`cotclip.scoring.deploy.adaptive.group_terms`), ``L = argmax_c s[c]`` the leader (ties ->
first class, as the scorer), ``gap[c] = s[L] - s[c]`` and ``U`` the unasked groups.

**Exact margin stop** (``stop="margin"``). ``T_g[c]`` lies in ``[lo_g(c), hi_g(c)]``
whatever group ``g`` answers: ``[0, w_g]`` for ``prob_sum``, ``[w_g log 1e-12, 0]`` for
``log_prob_sum`` (the scorer's floor), ``[0, 0]`` for a null rule. So group ``g`` can add
at most ``B_g[l, c] = hi_g(c) - lo_g(l)`` to ``s[c] - s[l]``, and exactly 0 when ``c``
and ``l`` have the same rule in ``g`` (same option, or both null: their terms are equal).
Class ``c`` *threatens* the leader when ``gap[c] <= sum_{g in U} B_g[L, c] + tol``
(``tol = 1e-5`` absorbs the scorer's float32 rounding); a class with the leader's exact
rule signature never threatens (it ties forever and ties go to the first class, which
the leader is). With no threat left, asking the remaining groups cannot change the
decision: the prediction is the full system's, with fewer prompts.

**Flip stop** (``stop="flip"``, knob ``epsilon``). A relaxation for ``prob_sum``: the
remaining groups change ``gap[c]`` by ``D_c = sum_{g in U} w_g (q_g(r_Lg) - q_g(r_cg))``.
Given the true class ``k``, the answer model's one-hot view of ``q_g`` (an answer drawn
from ``theta_gk``) gives each term the mean ``w_g (theta_gk[r_Lg] - theta_gk[r_cg])``
and the variance ``w_g^2 (a + b - (a - b)^2)`` (``a``, ``b`` those two probabilities, 0
for a null rule; 0 when the rules are equal). Terms are independent given the class
(naive Bayes), so with their summed mean ``m_kc`` and variance ``v_kc`` the normal
approximation gives ``P(flip to c | k) = Phi(-(gap[c] + m_kc) / sqrt(v_kc))``, and

    P(flip) = min(1, sum_k pi[k] max_{c threatening} P(flip to c | k))

(``pi`` the posterior of the adaptive module; the most threatening rival stands for all
of them, an estimate between the single-rival and the union-bound probability: the
union bound over-counted so much on ``pokemon-like`` that it saved fewer prompts than the
posterior rule). Only the 32 most probable classes ``k`` are evaluated; the others'
posterior mass counts as certain flips (cheaper, and only conservative).
Stop when there is no threat or ``P(flip) < epsilon``. The path of asked groups does not
depend on ``epsilon``, so prompts per image never increase with ``epsilon``, and
``epsilon = 0`` is the exact margin stop.

**Accuracy stop** (``stop="accuracy"``, knob ``epsilon``). Aims at the full system's
*accuracy*, not its decisions: stop when asking every remaining group is not expected to
raise the chance of being right by ``epsilon`` or more. The estimate resamples the actual
train images (:class:`TrainPool`) instead of the answer model: if the image is of class
``k``, its unasked groups' terms are taken to be those of a train image of class ``k``
(their within-class correlations kept; train image ``j`` of class ``y_j`` weighs
``pi[y_j] / n_{y_j}``), so with ``R_j = sum_{g in U} T_g(x_j)``::

    gain = sum_j w_j ([argmax(s + R_j) = y_j] - [L = y_j])

the chance that the full decision is right minus the chance that the leader is. Only the
train images of the 32 most probable classes with ``pi >= 1e-4 max pi`` are resampled; the
others' posterior mass counts as certain gain (cheaper, and only conservative). ``gain``
can be negative (the remaining groups are expected to mislead); ``epsilon = 0`` stops
only then. Any aggregation works (the terms are additive for both).

**Margin ranking** (``rank="margin_per_prompt"``). A threatening ``c`` needs its slack
``gap[c] - sum_{g in U} B_g[L, c]`` to become positive. Asking ``g`` raises the slack by
``B_g[L, c] + E_pi[w_g (q_g(r_Lg) - q_g(r_cg))]`` in expectation (the answer model's
means under ``pi``). The value of ``g`` is the sum over threatening ``c`` of that rise,
clipped to ``[0, deficit_c]``, divided by ``g``'s prompt cost; ties (e.g. all zero) go to
the larger expected information gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from cotclip.scoring.scorer import LOG_FLOOR
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "AdaptivePolicy",
    "MARGIN_TOLERANCE",
    "Rank",
    "Stop",
    "RuleTables",
    "rule_tables",
    "threats",
    "flip_probability",
    "margin_values",
    "Margins",
    "TrainPool",
    "accuracy_gain",
]

Rank = Literal["gain", "gain_per_prompt", "margin_per_prompt"]
Stop = Literal["posterior", "margin", "flip", "accuracy"]
MARGIN_TOLERANCE = 1e-5
_MOST_LIKELY = 32
_POOL_FLOOR = 1e-4  # train images of classes below this share of the top posterior are skipped


def _or_list(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _normal_tail(z: np.ndarray) -> np.ndarray:
    """``P(Z > z)`` for a standard normal ``Z`` (Abramowitz-Stegun 7.1.26 erfc, error < 1.5e-7)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    upper = 0.5 * poly * np.exp(-x * x)
    return np.where(z >= 0, upper, 1.0 - upper)


@dataclass(frozen=True)
class AdaptivePolicy:
    """How one adaptive run ranks and stops (the arguments of ``AdaptiveClassifier.run``; :meth:`check` validates)."""

    threshold: float | None = 0.9
    budget: int | None = None
    rank: str = "gain"
    stop: str = "posterior"
    epsilon: float = 0.05

    def check(self, aggregation: str) -> AdaptivePolicy:
        """Self, or InputError naming the bad setting and a valid one."""
        if self.rank not in get_args(Rank):
            raise InputError(f"unknown rank {self.rank!r}; use {_or_list(get_args(Rank))}")
        if self.stop not in get_args(Stop):
            raise InputError(f"unknown stop {self.stop!r}; use {_or_list(get_args(Stop))}")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise InputError(
                f"threshold must be in (0, 1] (got {self.threshold}); e.g. 0.9, or omit it to never stop early"
            )
        if self.budget is not None and self.budget < 1:
            raise InputError(f"prompt budget must be >= 1 (got {self.budget}); omit it for no budget")
        if not 0.0 <= self.epsilon < 1.0:
            raise InputError(f"epsilon must be in [0, 1) (got {self.epsilon}); e.g. 0.05, or 0 for the exact stop")
        if self.stop == "flip" and aggregation != "prob_sum":
            raise InputError("stop='flip' needs prob_sum aggregation; use stop='margin' (exact) or 'posterior'")
        return self

    @property
    def uses_margins(self) -> bool:
        """Whether the rule tables of :mod:`cotclip.scoring.deploy.adaptive_stops` are needed."""
        return self.stop in ("margin", "flip") or self.rank == "margin_per_prompt"


class RuleTables:
    """Per-group class-pair tables of one system and answer model (see the module doc).

    ``bounds[g, l, c]`` is ``B_g[l, c]``; ``differs[g, l, c]`` whether the rules of ``l``
    and ``c`` differ in ``g``; ``same_signature[l, c]`` whether they agree in every group;
    ``means[g, k, c] = w_g theta_gk[r_cg]`` (0 for a null rule) when an answer model is given.
    """

    def __init__(self, bounds: np.ndarray, differs: np.ndarray, weights: np.ndarray, means: np.ndarray | None):
        self.bounds = bounds
        self.differs = differs
        self.same_signature = np.logical_not(differs.any(axis=0))
        self.weights = weights
        self.means = means

    def answer_means(self) -> np.ndarray:
        """``means`` (``[G, C, C]``), or InputError when the tables were built without an answer model."""
        if self.means is None:
            raise InputError(
                "the flip stop and the margin ranking need the answer model's means; build the tables with "
                "rule_tables(system, theta)"
            )
        return self.means


def rule_tables(system: System, theta: tuple[np.ndarray, ...] | None = None) -> RuleTables:
    """The :class:`RuleTables` of ``system``; ``theta`` (answer model, ``[C, k_g]`` per group) adds ``means``."""
    n_classes, n_groups = len(system.classes), len(system.groups)
    log_scores = system.scoring.aggregation == "log_prob_sum"
    bounds = np.zeros((n_groups, n_classes, n_classes))
    differs = np.zeros((n_groups, n_classes, n_classes), dtype=bool)
    means = np.zeros((n_groups, n_classes, n_classes))
    weights = np.array([group.weight for group in system.groups], dtype=np.float64)
    for g, group in enumerate(system.groups):
        rules = [system.rule(c, group.name) for c in system.classes]
        has_rule = np.array([r is not None for r in rules])
        low, high = (group.weight * np.log(LOG_FLOOR), 0.0) if log_scores else (0.0, group.weight)
        codes = np.array([-1 if r is None else r for r in rules])
        differs[g] = codes[:, None] != codes[None, :]
        reach = np.where(has_rule, high, 0.0)[None, :] - np.where(has_rule, low, 0.0)[:, None]
        bounds[g] = np.where(differs[g], reach, 0.0)
        if theta is not None:
            means[g][:, has_rule] = group.weight * theta[g][:, codes[has_rule]]
    return RuleTables(np.maximum(bounds, 0.0), differs, weights, None if theta is None else means)


def threats(scores: np.ndarray, unasked: np.ndarray, tables: RuleTables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaders ``[n]``, gaps ``[n, C]`` and which classes still threaten the leader ``[n, C]``.

    ``scores`` are running scores ``[n, C]``; ``unasked`` ``[n, G]`` marks the groups left.
    """
    leaders = scores.argmax(axis=1)
    rows = np.arange(scores.shape[0])
    gaps = scores[rows, leaders][:, None] - scores
    reach = np.einsum("ng,gnc->nc", unasked.astype(np.float64), tables.bounds[:, leaders, :])
    threat = (gaps <= reach + MARGIN_TOLERANCE) & ~tables.same_signature[leaders]
    return leaders, gaps, threat


def flip_probability(
    posterior: np.ndarray, leader: int, gaps: np.ndarray, threat: np.ndarray, unasked: np.ndarray, tables: RuleTables
) -> float:
    """``P(flip)`` of the module doc for one image (posterior ``[C]``, gaps/threat ``[C]``, unasked ``[G]``)."""
    rivals = np.flatnonzero(threat)
    if rivals.size == 0:
        return 0.0
    likely = np.argsort(-posterior, kind="stable")[:_MOST_LIKELY]
    unlikely_mass = float(posterior.sum() - posterior[likely].sum())
    groups = np.flatnonzero(unasked)
    means = tables.answer_means()[np.ix_(groups, likely)]  # [G', K, C]
    lead, rival = means[:, :, leader][:, :, None], means[:, :, rivals]
    differ = tables.differs[groups][:, leader, rivals][:, None, :]
    w = tables.weights[groups][:, None, None]
    shift = (lead - rival).sum(axis=0)  # [K, R]
    variance = np.where(differ, w * (lead + rival) - (lead - rival) ** 2, 0.0).sum(axis=0)
    z = (gaps[rivals][None, :] + shift) / np.sqrt(np.maximum(variance, 1e-12))
    tail = _normal_tail(z)
    return min(1.0, float(posterior[likely] @ tail.max(axis=1)) + unlikely_mass)


def margin_values(
    posterior: np.ndarray,
    leaders: np.ndarray,
    gaps: np.ndarray,
    threat: np.ndarray,
    unasked: np.ndarray,
    tables: RuleTables,
    costs: np.ndarray,
) -> np.ndarray:
    """``[n, G]`` margin-ranking values of the module doc (0 for asked groups; ``n`` images)."""
    rows = np.arange(posterior.shape[0])
    bounds = tables.bounds[:, leaders, :]  # [G, n, C]
    deficit = np.einsum("ng,gnc->nc", unasked.astype(np.float64), bounds) - gaps
    values = np.zeros(unasked.shape)
    means = tables.answer_means()
    for g in range(unasked.shape[1]):
        expected = posterior @ means[g]  # [n, C]: E_pi[w_g q_g(r_cg)]
        rise = bounds[g] + expected[rows, leaders][:, None] - expected
        gained = np.clip(rise, 0.0, np.maximum(deficit, 0.0)) * threat
        values[:, g] = np.where(unasked[:, g], gained.sum(axis=1) / costs[g], 0.0)
    return values


@dataclass(frozen=True, eq=False)
class Margins:
    """The rule tables and, for the images still asked, their leaders, gaps and threats (:func:`threats`)."""

    tables: RuleTables
    leaders: np.ndarray
    gaps: np.ndarray
    threat: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, unasked: np.ndarray, tables: RuleTables) -> Margins:
        """The margins of running ``scores`` ``[n, C]`` with ``unasked`` ``[n, G]`` groups left."""
        return cls(tables, *threats(scores, unasked, tables))

    def sure(self, posterior: np.ndarray, unasked: np.ndarray, epsilon: float) -> np.ndarray:
        """No class threatens the leader (``stop="margin"``), or a flip is less likely than ``epsilon`` > 0."""
        sure = np.logical_not(self.threat.any(axis=1))
        if epsilon > 0:
            for i in np.flatnonzero(~sure):
                leader, gaps, threat = self.leaders[i], self.gaps[i], self.threat[i]
                sure[i] = flip_probability(posterior[i], leader, gaps, threat, unasked[i], self.tables) < epsilon
        return sure

    def values(self, posterior: np.ndarray, unasked: np.ndarray, costs: np.ndarray) -> np.ndarray:
        """``[n, G]`` margin-ranking values (:func:`margin_values`)."""
        return margin_values(posterior, self.leaders, self.gaps, self.threat, unasked, self.tables, costs)


class TrainPool:
    """What ``stop="accuracy"`` resamples: train images' group terms ``[G, J, C]`` and true classes ``[J]``."""

    def __init__(self, terms: np.ndarray, labels: np.ndarray):
        self.terms = np.asarray(terms, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=np.int64)
        if self.terms.ndim != 3 or self.terms.shape[1] != self.labels.size or self.labels.size == 0:
            raise InputError(
                f"train pool needs terms [G, J, C] and J labels, J >= 1 (got {self.terms.shape} "
                f"and {self.labels.size}); fit it with AdaptiveClassifier.fit on labelled train images"
            )
        self.class_counts = np.bincount(self.labels, minlength=self.terms.shape[2]).astype(np.float64)


def accuracy_gain(scores: np.ndarray, posterior: np.ndarray, unasked: np.ndarray, pool: TrainPool) -> float:
    """``gain`` of the module doc for one image: running scores and posterior ``[C]``, unasked groups ``[G]``."""
    leader = int(np.argmax(scores))
    likely = np.argsort(-posterior, kind="stable")[:_MOST_LIKELY]
    likely = likely[(posterior[likely] >= _POOL_FLOOR * posterior.max()) & (pool.class_counts[likely] > 0)]
    keep = np.flatnonzero(np.isin(pool.labels, likely))
    labels = pool.labels[keep]
    weights = posterior[labels] / pool.class_counts[labels]  # each kept class's images share its posterior
    unresampled = max(0.0, 1.0 - float(posterior[likely].sum()))
    remaining = pool.terms[np.ix_(np.flatnonzero(unasked), keep)].sum(axis=0)  # [J', C]
    final = np.argmax(scores[None, :] + remaining, axis=1)
    return float(weights @ ((final == labels).astype(np.float64) - (labels == leader))) + unresampled
