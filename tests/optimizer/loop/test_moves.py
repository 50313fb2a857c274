"""Merge, revise-then-fit and the search-function wrapper as moves."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.optimizer.loop import MoveContext
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.merge import MergeMove, merged_structure
from cotclip.optimizer.loop.moves import FitRulesMove, FunctionMove, LLMRevisionMove, build_moves
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers import ScoredVersion
from cotclip.optimizer.proposers.simulated import simulated_proposer_for
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import accuracy
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import InputError
from cotclip.systems.model import System


@pytest.fixture()
def prepared(tmp_path):
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="simulated",
        runs_dir=str(tmp_path),
        name="p",
        cache_dir=str(tmp_path / "cache"),
    )
    run = RunDir.create(config.run_dir)
    inputs = load_inputs(config)
    data = encode_inputs(inputs, config, run)
    yield config, inputs, data
    run.release_lock()


def context(data, system: System, history: list[ScoredVersion] = ()) -> MoveContext:
    return MoveContext(
        train=data.train, val=data.val, diagnostics=diagnose(system, data.train), history=list(history), seed=0
    )


def without_options(system: System, group: str, keep: int) -> System:
    groups = [g.model_dump(mode="json") for g in system.groups]
    for g in groups:
        if g["name"] == group:
            g["options"] = g["options"][:keep]
    rules = {
        c: {
            g.name: (r if (r := system.rule(c, g.name)) is None or g.name != group or r < keep else None)
            for g in system.groups
        }
        for c in system.classes
    }
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
    limited = MoveContext(
        train=data.train,
        val=data.val,
        diagnostics=diagnose(parent, data.train),
        history=[],
        seed=0,
        evaluation_budget=7,
    )
    result = FunctionMove("knob_search", search, budget=30).propose(parent, limited)
    assert calls == [(True, True, 7)] and result.evaluations == 7 and len(result.candidates) == 1
    assert [m.name for m in build_moves(config, object())] == [
        "fit_rules",
        "refine_rules",
        "merge",
        "llm_revise",
        "tune_scoring",
    ]
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


def _expected_changes(
    parent: System, train, min_evidence: float, temperature: float | None = None
) -> tuple[list[list], list[float]]:
    """The changes rule fitting should make, from the documented rule: the favoured option's paired
    t-statistic against the current option (against 1/k for a null rule) must reach ``min_evidence``."""
    import math
    import statistics

    from cotclip.scoring.scorer import group_probabilities

    truth = [parent.classes.index(label) for label in train.labels]
    expected, candidates = [], []
    for group, probs in zip(parent.groups, group_probabilities(parent, train, temperature=temperature)):
        for class_index, name in enumerate(parent.classes):
            rows = [row for row, c in zip(probs.tolist(), truth) if c == class_index]
            means = [sum(column) / len(rows) for column in zip(*rows)]
            favoured, current = means.index(max(means)), parent.rule(name, group.name)
            if len(rows) < 2 or favoured == current:
                continue
            diff = [row[favoured] - (row[current] if current is not None else 1 / len(group.options)) for row in rows]
            evidence = statistics.mean(diff) / (statistics.stdev(diff) / math.sqrt(len(diff)))
            candidates.append(evidence)
            if evidence >= min_evidence:
                expected.append([name, group.name, current, favoured, evidence])
    return expected, candidates


def test_rule_fitting_at_an_intermediate_threshold_and_with_null_rules(prepared, scramble):
    _, _, data = prepared
    scrambled = scramble()
    rng = np.random.default_rng(4)
    rules = {
        c: {g: (None if rng.random() < 0.4 else r) for g, r in scrambled.rules[c].items()} for c in scrambled.classes
    }
    parent = scrambled.evolve(rules=rules)
    _, evidences = _expected_changes(parent, data.train, 0.0)
    threshold = float(np.median(evidences))
    expected, _ = _expected_changes(parent, data.train, threshold)
    assert 0 < len(expected) < len(evidences) and any(change[2] is None for change in expected)
    assert any(0.25 * threshold <= e < threshold for e in evidences)  # a quarter of the threshold would be caught
    result = FitRulesMove(min_evidence=threshold).propose(parent, context(data, parent))
    changes = result.details["changes"]
    assert [c[:4] for c in changes] == [c[:4] for c in expected]
    assert [c[4] for c in changes] == pytest.approx([round(c[4], 3) for c in expected], abs=1e-3)
    fitted = result.candidates[0]
    for name, group, _, favoured, _ in expected:
        assert fitted.rule(name, group) == favoured


class FixedTexts:
    """A text encoder with hand-set embeddings (``navy`` embeds exactly like ``blue``)."""

    identity, dim = "test:fixed-texts", 3
    rows = {"it is red": [1.0, 0.0, 0.0], "it is blue": [0.0, 1.0, 0.0], "it is navy": [0.0, 1.0, 0.0]}

    def encode_texts(self, texts):
        return np.array([self.rows[t] for t in texts], dtype=np.float32)


def _hand_made():
    """Classes whose favoured colour is certain (a: 3 equal images, c: 1 image), tied (b: blue = navy) or
    noisy (d: 2 images of different margins); every rule starts on an option the images disagree with."""
    from cotclip.scoring.scorer import ImageSet, PromptEmbedder

    system = System.from_data(
        {
            "name": "hand",
            "classes": ["a", "b", "c", "d"],
            "groups": [{"name": "color", "prompt": "it is {}", "options": ["red", "blue", "navy"]}],
            "rules": {"a": {"color": 1}, "b": {"color": 2}, "c": {"color": 1}, "d": {"color": 1}},
        }
    )
    images = [[1, 0.2, 0]] * 3 + [[0, 1, 0.3]] * 2 + [[1, 0.1, 0]] + [[1, 0.3, 0], [1, 0.6, 0]]
    train = ImageSet(np.array(images), ["a"] * 3 + ["b"] * 2 + ["c"] + ["d"] * 2, PromptEmbedder(FixedTexts()))
    return system, MoveContext(train=train, val=train, diagnostics=None, history=[], seed=0)


def _changed(move: FitRulesMove, system: System, ctx) -> dict[str, int | None]:
    return {c[0]: c[3] for c in move.propose(system, ctx).details.get("changes", [])}


def test_rule_fitting_edge_cases_of_the_evidence():
    system, ctx = _hand_made()
    # no spread: certain evidence passes any threshold, also for a single image; two noisy images do not
    assert _changed(FitRulesMove(min_images=1, min_evidence=1e9), system, ctx) == {"a": 0, "c": 0}
    # a tie with the current option (navy = blue) is no evidence: zero, which reaches only a zero threshold
    assert "b" not in _changed(FitRulesMove(), system, ctx)
    assert _changed(FitRulesMove(min_evidence=0.0), system, ctx) == {"a": 0, "b": 1, "d": 0}  # c: 1 image < 2
    assert FitRulesMove(min_images=1000).propose(system, ctx).details == {"changed_rules": 0}
    locked = system.evolve(locks={"groups": [], "rules": [["a", "color"]]})
    assert _changed(FitRulesMove(min_evidence=0.0), locked, ctx) == {"b": 1, "d": 0}


def test_rule_fitting_uses_its_temperature(prepared, scramble):
    _, _, data = prepared
    parent = scramble()
    sharp = FitRulesMove(min_evidence=4.0, temperature=0.02).propose(parent, context(data, parent)).details["changes"]
    expected, _ = _expected_changes(parent, data.train, 4.0, temperature=0.02)
    assert [c[:4] for c in sharp] == [c[:4] for c in expected]
    plain = FitRulesMove(min_evidence=4.0).propose(parent, context(data, parent)).details["changes"]
    assert [c[:4] for c in plain] != [c[:4] for c in sharp]


class FakeProposer:
    """Revisions from a script: a System is returned, an exception raised; each answer takes ``delay`` s."""

    def __init__(self, answers, delay: float = 0.0) -> None:
        self.answers, self.delay, self.calls = list(answers), delay, 0

    def revise(self, system, diagnostics, history):
        import time

        self.calls += 1
        time.sleep(self.delay)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_revision_move_reports_failures_time_and_refits(prepared, scramble):
    from cotclip.systems.errors import ProposerError

    _, _, data = prepared
    parent, revised = scramble(seed=0), scramble(seed=1)
    import time

    proposer = FakeProposer([ProposerError("no valid system: bad JSON"), revised], delay=0.05)
    started = time.perf_counter()
    result = LLMRevisionMove(proposer).propose(parent, context(data, parent))
    elapsed = time.perf_counter() - started
    assert proposer.calls == 2  # two revisions by default
    assert result.candidates == [revised] and result.errors == ["no valid system: bad JSON"]
    assert 0.1 <= result.llm_seconds <= elapsed  # the time spent waiting for answers, failed ones included
    fitted = LLMRevisionMove(FakeProposer([revised, revised]), fit=FitRulesMove()).propose(
        parent, context(data, parent)
    )
    expected_fit = FitRulesMove().propose(revised, context(data, revised)).candidates
    assert fitted.candidates == [revised, *expected_fit, revised, *expected_fit] and expected_fit


def test_a_budget_spent_mid_revision_keeps_what_was_paid_for_and_asks_no_more(prepared, scramble):
    from cotclip.systems.errors import BudgetExhaustedError, LLMUnavailableError

    _, _, data = prepared
    parent, revised, never = scramble(seed=0), scramble(seed=1), scramble(seed=2)
    spent = BudgetExhaustedError("max_llm_calls reached; raise the limit to continue", reason="max_llm_calls")
    proposer = FakeProposer([revised, spent, never])
    result = LLMRevisionMove(proposer, n_revisions=3).propose(parent, context(data, parent))
    assert proposer.calls == 2  # the third revision is not asked for once the budget is spent
    assert result.candidates == [revised] and result.errors == [spent.message]
    with pytest.raises(BudgetExhaustedError):  # nothing paid for: the loop's budget check stops the run
        LLMRevisionMove(FakeProposer([spent, never]), n_revisions=2).propose(parent, context(data, parent))
    down = FakeProposer([revised, LLMUnavailableError("the LLM endpoint failed every attempt"), never])
    with pytest.raises(LLMUnavailableError):
        LLMRevisionMove(down, n_revisions=3).propose(parent, context(data, parent))
    assert down.calls == 2


def test_a_proposer_with_revise_many_is_asked_for_all_revisions_at_once(prepared, scramble):
    _, _, data = prepared
    parent, first, second = scramble(seed=0), scramble(seed=1), scramble(seed=2)

    class Batched(FakeProposer):
        def revise_many(self, system, diagnostics, history, n):
            self.batches = getattr(self, "batches", []) + [n]  # one call: its revisions go out concurrently
            return [first, second][:n]

    proposer = Batched([])  # revise() has no answers: a serial revision would fail
    result = LLMRevisionMove(proposer, n_revisions=2).propose(parent, context(data, parent))
    assert result.candidates == [first, second] and proposer.batches == [2] and proposer.calls == 0


def test_function_move_passes_budget_seed_and_wraps_results(prepared, scramble):
    _, _, data = prepared
    parent = scramble()
    calls = []

    def search(system, train, val, *, seed, budget):
        calls.append((seed, budget))
        return [system, system.evolve(name="other")] if budget > 1 else system

    unlimited = MoveContext(train=data.train, val=data.val, diagnostics=None, history=[], seed=5)
    move = FunctionMove("select_groups", search, budget=9)
    assert move.name == "select_groups"
    assert len(move.propose(parent, unlimited).candidates) == 2 and calls[-1] == (5, 9)
    one = MoveContext(train=data.train, val=data.val, diagnostics=None, history=[], seed=5, evaluation_budget=1)
    result = move.propose(parent, one)
    assert result.candidates == [parent] and result.evaluations == 1 and calls[-1] == (5, 1)
    spent = MoveContext(train=data.train, val=data.val, diagnostics=None, history=[], seed=5, evaluation_budget=0)
    assert move.propose(parent, spent).candidates == [] and len(calls) == 2


def test_build_moves_passes_the_run_settings_to_each_move(tmp_path):
    from cotclip.optimizer.loop.knob_move import KnobSearchMove
    from cotclip.optimizer.loop.refine import RefineRulesMove
    from cotclip.optimizer.selection import select_groups

    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="simulated",
        runs_dir=str(tmp_path),
        name="b",
        moves=["fit_rules", "merge", "refine_rules", "llm_revise", "knob_search", "select_groups"],
        fit_min_images=3,
        fit_min_evidence=2.5,
        temperature=0.05,
        max_options=5,
        revisions_per_round=4,
        search_budget=11,
    )
    proposer = object()
    fit, merge, refine, revise, knobs, select = build_moves(config, proposer, tmp_path / "b")
    assert (fit.min_images, fit.min_evidence, fit.temperature) == (3, 2.5, 0.05)
    assert isinstance(merge, MergeMove) and merge.fit is fit and merge.max_options == 10
    assert isinstance(refine, RefineRulesMove) and refine.temperature == 0.05
    assert (revise.proposer, revise.n_revisions, revise.fit) == (proposer, 4, fit)
    assert isinstance(knobs, KnobSearchMove) and (knobs.budget, knobs.run_dir, knobs.storage) == (
        11,
        tmp_path / "b",
        None,
    )
    assert (select.name, select.function, select.budget) == ("select_groups", select_groups, 11)
    journal = str(tmp_path / "studies.journal")
    other = config.model_copy(
        update={
            "fit_after_revise": False,
            "moves": ["llm_revise", "merge", "knob_search"],
            "max_options": 2,
            "storage": journal,
        }
    )
    raw, merge, knobs = build_moves(other, proposer)
    assert raw.fit is None and merge.max_options == 4 and knobs.storage == journal


def test_check_moves_refuses_what_cannot_run(tmp_path, monkeypatch):
    from cotclip.optimizer.loop import moves as moves_module
    from cotclip.optimizer.loop.moves import check_moves

    def config(**changes):
        settings = dict(
            data="synthetic:pokemon-like", model="synthetic", lm="simulated", runs_dir=str(tmp_path), name="c"
        )
        return RunConfig(**{**settings, **changes})

    check_moves(config(moves=["llm_revise", "select_groups", "knob_search"], storage=str(tmp_path / "s.journal")))
    check_moves(config(moves=["fit_rules"], lm="none"))
    with pytest.raises(InputError, match=r"^move 'llm_revise' needs a proposer; pass --lm or remove it from --moves$"):
        check_moves(config(moves=["fit_rules", "llm_revise"], lm="none"))
    with pytest.raises(
        InputError, match=r"^--storage holds the knob_search move's studies; add knob_search to --moves"
    ):
        check_moves(config(moves=["fit_rules"], storage=str(tmp_path / "s.journal")))
    with pytest.raises(InputError):
        check_moves(config(moves=["knob_search"], storage="nosuchscheme://x"))
    monkeypatch.setitem(moves_module.SEARCH_FUNCTIONS, "select_groups", ("cotclip.no_such_module", "select_groups"))
    with pytest.raises(
        InputError, match=r"^move 'select_groups' is unavailable \(cotclip.no_such_module.select_groups"
    ):
        check_moves(config(moves=["select_groups"]))
