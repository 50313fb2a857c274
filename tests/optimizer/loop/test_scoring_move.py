"""``tune_scoring``: scoring knobs fitted on train accuracy, locks kept, no val evaluation spent inside."""

from __future__ import annotations

import pytest

from cotclip.optimizer.loop import MoveContext
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.loop.scoring_move import TuneScoringMove
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import accuracy
from cotclip.scoring.simulation.world import load_world


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="none",
        runs_dir=str(root),
        name="t",
        cache_dir=str(root / "cache"),
    )
    run = RunDir.create(config.run_dir)
    yield encode_inputs(load_inputs(config), config, run)
    run.release_lock()


def context(data, system) -> MoveContext:
    return MoveContext(train=data.train, val=data.val, diagnostics=diagnose(system, data.train), history=[], seed=0)


def test_knobs_fitted_on_train_beat_the_seed_defaults_without_touching_rules(data):
    oracle = load_world("pokemon-like").oracle_system()
    plain = oracle.evolve(scoring={**oracle.scoring.model_dump(), "temperature": 1.0})  # the seed's literal T
    result = TuneScoringMove().propose(plain, context(data, plain))
    assert 1 <= len(result.candidates) <= 2 and result.evaluations == 0
    grid, *weighted = result.candidates
    assert accuracy(grid, data.train) > accuracy(plain, data.train)
    for candidate in result.candidates:
        kept = set(candidate.group_names)
        assert all(candidate.rule(c, g) == plain.rule(c, g) for c in plain.classes for g in kept)
        assert candidate.fingerprint() != plain.fingerprint()
    if weighted:
        assert accuracy(weighted[0], data.train) > accuracy(grid, data.train)
    assert set(result.details) == {"grid", "weights"}


def test_locked_groups_keep_their_weight_and_a_fitted_system_is_a_fixed_point(data):
    oracle = load_world("pokemon-like").oracle_system()
    locked = oracle.evolve(locks={"groups": ["color"], "rules": []})
    move = TuneScoringMove()
    result = move.propose(locked, context(data, locked))
    assert all(c.group("color").weight == 1.0 for c in result.candidates)
    final = result.candidates[-1]
    again = move.propose(final, context(data, final))
    assert again.candidates == []  # nothing left that wins a train image
