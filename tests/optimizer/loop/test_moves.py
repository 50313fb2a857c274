"""Merge, revise-then-fit and the search-function wrapper as moves."""

from __future__ import annotations

import pytest

from cotclip.optimizer.loop._base import MoveContext
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.merge import MergeMove, merged_structure
from cotclip.optimizer.loop.moves import FitRulesMove, FunctionMove, LLMRevisionMove, build_moves
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers._base import ScoredVersion
from cotclip.optimizer.proposers.simulated import simulated_proposer_for
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import accuracy
from cotclip.scoring.synthetic.world import load_world
from cotclip.systems.errors import InputError
from cotclip.systems.model import System


@pytest.fixture()
def prepared(tmp_path):
    config = RunConfig(data="synthetic:pokemon-like", model="synthetic", lm="simulated", runs_dir=str(tmp_path),
                       name="p", cache_dir=str(tmp_path / "cache"))
    run = RunDir.create(config.run_dir)
    inputs = load_inputs(config)
    data = encode_inputs(inputs, config, run)
    yield config, inputs, data
    run.release_lock()


def context(data, system: System, history: list[ScoredVersion] = ()) -> MoveContext:
    return MoveContext(train=data.train, val=data.val, diagnostics=diagnose(system, data.train),
                       history=list(history), seed=0)


def without_options(system: System, group: str, keep: int) -> System:
    groups = [g.model_dump(mode="json") for g in system.groups]
    for g in groups:
        if g["name"] == group:
            g["options"] = g["options"][:keep]
    rules = {c: {g.name: (r if (r := system.rule(c, g.name)) is None or g.name != group or r < keep else None)
                 for g in system.groups} for c in system.classes}
    return system.evolve(groups=groups, rules=rules)


def test_merge_pools_options_of_other_versions_and_fits_them(prepared):
    _, _, data = prepared
    oracle = load_world("pokemon-like").oracle_system()
    short = without_options(oracle, "form", keep=4)
    groups, added = merged_structure(short, [oracle], max_options=24)
    assert added == len(oracle.group("form").options) - 4
    assert [g["options"] for g in groups if g["name"] == "form"][0] == oracle.group("form").options
    history = [ScoredVersion(system=oracle, val_accuracy=0.8, move="propose")]
    result = MergeMove(FitRulesMove()).propose(short, context(data, short, history))
    merged = result.candidates[0]
    assert result.details["added_options"] == added
    assert accuracy(merged, data.train) > accuracy(short, data.train)
    locked = short.evolve(locks={"groups": ["form"], "rules": []})
    _, added_locked = merged_structure(locked, [oracle], max_options=24)
    assert added_locked == 0


def test_revision_is_recorded_raw_and_refitted(prepared, scramble):
    _, inputs, data = prepared
    proposer = simulated_proposer_for(inputs.dataset, seed=0)
    parent = scramble()
    move = LLMRevisionMove(proposer, n_revisions=2, fit=FitRulesMove())
    result = move.propose(parent, context(data, parent))
    assert 2 <= len(result.candidates) <= 4 and not result.errors
    plain = LLMRevisionMove(proposer, n_revisions=1).propose(parent, context(data, parent))
    assert len(plain.candidates) == 1


def test_function_moves_charge_their_budget_and_missing_functions_are_errors(prepared, scramble):
    config, _, data = prepared
    calls = []

    def search(system, train, val, *, seed, budget):
        calls.append((train is data.train, val is data.val, budget))
        return system.evolve(scoring={"temperature": 0.07})

    parent = scramble()
    limited = MoveContext(train=data.train, val=data.val, diagnostics=diagnose(parent, data.train), history=[],
                          seed=0, evaluation_budget=7)
    result = FunctionMove("knob_search", search, budget=30).propose(parent, limited)
    assert calls == [(True, True, 7)] and result.evaluations == 7 and len(result.candidates) == 1
    assert [m.name for m in build_moves(config, object())] == ["fit_rules", "refine_rules", "merge", "llm_revise", "tune_scoring"]
    with pytest.raises(InputError, match="needs a proposer"):
        build_moves(config, None)


def test_a_revision_the_llm_cannot_make_valid_is_reported_not_fatal(prepared, scramble):
    from dspy.utils import DummyLM

    from cotclip.optimizer.llm.lm import LLMClient, LMConfig
    from cotclip.optimizer.proposers.llm import LLMProposer

    _, _, data = prepared
    proposer = LLMProposer(LLMClient(LMConfig(model="openai/never-valid"), lm=DummyLM([{"answer": "no"}] * 20)))
    parent = scramble()
    result = LLMRevisionMove(proposer, n_revisions=2, fit=FitRulesMove()).propose(parent, context(data, parent))
    assert result.candidates == [] and len(result.errors) == 2
    assert proposer.usage.calls >= 2
