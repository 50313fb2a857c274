"""Knob search: the fast evaluator equals the scorer, no encoding per trial, Pareto front, storage."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from helpers.counting import CountingEncoder

from cotclip.optimizer.search import (
    JOURNAL_NAME,
    KnobEvaluator,
    Knobs,
    SearchSpace,
    knob_search,
    open_storage,
    pareto_table,
    save_pareto_plot,
    search_knobs,
)
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy, class_scores
from cotclip.systems.errors import InputError

POOL = {"color": ("a picture of something {}", "its colour is {}"), "form": ("the creature resembles {}",)}


def _random_knobs(evaluator: KnobEvaluator, rng: np.random.Generator) -> Knobs:
    names = evaluator.system.group_names
    weights = {g: float(rng.choice([0.0, rng.uniform(0.2, 3.0)])) for g in names}
    weights[names[0]] = 1.0
    templates = {g: tuple(v for v in evaluator.variants(g) if rng.random() < 0.5) for g in names}
    return Knobs(
        float(rng.uniform(0.01, 1.0)),
        str(rng.choice(["prob_sum", "log_prob_sum"])),
        float(rng.choice([0.0, 0.7])),
        weights,
        templates,
    )


def test_evaluator_matches_the_scorer_on_the_materialised_system(pokemon):
    system, _, val, _ = pokemon
    evaluator = KnobEvaluator(system, val, SearchSpace(template_pool=POOL))
    rng = np.random.default_rng(0)
    for _ in range(12):
        knobs = _random_knobs(evaluator, rng)
        materialised = evaluator.to_system(knobs)
        np.testing.assert_allclose(evaluator.scores(knobs), class_scores(materialised, val), rtol=2e-4, atol=2e-5)
        assert evaluator.evaluate(knobs).accuracy == pytest.approx(accuracy(materialised, val))
        expected = sum(len(g.options) for g in materialised.groups)
        assert evaluator.prompts(knobs) == expected + (len(system.classes) if knobs.name_prior_weight > 0 else 0)


def test_trials_never_call_the_encoder(pokemon):
    system, _, val, _ = pokemon
    counting = CountingEncoder(val.prompts.encoder)
    fresh = ImageSet(val.embeddings, val.labels, PromptEmbedder(counting))
    evaluator = KnobEvaluator(system, fresh, SearchSpace(template_pool=POOL))
    after_setup = counting.texts
    rng = np.random.default_rng(1)
    for _ in range(50):
        evaluator.evaluate(_random_knobs(evaluator, rng))
    assert after_setup > 0 and counting.texts == after_setup
    knob_search(system, fresh, n_trials=15, space=SearchSpace(template_pool=POOL))
    assert counting.texts == after_setup  # the search's own evaluator found every text memoised


def test_search_starts_from_the_system_and_reports_a_pareto_front(pokemon, tmp_path):
    system, _, val, _ = pokemon
    start = system.evolve(scoring={**system.scoring.model_dump(), "temperature": 1.0})
    result = knob_search(start, val, n_trials=25, run_dir=tmp_path, seed=0)
    assert (tmp_path / JOURNAL_NAME).exists() and result.n_trials == 25
    assert result.best.accuracy >= result.start_accuracy
    assert result.start_accuracy == pytest.approx(accuracy(start, val))
    assert result.best.accuracy == pytest.approx(accuracy(result.best_system, val))
    points = [(p.accuracy, p.prompts) for p in result.front]
    for a, q in points:
        assert not any(a2 >= a and q2 <= q and (a2, q2) != (a, q) for a2, q2 in points)
    assert result.timing.trials == 25 and 0.0 <= result.timing.optuna_share <= 1.0
    json.dumps(result.to_dict())
    assert "(best)" in pareto_table(result)
    assert save_pareto_plot(result, tmp_path / "front.png").stat().st_size > 1000


def test_a_journal_study_resumes_where_it_stopped(pokemon, tmp_path):
    system, _, val, _ = pokemon
    knob_search(system, val, n_trials=10, run_dir=tmp_path)
    resumed = knob_search(system, val, n_trials=25, run_dir=tmp_path)
    assert resumed.n_trials == 25 and resumed.timing.trials == 15


def test_locked_groups_keep_their_knobs(pokemon):
    system, _, val, _ = pokemon
    locked_name = system.groups[1].name
    locked = system.evolve(locks={"groups": [locked_name], "rules": []})
    result = knob_search(locked, val, n_trials=30, space=SearchSpace(template_pool=POOL))
    for point in result.front:
        assert point.system.group(locked_name) == locked.group(locked_name)


def test_storage_specs(tmp_path):
    assert open_storage(None, None)[1] == "memory"
    assert open_storage(None, tmp_path)[1] == str(tmp_path / JOURNAL_NAME)
    sqlite = f"sqlite:///{tmp_path / 'study.db'}"
    assert isinstance(open_storage(sqlite, None)[0], optuna.storages.RDBStorage)
    for bad in ("redis+nope://host", str(tmp_path)):
        with pytest.raises(InputError):
            open_storage(bad, None)


def test_a_study_of_another_system_is_refused(pokemon, tmp_path):
    system, _, val, _ = pokemon
    knob_search(system, val, n_trials=3, run_dir=tmp_path, study_name="shared")
    other = system.evolve(scoring={**system.scoring.model_dump(), "temperature": 0.5})
    with pytest.raises(InputError, match="another system"):
        knob_search(other, val, n_trials=3, run_dir=tmp_path, study_name="shared")


def test_bad_template_pool_is_a_one_line_error(pokemon):
    system, _, val, _ = pokemon
    with pytest.raises(InputError):
        KnobEvaluator(system, val, SearchSpace(template_pool={"no such group": ("{}",)}))
    with pytest.raises(InputError):
        KnobEvaluator(system, val, SearchSpace(template_pool={"color": ("no placeholder",)}))


def test_loop_function_shape(pokemon):
    system, train, val, _ = pokemon
    worse = system.evolve(scoring={**system.scoring.model_dump(), "temperature": 3.0})
    found = search_knobs(worse, train, val, seed=0, budget=30)
    assert len(found) <= 1
    for candidate in found:
        assert accuracy(candidate, val) > accuracy(worse, val)


def test_no_finished_trial_is_a_one_line_error(pokemon):
    system, _, val, _ = pokemon
    with pytest.raises(InputError, match="no search trial finished"):
        knob_search(system, val, n_trials=5, timeout_s=1e-9)
