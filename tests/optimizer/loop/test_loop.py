"""The loop end to end on the synthetic world (no proposer: a scrambled oracle as --init)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from cotclip.cli import main
from cotclip.optimizer.loop import MoveContext, MoveResult
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.loop import OptimizationLoop
from cotclip.optimizer.loop.moves import FitRulesMove
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers import ProposalTask
from cotclip.scoring.scorer import accuracy
from cotclip.systems.model import System


def run_cli(args: list[str], capsys) -> dict:
    assert main(args + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def cache_entries(cache: Path) -> int:
    """Rows stored in the embedding cache (layout ``v1/<identity>/<xx>/<key>.*``)."""
    return sum(1 for path in cache.glob("v1/*/*/*") if path.is_file() and not path.name.startswith("."))


def test_a_run_writes_every_artifact_and_reports_on_test(base_args, tmp_path, capsys):
    out = run_cli(base_args + ["--name", "r1"], capsys)
    run = tmp_path / "runs" / "r1"
    assert out["run_dir"] == str(run)
    assert set(out) >= {"stopped_because", "versions", "best", "baseline_test_accuracy", "encoder_calls", "llm"}
    assert out["llm"] == {"calls": 0, "tokens": 0, "usd": 0.0}
    versions = sorted((run / "versions").glob("*.json"))
    assert len(versions) == out["versions"] >= 3
    records = [json.loads(p.read_text()) for p in versions]
    assert records[0]["move"] == "init" and records[0]["parent"] is None
    # round 0 also records the class-name baseline as a system (the fallback every run has)
    assert records[1]["move"] == "baseline" and records[1]["parent"] is None
    assert records[1]["system"]["scoring"]["name_prior_weight"] == 1.0
    assert all(r["parent"] and r["started_at"] and r["finished_at"] for r in records[2:])
    best = json.loads((run / "best.json").read_text())
    assert best["val_accuracy"] == out["best"]["val_accuracy"]
    summary = json.loads((run / "summary.json").read_text())
    choice = summary["extra"]["final_choice"]
    assert choice["top_val_accuracy"] == max(r["val"]["accuracy"] for r in records)
    assert choice["chosen"] == best["version"] in choice["tied"] and choice["top"] in choice["tied"]
    assert summary["versus_baseline"]["test"]["better"] and summary["versus_baseline"]["note"] is None
    # rule fitting makes real progress from scrambled rules, far above the class-name baseline on test
    assert out["best"]["val_accuracy"] > records[0]["val"]["accuracy"] + 0.3
    assert out["best"]["test_accuracy"] > out["baseline_test_accuracy"] + 0.2
    low, high = out["best"]["test_ci"]
    assert low <= out["best"]["test_accuracy"] <= high
    # every image and every unique prompt encoded exactly once
    assert out["encoder_calls"] == cache_entries(tmp_path / "cache")
    assert summary["unique_inputs"] == out["encoder_calls"]
    assert summary["best"]["confusion"] and summary["user_system"]["version"] == "0001"
    report = (run / "report.md").read_text()
    assert "95% CI" in report and "class-name baseline" in report and "plots/confusion_test.png" in report
    assert (run / "plots" / "val_accuracy.png").exists() and (run / "plots" / "confusion_test.png").exists()
    environment = json.loads((run / "environment.json").read_text())
    assert environment["encoder_identity"].startswith("synthetic") and environment["packages"]["numpy"]
    assert not (run / ".lock").exists()


def test_run_yaml_is_accepted_as_config_and_reproduces_the_run(base_args, tmp_path, capsys):
    first = run_cli(base_args + ["--name", "r1"], capsys)
    second = run_cli(["optimize", "--config", str(tmp_path / "runs" / "r1" / "run.yaml"), "--name", "r2"], capsys)
    assert second["run_dir"].endswith("r2")
    assert second["best"] == first["best"] and second["versions"] == first["versions"]
    assert second["encoder_calls"] == 0  # same cache: nothing is encoded twice


def test_locked_rules_never_change_in_any_version(base_args, tmp_path, capsys):
    run_cli(base_args + ["--name", "r1"], capsys)
    init = System.from_data(json.loads((tmp_path / "init.json").read_text()))
    locked_class = init.classes[0]
    expected = init.group("color").options[init.rule(locked_class, "color")]
    for path in (tmp_path / "runs" / "r1" / "versions").glob("*.json"):
        system = System.from_data(json.loads(path.read_text())["system"])
        assert system.group("color").options[system.rule(locked_class, "color")] == expected


def test_budget_and_convergence_stop_the_run(base_args, capsys):
    budget = run_cli(base_args + ["--name", "b", "--max-evaluations", "2"], capsys)
    assert budget["stopped_because"] == "max_evaluations" and budget["versions"] == 2
    # deterministic moves run out of new candidates long before the rate-based rule would stop
    exhausted = run_cli(base_args + ["--name", "c", "--patience", "1", "--min-delta", "0.9"], capsys)
    assert exhausted["stopped_because"] == "exhausted"


class NoGainMove:
    """Endless new candidates that never change a prediction (a temperature nudge under log_prob_sum)."""

    name = "nudge"

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        scoring = {
            **parent.scoring.model_dump(),
            "aggregation": "log_prob_sum",
            "temperature": parent.scoring.temperature * 1.01,
        }
        return MoveResult(candidates=[parent.evolve(scoring=scoring)])


def test_a_stalled_run_converges_once_the_budget_left_buys_no_likely_gain(prepared, scramble):
    config, run, data = prepared
    loop = OptimizationLoop(
        config.model_copy(update={"patience": 2, "max_evaluations": 60}),
        run,
        data,
        None,
        [FitRulesMove(), NoGainMove()],
    )
    reason = loop.optimize(ProposalTask(classes=tuple(data.classes)), scramble())
    # the fitted rules were the last gain; the run stopped early only when the later half of its
    # evaluations had gained less than min_delta
    assert reason == "converged" and len(loop.versions) < 60
    bests = loop.progress["round_bests"]
    assert bests[-1] == bests[-3] > bests[0]


@pytest.fixture()
def prepared(tmp_path):
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="none",
        runs_dir=str(tmp_path),
        name="p",
        cache_dir=str(tmp_path / "cache"),
        moves=["fit_rules"],
    )
    run = RunDir.create(config.run_dir)
    data = encode_inputs(load_inputs(config), config, run)
    yield config, run, data
    run.release_lock()


def context_of(data, system) -> MoveContext:
    from cotclip.scoring.diagnostics import diagnose

    return MoveContext(train=data.train, val=data.val, diagnostics=diagnose(system, data.train), history=[], seed=0)


def test_rule_fitting_follows_the_encoder_and_respects_locks_and_thresholds(prepared, scramble):
    _, _, data = prepared
    scrambled = scramble(locks={"groups": ["background"], "rules": []})
    result = FitRulesMove().propose(scrambled, context_of(data, scrambled))
    fitted = result.candidates[0]
    assert accuracy(fitted, data.train) > accuracy(scrambled, data.train) + 0.4
    assert all(fitted.rule(c, "background") == scrambled.rule(c, "background") for c in fitted.classes)
    assert result.details["changed_rules"] == len(result.details["changes"]) > 20
    too_few = FitRulesMove(min_images=1000).propose(scrambled, context_of(data, scrambled))
    weak = FitRulesMove(min_evidence=1e9).propose(scrambled, context_of(data, scrambled))
    assert too_few.candidates == [] and weak.candidates == []
    fixed_point = FitRulesMove().propose(fitted, context_of(data, fitted))
    assert fixed_point.candidates == []


class RogueMove:
    """Flips the first class's (locked) color rule, and records what it was given."""

    name = "rogue"

    def __init__(self) -> None:
        self.seen: list[MoveContext] = []

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        self.seen.append(context)
        first = parent.classes[0]
        rules = {c: {g.name: parent.rule(c, g.name) for g in parent.groups} for c in parent.classes}
        rules[first]["color"] = (rules[first]["color"] + 1) % len(parent.group("color").options)
        return MoveResult(candidates=[parent.evolve(rules=rules)])


def test_moves_see_only_train_and_val_and_lock_violations_are_rejected(prepared, scramble):
    config, run, data = prepared
    assert {f.name for f in fields(MoveContext)}.isdisjoint({"test", "data", "splits"})
    locked = scramble(locks={"groups": [], "rules": [[scramble().classes[0], "color"]]})
    rogue = RogueMove()
    loop = OptimizationLoop(config.model_copy(update={"patience": 1}), run, data, None, [rogue])
    reason = loop.optimize(ProposalTask(classes=tuple(data.classes)), locked)
    assert [v.move for v in loop.versions] == ["init", "baseline"]
    assert loop.progress["rejected"][0]["move"] == "rogue"
    assert "locked rule" in loop.progress["rejected"][0]["why"][0]
    assert rogue.seen and all(c.train is data.train and c.val is data.val for c in rogue.seen)
    assert reason in {"converged", "exhausted"}


def _search_trace(run: Path) -> list[tuple]:
    """What the search did: each version's move, parent, system and val score (not its timings)."""
    records = [json.loads(p.read_text()) for p in sorted((run / "versions").glob("*.json"))]
    return [(r["move"], r["parent"], r["fingerprint"], r["val"]) for r in records]


def test_the_test_split_is_never_seen_by_a_search_step(tmp_path, scrambled_init, monkeypatch):
    """Two runs that differ only in their test images and labels search identically; only the reports differ."""
    import dataclasses

    import numpy as np

    from cotclip.optimizer.loop import session
    from cotclip.optimizer.loop.session import optimize
    from cotclip.scoring.scorer import ImageSet

    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="none",
        init=str(scrambled_init),
        runs_dir=str(tmp_path / "runs"),
        name="plain",
        cache_dir=str(tmp_path / "cache"),
        moves=["fit_rules", "refine_rules", "merge", "select_groups", "knob_search"],
        search_budget=8,
        max_evaluations=40,
        patience=2,
    )
    plain = optimize(config)
    real_encode = session.encode_inputs

    def other_test_split(*args, **kwargs):
        data = real_encode(*args, **kwargs)
        rng = np.random.default_rng(7)
        test = data.test
        noise = rng.normal(size=test.embeddings.shape)
        labels = list(rng.permutation(test.labels))
        return dataclasses.replace(data, test=ImageSet(noise, labels, test.prompts))

    monkeypatch.setattr(session, "encode_inputs", other_test_split)
    other = optimize(config.model_copy(update={"name": "other"}))
    assert other.best.accuracy != plain.best.accuracy  # the reports did see the changed test split
    assert _search_trace(tmp_path / "runs" / "other") == _search_trace(tmp_path / "runs" / "plain")
    assert len(_search_trace(tmp_path / "runs" / "plain")) > 5


class SlowProposer:
    """A proposer whose first answer never comes within the run's budget."""

    usage = None  # no LLM usage recorded: the answer never came

    def propose(self, task: ProposalTask):
        from cotclip.systems.errors import BudgetExhaustedError

        raise BudgetExhaustedError("the wall-time budget ended during an LLM call", reason="max_wall_s")


def test_a_budget_that_ends_before_the_first_proposal_still_hands_back_the_class_name_baseline(prepared):
    import numpy as np

    from cotclip.scoring.baselines import name_baseline_scores

    config, run, data = prepared
    loop = OptimizationLoop(config, run, data, SlowProposer(), [])
    assert loop.optimize(ProposalTask(classes=tuple(data.classes)), None) == "max_wall_s"
    [only] = loop.versions
    assert only.move == "baseline" and only.system.scoring.name_prior_weight == 1.0
    assert all(only.system.rule(c, "class_name") is None for c in data.classes)
    # the same accuracy as the class-name baseline the report prints (computed apart from any system)
    named = np.asarray(name_baseline_scores(list(data.classes), data.val)).argmax(axis=1)
    assert only.val_accuracy == pytest.approx(float((named == np.asarray(data.val.label_indices(data.classes))).mean()))
