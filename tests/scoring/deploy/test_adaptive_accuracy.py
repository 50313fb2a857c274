"""The accuracy stop of adaptive questioning: the resampled gain on hand-computed cases, and the rule's guarantees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cotclip.scoring.deploy.adaptive import AdaptiveClassifier, answer_model_from_probabilities, group_terms
from cotclip.scoring.deploy.adaptive_model import log_softmax
from cotclip.scoring.deploy.adaptive_stops import TrainPool, accuracy_gain
from cotclip.systems.errors import InputError


def _pool(second_group_terms, labels):
    """A pool of two groups over two classes whose first group is already asked (its terms do not matter)."""
    second = np.asarray(second_group_terms, dtype=np.float64)
    return TrainPool(np.stack([np.zeros_like(second), second]), np.asarray(labels))


def test_gain_is_chance_full_decision_right_minus_chance_leader_right():
    scores, posterior, unasked = np.array([0.5, 0.3]), np.array([0.7, 0.3]), np.array([False, True])
    # Both train images' second answers would turn the decision to the wrong class.
    misleading = _pool([[0.0, 0.4], [0.1, 0.2]], [0, 1])  # finals: class 1 (true 0), class 0 (true 1)
    assert accuracy_gain(scores, posterior, unasked, misleading) == pytest.approx(0.0 - 0.7)
    # Both would make the final decision right: certain accuracy minus the leader's 0.7.
    helpful = _pool([[0.2, 0.0], [0.0, 0.5]], [0, 1])  # finals: class 0 (true 0), class 1 (true 1)
    assert accuracy_gain(scores, posterior, unasked, helpful) == pytest.approx(1.0 - 0.7)


def test_gain_weighs_train_images_by_class_posterior_over_class_size():
    scores, posterior, unasked = np.array([0.5, 0.3]), np.array([0.6, 0.4]), np.array([False, True])
    # Two class-0 images (one flips the decision to class 1, wrong), one class-1 image (stays at 0, wrong).
    pool = _pool([[0.0, 0.4], [0.0, 0.0], [0.0, 0.1]], [0, 0, 1])
    # full right: 0.3 (the non-flipping class-0 image); leader right: 0.6 (class 0's mass).
    assert accuracy_gain(scores, posterior, unasked, pool) == pytest.approx(0.3 - 0.6)
    # Nothing left to ask: the decision cannot change, the gain is 0.
    assert accuracy_gain(scores, posterior, np.array([False, False]), pool) == pytest.approx(0.0)


def test_bad_pool_is_a_one_line_error():
    with pytest.raises(InputError, match="train pool"):
        TrainPool(np.zeros((2, 3, 4)), np.array([0, 1]))


def _random_case(rng, aggregation, n_classes=6, n_groups=4, n_images=60):
    from cotclip.systems.model import System

    sizes = rng.integers(2, 5, size=n_groups)
    groups = [
        {"name": f"g{g}", "prompt": "a {} thing", "options": [f"o{i}" for i in range(k)], "weight": 1.0}
        for g, k in enumerate(sizes)
    ]
    rules = {f"c{c}": {f"g{g}": int(rng.integers(k)) for g, k in enumerate(sizes)} for c in range(n_classes)}
    system = System.model_validate(
        {
            "name": "random",
            "classes": list(rules),
            "groups": groups,
            "rules": rules,
            "scoring": {"aggregation": aggregation},
        }
    )
    probabilities = [rng.dirichlet(np.full(k, 0.3), size=n_images) for k in sizes]
    labels = rng.integers(n_classes, size=n_images)
    answers = answer_model_from_probabilities(probabilities, labels, system.classes, system.group_names)
    terms = group_terms(system, probabilities)
    pool = TrainPool(terms[:, : n_images // 2], labels[: n_images // 2])
    classifier = AdaptiveClassifier(system, answers, sharpness=float(rng.uniform(0.5, 5)), pool=pool)
    return classifier, probabilities, terms


@pytest.mark.parametrize("aggregation", ["prob_sum", "log_prob_sum"])
def test_accuracy_stop_stops_only_where_the_gain_is_below_epsilon(aggregation):
    rng = np.random.default_rng(3)
    stopped_early = 0
    for _ in range(8):
        classifier, probabilities, terms = _random_case(rng, aggregation)
        scores = terms.sum(axis=0)
        runs = [classifier.run_arrays(probabilities, scores, stop="accuracy", epsilon=e) for e in (0.0, 0.05, 0.2, 0.5)]
        for tighter, looser in zip(runs, runs[1:]):
            assert (looser.prompts <= tighter.prompts).all()  # the path does not depend on epsilon
        result = runs[2]
        for i in np.flatnonzero(~result.asked.all(axis=1)):
            running = terms[result.asked[i], i].sum(axis=0)
            posterior = np.exp(log_softmax(classifier.sharpness * running))
            assert accuracy_gain(running, posterior, ~result.asked[i], classifier.pool) < 0.2
            assert result.predictions[i] == running.argmax()
            stopped_early += 1
        assert result.stop == "accuracy" and result.to_dict()["epsilon"] == 0.2
    assert stopped_early > 0


def test_accuracy_curve_on_the_world(world_sets):
    system, train, held_out = world_sets
    classifier = AdaptiveClassifier.fit(system, train)
    assert classifier.pool.labels.size == len(train.labels)
    curve = classifier.curve(held_out, stop="accuracy", epsilons=(0.2, 0.05, 0.0))
    prompts = [p.mean_prompts for p in curve.points]
    assert prompts == sorted(prompts) and prompts[0] < classifier.full_prompts
    assert "| epsilon |" in curve.table() and json.dumps(curve.to_dict())


def test_accuracy_stop_needs_the_train_pool(world_sets):
    system, train, held_out = world_sets
    fitted = AdaptiveClassifier.fit(system, train)
    without_pool = AdaptiveClassifier(system, fitted.answers, fitted.sharpness)
    with pytest.raises(InputError, match="AdaptiveClassifier.fit"):
        without_pool.run(held_out, stop="accuracy")


def test_mass_of_classes_beyond_the_32_most_probable_counts_as_certain_gain():
    n = 40
    pool = TrainPool(np.zeros((1, n, n)), np.arange(n))  # one train image per class, one (asked) group
    posterior = np.full(n, 1.0 / n)
    # Resampled (32 classes): final = leader = class 0, right only for class 0's image: 1/40 - 1/40 = 0.
    # The 8 classes left out count as certain gain: 8/40.
    gain = accuracy_gain(np.zeros(n), posterior, np.array([False]), pool)
    assert gain == pytest.approx(8 / n)
