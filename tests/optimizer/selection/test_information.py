"""Mutual information of answer sets: exact on hand-computed cases, Monte Carlo close to exact."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.optimizer.selection.information import JointAnswers, conditional_dependence, set_information

UNIFORM2 = np.array([0.5, 0.5])
NOISY = np.array([[0.75, 0.25], [0.25, 0.75]])


def _h(*p):
    return -sum(x * np.log2(x) for x in p if x > 0)


def test_one_perfect_binary_question_carries_one_bit():
    assert set_information([np.eye(2)], UNIFORM2) == pytest.approx(1.0)
    # Asked twice it is still one bit: the class is already known.
    assert set_information([np.eye(2), np.eye(2)], UNIFORM2) == pytest.approx(1.0)


def test_two_noisy_questions_by_hand():
    # Joint answers: (0,0) and (1,1) have probability .5(.75^2 + .25^2) = .3125, the others .1875.
    h_answers = _h(0.3125, 0.3125, 0.1875, 0.1875)
    h_given_class = 2 * _h(0.75, 0.25)
    assert set_information([NOISY, NOISY], UNIFORM2) == pytest.approx(h_answers - h_given_class)
    assert set_information([NOISY, NOISY], UNIFORM2) == pytest.approx(0.3318, abs=1e-4)


def test_three_classes_with_a_skewed_prior_by_hand():
    prior = np.array([0.5, 0.25, 0.25])
    theta = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # splits class 0 from the rest
    assert set_information([theta], prior) == pytest.approx(1.0)  # H(answer) = H(.5, .5), H(answer|class) = 0


def test_incremental_gains_follow_the_chain_rule():
    rng = np.random.default_rng(1)
    prior = np.full(5, 0.2)
    thetas = [rng.dirichlet(np.ones(k), size=5) for k in (3, 4, 2)]
    state = JointAnswers(prior)
    total = 0.0
    for i, theta in enumerate(thetas):
        total += state.gain(theta, key=i)
        state.add(theta, key=i)
        assert total == pytest.approx(set_information(thetas[: i + 1], prior))
    assert state.exact


def test_monte_carlo_estimate_is_close_to_exact():
    rng = np.random.default_rng(2)
    prior = np.full(6, 1 / 6)
    thetas = [rng.dirichlet(np.ones(4) * 0.5, size=6) for _ in range(3)]
    exact, sampled = JointAnswers(prior), JointAnswers(prior, max_cells=1, samples=20000, seed=3)
    for i, theta in enumerate(thetas[:2]):
        exact.add(theta, key=i)
        sampled.add(theta, key=i)
    assert not sampled.exact
    assert sampled.gain(thetas[2], key=2) == pytest.approx(exact.gain(thetas[2], key=2), abs=0.03)


def test_conditional_dependence_by_hand():
    # Class 0: two images, answers flip together in both groups -> 1 bit of within-class dependence.
    first = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    labels = np.array([0, 0, 1])
    prior = np.array([1.0, 0.0])
    assert conditional_dependence(first, first.copy(), labels, 2, prior, smoothing=0.0) == pytest.approx(1.0)
    # Answers that do not co-vary within the class carry no dependence.
    second = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert conditional_dependence(first, second, labels, 2, prior, smoothing=0.0) == pytest.approx(0.0)


def test_monte_carlo_survives_answers_too_unlikely_for_floating_point():
    # 120 uninformative questions with 1000 answers each put every sample's log posterior near
    # -830 nats, far below where exp() underflows: the estimate must shift by each sample's maximum.
    state = JointAnswers(UNIFORM2, max_cells=1, samples=500, seed=0)
    wide = np.full((2, 1000), 1e-3)
    for key in range(120):
        state.add(wide, key=key)
    assert state.log_posterior.max() < -800
    sure = np.array([[1 - 1e-12, 1e-12], [1e-12, 1 - 1e-12]])
    assert state.gain(sure, key=999) == pytest.approx(1.0, abs=1e-6)
    assert state.gain(NOISY, key=998) == pytest.approx(1 - _h(0.75, 0.25), abs=0.05)
