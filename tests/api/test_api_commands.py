"""The API behind ``world``, ``transfer``, ``embed``, ``fetch-model`` and the review page, called from Python.

Each function gives what its command prints (``--json`` is the result's ``to_dict()``) and
refuses bad input with the package's own errors before anything is written.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

import cotclip
from cotclip.cli import main

WORLD = "synthetic:pokemon-like"


def cli_json(args: list[str], capsys) -> object:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small optimize run on the synthetic world (simulated proposer), made through the API."""
    root = tmp_path_factory.mktemp("api_run")
    summary = cotclip.optimize(
        {
            "data": WORLD,
            "model": "synthetic",
            "lm": "simulated",
            "n_proposals": 2,
            "max_evaluations": 12,
            "patience": 1,
            "runs_dir": str(root / "runs"),
            "name": "a",
            "cache_dir": str(root / "cache"),
        }
    )
    return Path(summary.run_dir)


def test_describe_world_is_what_world_describe_prints(capsys):
    described = cotclip.describe_world(WORLD, temperature=0.05, split_seed=1)
    printed = cli_json(["world", "describe", "pokemon-like", "--temperature", "0.05", "--split-seed", "1"], capsys)
    assert described.to_dict() == printed
    assert described.world.name == "pokemon-like" and described.temperature == 0.05
    by_split = {row.split: row for row in described.report.accuracies}
    assert set(by_split) == {"train", "val", "test", "all"}
    assert by_split["all"].oracle > by_split["all"].name_baseline  # the planted attributes carry the signal


def test_world_oracle_writes_the_oracle_and_world_notes_are_the_commands(tmp_path, capsys):
    out = tmp_path / "oracle.yaml"
    system = cotclip.world_oracle("pokemon-like", out, fmt="yaml")
    assert cotclip.load_system(out) == system
    assert system.classes == cotclip.describe_world("pokemon-like").world.classes
    notes = cotclip.world_notes(WORLD, omit_rate=0.3, error_rate=0.1, seed=4)
    assert notes == cotclip.world_notes(WORLD, omit_rate=0.3, error_rate=0.1, seed=4)  # seeded
    assert notes != cotclip.world_notes(WORLD, omit_rate=0.3, error_rate=0.1, seed=5)
    args = ["world", "notes", "pokemon-like", "--omit-rate", "0.3", "--error-rate", "0.1", "--seed", "4"]
    assert cli_json(args, capsys) == notes
    assert set(notes) == set(system.classes)


def test_world_functions_refuse_bad_input_before_writing(tmp_path):
    with pytest.raises(cotclip.InputError, match="--temperature must be positive"):
        cotclip.describe_world(WORLD, temperature=0)
    with pytest.raises(cotclip.InputError, match="unknown format 'xml'; use --format with one of"):
        cotclip.world_oracle(WORLD, tmp_path / "o.xml", fmt="xml")
    with pytest.raises(cotclip.InputError, match="omit rate must be between 0 and 1"):
        cotclip.world_notes(WORLD, omit_rate=1.5)
    with pytest.raises(cotclip.DataError, match="unknown synthetic world 'atlantis'"):
        cotclip.describe_world("atlantis")
    for case in (
        lambda: cotclip.describe_world(42),
        lambda: cotclip.world_notes(WORLD, seed="1"),
        lambda: cotclip.world_oracle(WORLD, 3),
    ):
        with pytest.raises(cotclip.WrongTypeError):
            case()
    assert list(tmp_path.iterdir()) == []


def test_transfer_is_what_the_transfer_command_prints(finished_run, capsys):
    table = cotclip.transfer(finished_run, ["synthetic:variant:1"])
    printed = cli_json(["transfer", str(finished_run), "--model", "synthetic:variant:1"], capsys)
    assert table.to_dict() == printed
    assert [row.own for row in table.rows] == [True, False]
    assert table.rows[1].model == "synthetic:variant:1" and table.rows[0].n == table.rows[1].n > 0


def test_transfer_refuses_bad_input(finished_run, tmp_path):
    with pytest.raises(cotclip.InputError, match="pass at least one --model to transfer to"):
        cotclip.transfer(finished_run, [])
    with pytest.raises(cotclip.RunDirError, match="is not a run dir"):
        cotclip.transfer(tmp_path, ["synthetic:variant:1"])
    with pytest.raises(cotclip.WrongTypeError, match="models must be a list of strings, not str"):
        cotclip.transfer(finished_run, "synthetic:variant:1")


def test_embed_fills_the_cache_and_a_second_call_encodes_nothing(tmp_path, capsys):
    cache = tmp_path / "cache"
    oracle = cotclip.describe_world(WORLD).world.oracle_system()
    first = cotclip.embed(WORLD, "synthetic", cache_dir=cache, batch_size=50, system=oracle)
    assert first.images == first.encoded > 0 and first.already_cached == 0
    assert first.texts > 0 and first.texts == first.texts_encoded
    printed = cli_json(["embed", "--data", WORLD, "--model", "synthetic", "--cache-dir", str(cache)], capsys)
    assert (printed["encoded"], printed["already_cached"]) == (0, first.images)
    evaluation = cotclip.evaluate(oracle, WORLD, "synthetic", split="all", cache_dir=cache)
    assert evaluation.result.cache["misses"] == 0


def test_embed_refuses_bad_input_before_loading_anything(tmp_path):
    with pytest.raises(cotclip.InputError, match="--engine 'gpu' is not an engine"):
        cotclip.embed(WORLD, "synthetic", engine="gpu", cache_dir=tmp_path / "c")
    with pytest.raises(cotclip.InputError, match="--batch-size and --workers must be >= 1"):
        cotclip.embed(WORLD, "synthetic", batch_size=0, cache_dir=tmp_path / "c")
    with pytest.raises(cotclip.WrongTypeError, match="batch_size must be an int >= 1, not str"):
        cotclip.embed(WORLD, "synthetic", batch_size="8")
    with pytest.raises(cotclip.WrongTypeError, match="crop must be a tuple of 4 numbers"):
        cotclip.embed(WORLD, "synthetic", crop="0,0,1,1")
    assert not (tmp_path / "c").exists()


def test_fetch_model_keeps_a_model_already_on_disk(tmp_path, capsys):
    from cotclip.optimizer.llm.models import LOCAL_MODELS

    target = tmp_path / LOCAL_MODELS["smollm2"].filename
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + bytes(60))
    fetched = cotclip.fetch_model("smollm2", directory=tmp_path)
    assert (fetched.path, fetched.size) == (target, 64)
    assert fetched.to_dict() == {"name": "smollm2", "path": str(target), "size": 64}
    assert main(["fetch-model", "smollm2", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"smollm2: {target} (64 bytes)\n"


def test_fetch_model_refuses_an_unknown_name_and_a_wrong_type(tmp_path):
    with pytest.raises(cotclip.InputError, match="unknown local model 'llama-70b'; choose one of smollm2"):
        cotclip.fetch_model("llama-70b", directory=tmp_path)
    with pytest.raises(cotclip.WrongTypeError, match="directory must be a path"):
        cotclip.fetch_model("smollm2", directory=5)
    assert list(tmp_path.iterdir()) == []


def test_review_page_serves_the_runs_current_version(finished_run):
    page = cotclip.review_page(finished_run, port=0)
    assert page.url.startswith("http://127.0.0.1:") and page.version and page.why
    with page:
        with urllib.request.urlopen(page.url + "api/state", timeout=10) as response:
            state = json.loads(response.read())
    assert state["version"] == page.version
    assert page.to_dict() == {"run": str(finished_run), "version": page.version, "why": page.why, "url": page.url}


def test_review_page_refuses_bad_input(finished_run, tmp_path):
    with pytest.raises(cotclip.InputError, match="is not a run dir"):
        cotclip.review_page(tmp_path)
    with pytest.raises(cotclip.InputError, match="--port 70000 is not a port"):
        cotclip.review_page(finished_run, port=70000)
    with pytest.raises(cotclip.WrongTypeError, match="version must be a version number, not str"):
        cotclip.review_page(finished_run, version="1")


def test_propose_without_classes_takes_the_simulated_worlds(tmp_path):
    made = cotclip.propose(None, "simulated", tmp_path / "out", n_candidates=2, data=WORLD)
    world = cotclip.describe_world(WORLD).world
    assert made.systems and all(system.classes == list(world.classes) for system in made.systems)
    with pytest.raises(cotclip.InputError, match="--classes is required"):
        cotclip.propose(None, "openai/gpt-4o-mini", tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_demo_runs_the_world_and_scores_its_oracle_beside_the_best_system(tmp_path):
    result = cotclip.demo(
        "pokemon-like", lm="simulated", runs_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", llm_retries=0
    )
    summary = result.summary
    assert isinstance(result, cotclip.DemoResult) and isinstance(summary, cotclip.RunSummary)
    assert 0.5 < result.oracle_test_accuracy <= 1.0
    assert summary.baseline is not None and summary.best.accuracy > summary.baseline.accuracy
    shown = result.to_dict()  # what `cotclip demo --json` prints
    assert shown["oracle_test_accuracy"] == result.oracle_test_accuracy and shown["run_dir"] == summary.run_dir
    stored = yaml.safe_load((Path(summary.run_dir) / "run.yaml").read_text())
    assert stored["llm_retries"] == 0 and stored.get("llm_timeout_s") is None  # None: the LLM's own default applies


def test_demo_refuses_bad_input_before_writing(tmp_path):
    with pytest.raises(cotclip.InputError, match="--proposer 'fast' is not a proposer mode"):
        cotclip.demo("pokemon-like", lm="simulated", proposer="fast", runs_dir=tmp_path)
    with pytest.raises(cotclip.DataError, match="unknown synthetic world 'atlantis'"):
        cotclip.demo("atlantis", lm="simulated", runs_dir=tmp_path)
    for case in (
        lambda: cotclip.demo(7, lm="simulated", runs_dir=tmp_path),
        lambda: cotclip.demo("pokemon-like", lm="simulated", llm_retries="2", runs_dir=tmp_path),
        lambda: cotclip.demo("pokemon-like", lm="simulated", runs_dir=3),
    ):
        with pytest.raises(cotclip.WrongTypeError):
            case()
    assert list(tmp_path.iterdir()) == []


def test_predict_is_what_the_predict_command_prints(finished_run, tmp_path, capsys):
    rows = cotclip.predict(["0", "17", "143"], system=finished_run)
    assert [row["path"] for row in rows] == ["0", "17", "143"]
    assert all(row["label"] == row["scores"][0]["class"] for row in rows)
    assert cli_json(["predict", "--system", str(finished_run), "0", "17", "143"], capsys) == rows
    npz = tmp_path / "c.npz"
    assert main(["export", str(finished_run), "--format", "npz", "--out", str(npz)]) == 0
    capsys.readouterr()
    policy = cotclip.AdaptivePolicy(stop="margin", threshold=None)  # what --adaptive --stop margin asks
    asked = cotclip.predict(["0", "17"], compiled=npz, adaptive=policy)
    assert cli_json(["predict", "--compiled", str(npz), "--adaptive", "--stop", "margin", "0", "17"], capsys) == asked


def test_predict_refuses_bad_input(finished_run, tmp_path):
    with pytest.raises(cotclip.InputError, match="give exactly one of --system SYSTEM or --compiled FILE.npz"):
        cotclip.predict(["0"])
    with pytest.raises(cotclip.InputError, match="--adaptive needs an answer model fitted on train images"):
        cotclip.predict(["0"], system=finished_run, adaptive=cotclip.AdaptivePolicy())
    with pytest.raises(cotclip.InputError, match="unknown stop 'never'"):
        cotclip.predict(["0"], system=finished_run, adaptive=cotclip.AdaptivePolicy(stop="never"))
    with pytest.raises(cotclip.WrongTypeError):
        cotclip.predict("0", system=finished_run)
    with pytest.raises(cotclip.WrongTypeError):
        cotclip.predict(["0"], system=7)
