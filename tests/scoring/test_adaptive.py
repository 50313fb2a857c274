"""Adaptive questioning: the information math on hand-computed cases, and the policy's guarantees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cotclip.scoring.adaptive import (
    AdaptiveClassifier,
    answer_model_from_probabilities,
    entropy_bits,
    expected_information_gain,
    fit_sharpness,
    group_terms,
)
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, class_scores, group_probabilities, predict
from cotclip.scoring.splits import select, split_dataset
from cotclip.scoring.synthetic.encoder import SyntheticEncoder
from cotclip.scoring.synthetic.world import load_world
from cotclip.systems.errors import InputError


@pytest.fixture(scope="module")
def world_sets():
    world = load_world("pokemon-like")
    prompts = PromptEmbedder(SyntheticEncoder(world))
    splits = split_dataset(list(world.labels), seed=0)

    def image_set(*names):
        positions = [p for name in names for p in select(splits, name)]
        return ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], prompts)

    return world.oracle_system(), image_set("train"), image_set("val", "test")


def test_entropy_and_information_gain_match_hand_values():
    assert entropy_bits(np.array([0.5, 0.5])) == pytest.approx(1.0)
    assert entropy_bits(np.array([1.0, 0.0])) == pytest.approx(0.0)
    h = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))  # 0.8113 bits
    uniform = np.array([[0.5, 0.5]])
    noisy = np.array([[0.75, 0.25], [0.25, 0.75]])
    assert expected_information_gain(uniform, np.eye(2))[0] == pytest.approx(1.0)
    assert expected_information_gain(uniform, noisy)[0] == pytest.approx(1.0 - h)
    assert expected_information_gain(uniform, np.array([[0.3, 0.7], [0.3, 0.7]]))[0] == pytest.approx(0.0)
    # A certain posterior learns nothing, whatever the question.
    assert expected_information_gain(np.array([[1.0, 0.0]]), noisy)[0] == pytest.approx(0.0)


def test_answer_model_is_the_smoothed_mean_soft_answer():
    probabilities = [np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])]
    model = answer_model_from_probabilities(probabilities, np.array([0, 0, 1]), ["a", "b"], ["g"], smoothing=1.0)
    # class a: (1.5 + 1, 0.5 + 1) / (2 + 2); class b: (0 + 1, 1 + 1) / (1 + 2)
    np.testing.assert_allclose(model.theta[0], [[2.5 / 4, 1.5 / 4], [1 / 3, 2 / 3]])
    assert model.costs.tolist() == [2]
    json.dumps(model.to_dict())


def test_fit_sharpness_maximises_the_likelihood():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(200, 4))
    labels = np.array([rng.choice(4, p=np.exp(3 * s) / np.exp(3 * s).sum()) for s in scores])
    beta = fit_sharpness(scores, labels)

    def log_likelihood(b):
        z = b * scores
        return float((z[np.arange(200), labels] - np.log(np.exp(z).sum(axis=1))).sum())

    assert 1.5 < beta < 6.0
    assert log_likelihood(beta) >= max(log_likelihood(beta * 0.8), log_likelihood(beta * 1.25))


@pytest.mark.parametrize("aggregation", ["prob_sum", "log_prob_sum"])
def test_group_terms_add_up_to_the_scorer(world_sets, aggregation):
    system, train, _ = world_sets
    first = system.classes[0]
    rules = {c: dict(r) for c, r in system.to_dict()["rules"].items()}
    rules[first][system.groups[0].name] = None  # a null rule adds nothing
    groups = [{**g.model_dump(), "weight": 0.5 + i} for i, g in enumerate(system.groups)]
    variant = system.evolve(rules=rules, groups=groups, scoring={**system.scoring.model_dump(), "aggregation": aggregation})
    terms = group_terms(variant, group_probabilities(variant, train))
    np.testing.assert_allclose(terms.sum(axis=0), class_scores(variant, train), rtol=1e-5, atol=1e-5)


def test_never_stopping_is_exactly_the_full_system(world_sets):
    system, train, held_out = world_sets
    classifier = AdaptiveClassifier.fit(system, train)
    result = classifier.run(held_out, threshold=None)
    np.testing.assert_array_equal(result.predictions, predict(system, held_out))
    assert (result.prompts == classifier.full_prompts).all()
    assert result.asked.all()


def test_stopping_early_saves_prompts_and_respects_the_budget(world_sets):
    system, train, held_out = world_sets
    classifier = AdaptiveClassifier.fit(system, train)
    eager = classifier.run(held_out, threshold=0.5)
    assert eager.mean_prompts < classifier.full_prompts
    budget = classifier.full_prompts // 2
    capped = classifier.run(held_out, threshold=None, budget=budget)
    assert capped.prompts.max() <= budget
    assert (capped.prompts == capped.asked @ classifier.answers.costs).all()
    data = capped.to_dict()
    assert data["budget"] == budget and set(data["group_ask_rate"]) == set(system.group_names)


def test_name_prior_is_paid_up_front(world_sets):
    system, train, held_out = world_sets
    with_prior = system.evolve(scoring={**system.scoring.model_dump(), "name_prior_weight": 0.5})
    classifier = AdaptiveClassifier.fit(with_prior, train)
    result = classifier.run(held_out, threshold=None)
    np.testing.assert_array_equal(result.predictions, predict(with_prior, held_out))
    assert (result.prompts == classifier.answers.costs.sum() + len(system.classes)).all()


def test_curve_reports_table_plot_and_the_full_point(world_sets, tmp_path):
    system, train, held_out = world_sets
    curve = AdaptiveClassifier.fit(system, train).curve(held_out, thresholds=(0.5, 0.9))
    assert [p.threshold for p in curve.points] == [0.5, 0.9]
    assert curve.points[0].mean_prompts <= curve.points[1].mean_prompts
    assert "full system" in curve.table()
    assert curve.save_plot(tmp_path / "curve.png").stat().st_size > 1000
    json.dumps(curve.to_dict())


@pytest.mark.parametrize("kwargs", [{"threshold": 0.0}, {"threshold": 1.5}, {"budget": 0}, {"rank": "loudest"}])
def test_bad_policy_is_a_one_line_error(world_sets, kwargs):
    system, train, held_out = world_sets
    with pytest.raises(InputError):
        AdaptiveClassifier.fit(system, train).run(held_out, **kwargs)
