"""The class-name baseline as a system, the paired final choice, and the verdict against the baseline."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.optimizer.loop.choice import baseline_system, choose_final, versus_baseline
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.runs import RunDir, VersionRecord
from cotclip.scoring.baselines import name_baseline_scores
from cotclip.scoring.scorer import predict


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("choice")
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="none",
        runs_dir=str(root),
        name="c",
        cache_dir=str(root / "cache"),
    )
    run = RunDir.create(config.run_dir)
    yield encode_inputs(load_inputs(config), config, run)
    run.release_lock()


def test_the_baseline_system_predicts_exactly_as_the_class_name_baseline(data, scramble):
    reference = scramble()
    baseline = baseline_system(reference)
    assert baseline.scoring.name_prior_weight == 1.0 and all(
        r is None for rules in baseline.rules.values() for r in rules.values()
    )
    names = np.asarray(name_baseline_scores(baseline.classes, data.test)).argmax(axis=1)
    assert (np.asarray(predict(baseline, data.test)) == names).all()


def test_the_baseline_system_keeps_a_humans_locks(scramble):
    first = scramble().classes[0]
    locked = scramble(locks={"groups": ["shape"], "rules": [[first, "color"]]})
    baseline = baseline_system(locked)
    assert set(baseline.group_names) == {"color", "shape"} and baseline.locks == locked.locks
    assert baseline.rule(first, "color") == locked.rule(first, "color")
    assert all(baseline.rule(c, "shape") == locked.rule(c, "shape") for c in locked.classes)
    assert all(baseline.rule(c, "color") is None for c in locked.classes[1:])


def record(number: int, system, val_accuracy: float, val_n: int = 10) -> VersionRecord:
    return VersionRecord(number, system, val_accuracy, val_n, "test", None, 0, "t", "t")


def test_the_final_choice_breaks_val_ties_on_train_and_val_pooled(monkeypatch, scramble):
    """Correctness per image is scripted: val has 10 images, train 20."""
    import cotclip.optimizer.loop.choice as choice_module

    base = scramble()
    systems = {name: base.evolve(name=name) for name in ("top", "close", "far")}
    val = {"top": [1] * 8 + [0] * 2, "close": [1] * 7 + [0] * 3, "far": [1] * 3 + [0] * 7}
    train = {"top": [1] * 10 + [0] * 10, "close": [1] * 16 + [0] * 4, "far": [1] * 20}

    def scripted(system, images, temperature):
        return np.asarray((val if images == "val" else train)[system.name], dtype=bool)

    monkeypatch.setattr(choice_module, "_correct", scripted)
    versions = [record(1, systems["far"], 0.3), record(2, systems["top"], 0.8), record(3, systems["close"], 0.7)]
    chosen, choice = choose_final(versions, "train", "val")
    # close: 1 image behind on 1 discordant image (1 <= 1.0 * sqrt(1)): tied, and 16 + 7 > 10 + 8 correct pooled
    # far: 5 behind on 5 discordant images (5 > sqrt(5)): not tied, however good on train
    assert (chosen.number, choice.top, choice.tied) == (3, "0002", ["0002", "0003"])
    strict, choice = choose_final(versions, "train", "val", z=0.5)
    assert strict.number == 2 and choice.tied == ["0002"]


def test_the_verdict_says_when_the_choice_is_not_better_than_the_baseline():
    assert versus_baseline(0.8, 0.3, 0.7, 0.3)["note"] is None
    verdict = versus_baseline(0.3, 0.3, 0.2, 0.25)
    assert verdict["val"]["better"] is False and verdict["test"]["better"] is False
    assert verdict["note"] == (
        "the chosen system is NOT better than the class-name baseline on val 30.0% vs "
        "baseline 30.0%; test 20.0% vs baseline 25.0%"
    )
    assert versus_baseline(0.5, None, 0.5, None) == {"val": None, "test": None, "note": None}
