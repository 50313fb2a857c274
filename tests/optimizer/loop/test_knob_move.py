"""The knob_search move in runs: a resumable study in the run's journal or a shared --storage, and its Pareto front."""

from __future__ import annotations

import json

import optuna
import pytest

from cotclip.cli import main
from cotclip.optimizer.loop import MoveContext
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import encode_inputs, load_inputs
from cotclip.optimizer.loop.knob_move import KnobSearchMove
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.search import SearchResult
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.simulation.world import load_world

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def optimize_args(tmp_path, name: str, *extra: str) -> list[str]:
    return [
        "optimize",
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--lm",
        "simulated",
        "--moves",
        "fit_rules,knob_search",
        "--max-evaluations",
        "40",
        "--search-budget",
        "8",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--name",
        name,
        *extra,
        "--json",
    ]


def studies(storage: str) -> dict[str, int]:
    return {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)}


def test_a_run_keeps_its_studies_in_the_run_journal_and_reports_the_last_front(tmp_path, capsys):
    assert main(optimize_args(tmp_path, "r")) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "r"
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run / "search.journal")))
    pareto = json.loads((run / "pareto.json").read_text())
    assert pareto["study_name"] in studies(journal) and pareto["storage"] == str(run / "search.journal")
    front = SearchResult.from_dict(pareto).front
    prompts = [p.prompts for p in front]
    accuracies = [p.accuracy for p in front]
    assert prompts == sorted(prompts) and accuracies == sorted(accuracies)  # non-dominated: more prompts, more accurate
    summary = json.loads((run / "summary.json").read_text())["extra"]["knob_search"]
    assert [(p["prompts"], p["val_accuracy"]) for p in summary["front"]] == list(zip(prompts, accuracies))
    assert summary["parent"] == pareto["parent"] and (run / "versions" / f"{pareto['parent']}.json").exists()
    report = (run / "report.md").read_text()
    assert "## Knob search: Pareto front" in report and "| start |" in report and "plots/pareto.png" in report
    assert (run / "plots" / "pareto.png").read_bytes().startswith(PNG_MAGIC)
    versions = [json.loads(p.read_text()) for p in (run / "versions").glob("*.json")]
    searched = [v for v in versions if v["move"] == "knob_search"]
    assert all(v["details"]["study"] in studies(journal) for v in searched)


def test_storage_url_holds_the_studies_instead_of_the_run_journal(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    args = optimize_args(tmp_path, "a", "--storage", storage)
    args[args.index("--max-evaluations") + 1] = "20"
    assert main(args) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "a"
    assert not (run / "search.journal").exists()
    pareto = json.loads((run / "pareto.json").read_text())
    assert pareto["storage"] == storage and pareto["study_name"] in studies(storage)
    assert "storage: sqlite:///" in (run / "run.yaml").read_text()


@pytest.mark.parametrize(
    "storage, message",
    [
        ("sqlite:////no/such/folder/s.db", "cannot open search storage"),
        ("redis://localhost/0", "unsupported storage"),
    ],
)
def test_a_bad_storage_is_a_one_line_error_before_any_run_dir(tmp_path, capsys, storage, message):
    assert main(optimize_args(tmp_path, "x", "--storage", storage)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


def test_storage_without_the_knob_search_move_is_an_error(tmp_path, capsys):
    args = optimize_args(tmp_path, "x", "--storage", f"sqlite:///{tmp_path / 's.db'}")
    args[args.index("--moves") + 1] = "fit_rules"
    assert main(args) == 2
    assert "add knob_search to --moves" in capsys.readouterr().err and not (tmp_path / "runs").exists()


def test_a_search_cut_short_continues_its_study(tmp_path):
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        runs_dir=str(tmp_path),
        name="m",
        cache_dir=str(tmp_path / "cache"),
    )
    run = RunDir.create(config.run_dir)
    data = encode_inputs(load_inputs(config), config, run)
    parent = load_world("pokemon-like").oracle_system().evolve(scoring={"temperature": 1.0})
    context = MoveContext(train=data.train, val=data.val, diagnostics=diagnose(parent, data.train), history=[], seed=0)
    cut_short = KnobSearchMove(budget=6, run_dir=run.path).propose(parent, context)
    resumed = KnobSearchMove(budget=10, run_dir=run.path).propose(parent, context)
    again = KnobSearchMove(budget=10, run_dir=run.path).propose(parent, context)
    run.release_lock()
    assert cut_short.evaluations == 6 and resumed.evaluations == 10 - cut_short.details["study_trials"]
    assert resumed.details["study"] == cut_short.details["study"] and resumed.details["study_trials"] == 10
    assert again.evaluations == 0 and again.details["study_trials"] == 10
    assert again.artifacts["pareto.json"]["front"] == resumed.artifacts["pareto.json"]["front"]


def test_workers_on_one_storage_share_the_study_of_an_identical_search(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    config = RunConfig(
        data="synthetic:pokemon-like",
        model="synthetic",
        runs_dir=str(tmp_path),
        name="w",
        cache_dir=str(tmp_path / "cache"),
    )
    run = RunDir.create(config.run_dir)
    data = encode_inputs(load_inputs(config), config, run)
    run.release_lock()
    parent = load_world("pokemon-like").oracle_system().evolve(scoring={"temperature": 1.0})
    context = MoveContext(train=data.train, val=data.val, diagnostics=diagnose(parent, data.train), history=[], seed=0)
    first = KnobSearchMove(budget=5, run_dir=tmp_path / "one", storage=storage).propose(parent, context)
    second = KnobSearchMove(budget=5, run_dir=tmp_path / "two", storage=storage).propose(parent, context)
    assert first.evaluations == 5 and second.evaluations == 0
    assert second.details["study"] == first.details["study"] and studies(storage)[first.details["study"]] >= 5
    assert not (tmp_path / "one" / "search.journal").exists()
