"""Mutual information between the class and a set of answers, under the answer model.

With class prior ``p(c)`` and class-conditional answer distributions ``theta_g[c]``
(:class:`cotclip.scoring.deploy.adaptive.AnswerModel`), and answers *conditionally
independent given the class*::

    p(a_S | c) = prod_{g in S} theta_g[c, a_g]
    I(C; A_S)  = H(A_S) - H(A_S | C),   H(A_S | C) = sum_c p(c) sum_{g in S} H(theta_g[c])

``H(A_S)`` is the entropy of the mixture ``sum_c p(c) p(a_S|c)`` over the joint answer
space. :class:`JointAnswers` enumerates that space exactly while it has at most
``max_cells`` cells (classes x answer combinations); beyond, it estimates
``H(C | A_S)`` by Monte Carlo with fixed samples (common random numbers, so the
candidates of one greedy step are compared on the same samples). All values in bits.

Redundancy (:func:`conditional_dependence`) measures what the independence assumption
ignores: ``I(A_g; A_h | C)`` estimated from train soft answers, with the joint answer
distribution per class ``p(a, b | c)`` = mean over class-``c`` images of the outer
product ``q_g(a|x) q_h(b|x)``, smoothed with a total pseudo-count ``smoothing`` spread
evenly over the ``k_g * k_h`` cells. It is 0 when the answers co-vary no more than
independence predicts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cotclip.scoring.deploy.adaptive import entropy_bits

__all__ = ["set_information", "JointAnswers", "conditional_dependence"]


def set_information(thetas: Sequence[np.ndarray], prior: np.ndarray) -> float:
    """Exact ``I(C; A_S)`` in bits by enumerating the joint answer space (small sets only)."""
    prior = np.asarray(prior, dtype=np.float64)
    joint = prior[:, None]
    for theta in thetas:
        joint = (joint[:, :, None] * theta[:, None, :]).reshape(prior.size, -1)
    conditional = sum((prior * entropy_bits(theta)).sum() for theta in thetas)
    return float(entropy_bits(joint.sum(axis=0)) - conditional)


class JointAnswers:
    """The answers to a growing set of questions, for incremental information gains.

    ``gain(theta)`` is ``I(C; A_g | A_S) = I(C; A_{S+g}) - I(C; A_S)`` for a candidate
    with class-conditional answers ``theta`` (``[C, k]``); ``add(theta)`` puts it in ``S``.
    """

    def __init__(self, prior: np.ndarray, *, max_cells: int = 2_000_000, samples: int = 4096, seed: int = 0) -> None:
        self.prior = np.asarray(prior, dtype=np.float64)
        self.max_cells = max_cells
        self.joint: np.ndarray | None = self.prior[:, None].copy()
        self.answer_entropy = 0.0
        self.seed = seed
        self.sample_classes = np.random.default_rng(seed).choice(self.prior.size, size=samples, p=self.prior)
        self.log_posterior = np.tile(np.log(np.maximum(self.prior, 1e-300)), (samples, 1))

    @property
    def exact(self) -> bool:
        """Whether the joint answer space is still enumerated."""
        return self.joint is not None

    def _joint_if_fits(self, theta: np.ndarray) -> np.ndarray | None:
        """The enumerated joint while adding ``theta``'s answers keeps it within ``max_cells``; else None."""
        if self.joint is None or self.joint.size * theta.shape[1] > self.max_cells:
            return None
        return self.joint

    def _sample_answers(self, theta: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        cdf = np.cumsum(theta[self.sample_classes], axis=1)
        return np.minimum((cdf < uniforms[:, None]).sum(axis=1), theta.shape[1] - 1)

    def _posterior_entropy(self, log_posterior: np.ndarray) -> float:
        shifted = log_posterior - log_posterior.max(axis=1, keepdims=True)
        posterior = np.exp(shifted)
        posterior /= posterior.sum(axis=1, keepdims=True)
        return float(entropy_bits(posterior).mean())

    def gain(self, theta: np.ndarray, key: int = 0) -> float:
        """``I(C; A_g | A_S)`` in bits (exact when small; Monte Carlo otherwise).

        ``key`` picks the candidate's own uniform stream in Monte Carlo mode so that two
        candidates with equal ``theta`` get equal estimates.
        """
        enumerated = self._joint_if_fits(theta)
        if enumerated is not None:
            joint = (enumerated[:, :, None] * theta[:, None, :]).reshape(self.prior.size, -1)
            conditional = float((self.prior * entropy_bits(theta)).sum())
            return float(entropy_bits(joint.sum(axis=0))) - self.answer_entropy - conditional
        answers = self._sample_answers(theta, self._uniforms_for(key))
        after = self.log_posterior + np.log(theta[:, answers].T)
        return self._posterior_entropy(self.log_posterior) - self._posterior_entropy(after)

    def _uniforms_for(self, key: int) -> np.ndarray:
        # Each candidate's answers come from its own stream, turned into answers by inverse CDF.
        return np.random.default_rng([self.seed, key]).random(self.sample_classes.size)

    def add(self, theta: np.ndarray, key: int = 0) -> None:
        """Put the question with answers ``theta`` into the set."""
        answers = self._sample_answers(theta, self._uniforms_for(key))
        self.log_posterior = self.log_posterior + np.log(theta[:, answers].T)
        enumerated = self._joint_if_fits(theta)
        if enumerated is not None:
            self.joint = (enumerated[:, :, None] * theta[:, None, :]).reshape(self.prior.size, -1)
            self.answer_entropy = float(entropy_bits(self.joint.sum(axis=0)))
        else:
            self.joint = None


def conditional_dependence(
    first: np.ndarray,
    second: np.ndarray,
    label_indices: np.ndarray,
    n_classes: int,
    prior: np.ndarray,
    smoothing: float = 0.5,
) -> float:
    """``I(A_g; A_h | C)`` in bits from soft answers ``[N, k_g]``, ``[N, k_h]`` of labelled images."""
    labels = np.asarray(label_indices, dtype=np.int64)
    k, m = first.shape[1], second.shape[1]
    total = 0.0
    for c in range(n_classes):
        rows = labels == c
        if prior[c] == 0 or (not rows.any() and smoothing == 0):
            continue
        joint = np.einsum("na,nb->ab", first[rows].astype(np.float64), second[rows].astype(np.float64))
        joint = (joint + smoothing / (k * m)) / (rows.sum() + smoothing)
        outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
        cells = joint > 0  # 0 log 0 = 0; a positive cell has positive marginals
        total += prior[c] * float(np.sum(joint[cells] * np.log2(joint[cells] / outer[cells])))
    return total
