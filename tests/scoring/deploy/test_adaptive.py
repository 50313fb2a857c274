"""Adaptive questioning: the information math on hand-computed cases, and the policy's guarantees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cotclip.scoring.deploy.adaptive import (
    AdaptiveClassifier,
    answer_model_from_probabilities,
    entropy_bits,
    expected_information_gain,
    fit_sharpness,
    group_terms,
)
from cotclip.scoring.scorer import class_scores, group_probabilities, predict
from cotclip.systems.errors import InputError


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
    variant = system.evolve(
        rules=rules, groups=groups, scoring={**system.scoring.model_dump(), "aggregation": aggregation}
    )
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


# ----- margin and flip stops (cotclip.scoring.deploy.adaptive_stops) ---------------------------------------
def _tiny_system(aggregation="prob_sum", rules=None, weights=(1.0, 1.0)):
    from cotclip.systems.model import System

    rules = rules or {"a": {"g0": 0, "g1": 0}, "b": {"g0": 1, "g1": 1}}
    return System.model_validate(
        {
            "name": "tiny",
            "classes": list(rules),
            "groups": [
                {"name": f"g{i}", "prompt": "a {} thing", "options": ["p", "q", "r"], "weight": w}
                for i, w in enumerate(weights)
            ],
            "rules": rules,
            "scoring": {"aggregation": aggregation},
        }
    )


def test_rule_tables_bound_what_each_group_can_add():
    from cotclip.scoring.deploy.adaptive_stops import rule_tables

    rules = {"a": {"g0": 0, "g1": 2}, "b": {"g0": 1, "g1": 2}, "c": {"g0": None, "g1": 0}}
    tables = rule_tables(_tiny_system(rules=rules, weights=(2.0, 1.0)))
    # g0 (weight 2): b can gain 2 on a; c (null) can gain nothing; a can gain 2 on c.
    np.testing.assert_allclose(tables.bounds[0], [[0, 2, 0], [2, 0, 0], [2, 2, 0]])
    # g1: a and b share option 2, so neither can gain on the other there.
    np.testing.assert_allclose(tables.bounds[1], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    log_tables = rule_tables(_tiny_system("log_prob_sum", rules=rules, weights=(2.0, 1.0)))
    assert log_tables.bounds[0, 0, 1] == pytest.approx(-2.0 * np.log(1e-12))


def test_margin_stop_skips_a_group_that_cannot_change_the_decision():
    system = _tiny_system(weights=(3.0, 1.0))
    probabilities = [np.array([[0.9, 0.05, 0.05]]), np.array([[0.0, 1.0, 0.0]])]
    train = [np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3]])]
    answers = answer_model_from_probabilities(train, np.array([0, 1]), system.classes, system.group_names)
    classifier = AdaptiveClassifier(system, answers, sharpness=1.0)
    scores = group_terms(system, probabilities).sum(axis=0)
    result = classifier.run_arrays(probabilities, scores, stop="margin")
    # g0 first (it tells a from b on train); gap 3 * 0.85 = 2.55 > g1's weight 1: stop.
    assert result.asked.tolist() == [[True, False]] and result.predictions.tolist() == [0]


def _random_case(rng, aggregation, n_classes=6, n_groups=4, n_images=60):
    from cotclip.systems.model import System

    sizes = rng.integers(2, 5, size=n_groups)
    groups = [
        {
            "name": f"g{g}",
            "prompt": "a {} thing",
            "options": [f"o{i}" for i in range(k)],
            "weight": float(rng.uniform(0.2, 2)),
        }
        for g, k in enumerate(sizes)
    ]
    rules = {
        f"c{c}": {f"g{g}": (None if rng.random() < 0.15 else int(rng.integers(k))) for g, k in enumerate(sizes)}
        for c in range(n_classes)
    }
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
    scores = group_terms(system, probabilities).sum(axis=0)
    return AdaptiveClassifier(system, answers, sharpness=float(rng.uniform(0.5, 5))), probabilities, scores


@pytest.mark.parametrize("aggregation", ["prob_sum", "log_prob_sum"])
@pytest.mark.parametrize("rank", ["gain", "margin_per_prompt"])
def test_margin_stop_never_changes_a_prediction_on_random_systems(aggregation, rank):
    rng = np.random.default_rng(7)
    saved = 0
    for _ in range(15):
        classifier, probabilities, scores = _random_case(rng, aggregation)
        result = classifier.run_arrays(probabilities, scores, stop="margin", rank=rank)
        np.testing.assert_array_equal(result.predictions, scores.argmax(axis=1))
        saved += int((result.prompts < classifier.full_prompts).sum())
    if aggregation == "prob_sum":
        assert saved > 0  # the rule does stop early (log_prob_sum's floor makes its bound loose)


def test_flip_stop_is_monotone_in_epsilon_and_exact_at_zero():
    rng = np.random.default_rng(11)
    for _ in range(10):
        classifier, probabilities, scores = _random_case(rng, "prob_sum")
        runs = [
            classifier.run_arrays(probabilities, scores, stop="flip", epsilon=e) for e in (0.0, 0.01, 0.1, 0.3, 0.6)
        ]
        for tighter, looser in zip(runs, runs[1:]):
            assert (looser.prompts <= tighter.prompts).all()
        exact = classifier.run_arrays(probabilities, scores, stop="margin")
        np.testing.assert_array_equal(runs[0].prompts, exact.prompts)
        np.testing.assert_array_equal(runs[0].predictions, scores.argmax(axis=1))
        assert runs[-1].to_dict()["epsilon"] == 0.6 and runs[-1].stop == "flip"


def test_flip_and_margin_curves_on_the_world(world_sets):
    system, train, held_out = world_sets
    classifier = AdaptiveClassifier.fit(system, train)
    exact = classifier.curve(held_out, stop="margin")
    assert len(exact.points) == 1 and exact.points[0].accuracy == exact.full_accuracy
    flip = classifier.curve(held_out, stop="flip", epsilons=(0.3, 0.0))
    assert flip.points[0].mean_prompts <= flip.points[1].mean_prompts == exact.points[0].mean_prompts
    assert "| epsilon |" in flip.table() and json.dumps(flip.to_dict())


@pytest.mark.parametrize("kwargs", [{"stop": "never"}, {"epsilon": 1.0}, {"epsilon": -0.1}])
def test_bad_stop_is_a_one_line_error(world_sets, kwargs):
    system, train, held_out = world_sets
    with pytest.raises(InputError):
        AdaptiveClassifier.fit(system, train).run(held_out, **kwargs)


def test_flip_stop_needs_prob_sum(world_sets):
    system, train, held_out = world_sets
    log_system = system.evolve(scoring={**system.scoring.model_dump(), "aggregation": "log_prob_sum"})
    with pytest.raises(InputError, match="prob_sum"):
        AdaptiveClassifier.fit(log_system, train).run(held_out, stop="flip")


def test_the_flip_stop_and_margin_ranking_refuse_tables_without_an_answer_model():
    from cotclip.scoring.deploy.adaptive_stops import flip_probability, margin_values, rule_tables

    tables = rule_tables(_tiny_system())  # no theta: bounds only
    assert tables.means is None
    posterior, unasked = np.array([0.5, 0.5]), np.array([True, True])
    with pytest.raises(InputError, match=r"rule_tables\(system, theta\)"):
        flip_probability(posterior, 0, np.array([0.0, 0.1]), np.array([False, True]), unasked, tables)
    with pytest.raises(InputError, match=r"rule_tables\(system, theta\)"):
        leaders, gaps, threat = np.array([0]), np.zeros((1, 2)), np.ones((1, 2), bool)
        margin_values(posterior[None], leaders, gaps, threat, unasked[None], tables, np.ones(2))


def test_a_policy_run_equals_the_same_settings_as_arguments():
    from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy

    system = _tiny_system(weights=(3.0, 1.0))
    probabilities = [np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]), np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])]
    train = [np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3]])]
    answers = answer_model_from_probabilities(train, np.array([0, 1]), system.classes, system.group_names)
    classifier = AdaptiveClassifier(system, answers, sharpness=1.0)
    scores = group_terms(system, probabilities).sum(axis=0)
    by_arguments = classifier.run_arrays(probabilities, scores, threshold=None, stop="flip", epsilon=0.2)
    by_policy = classifier.run_policy(probabilities, scores, AdaptivePolicy(None, None, "gain", "flip", 0.2))
    assert by_policy.to_dict() == by_arguments.to_dict()
    np.testing.assert_array_equal(by_policy.asked, by_arguments.asked)
    with pytest.raises(InputError, match="unknown stop 'sometimes'"):
        classifier.run_policy(probabilities, scores, AdaptivePolicy(stop="sometimes"))
