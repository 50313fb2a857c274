"""``cotclip review --apply`` and the run-dir/npz side of export, through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from cotclip._export import export_any, load_system_or_run
from cotclip.cli import main
from cotclip.optimizer.loop.runs import RunDir
from cotclip.scoring.deploy.classifier import Classifier
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, predict
from cotclip.scoring.simulation.dataset import dataset_of_world
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import InputError
from cotclip.systems.io import load_system


def _versions(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "versions").glob("*.json"))


def _write_edits(tmp_path: Path, data) -> Path:
    path = tmp_path / "edits.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def _assert_one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2
    assert err.startswith("error:") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_apply_writes_a_new_version_with_the_edits(run_dir: Path, tmp_path: Path, broken_system, capsys):
    first, group = broken_system.classes[0], broken_system.groups[0]
    fixed = (broken_system.rule(first, group.name) - 1) % len(group.options)
    edits = {
        "edits": [
            {"op": "set_rule", "class": first, "group": group.name, "option": fixed},
            {"op": "lock_rule", "class": first, "group": group.name},
        ],
        "notes": ["the data favours this option"],
    }
    code = main(["review", str(run_dir), "--apply", str(_write_edits(tmp_path, edits)), "--json"])
    saved = json.loads(capsys.readouterr().out)
    assert code == 0 and saved["version"] == "0002" and _versions(run_dir) == ["0001.json", "0002.json"]
    record = RunDir(run_dir).load_versions()[-1]
    assert record.move == "human-edit" and record.parent == "0001" and record.details == edits
    assert record.system.rule(first, group.name) == fixed
    assert record.system.locks.rules == [(first, group.name)]
    assert record.val_accuracy == saved["val_accuracy"]

    code = main(
        ["review", str(run_dir), "--version", "1", "--apply", str(_write_edits(tmp_path, {"notes": ["again"]}))]
    )
    assert code == 0 and "saved version 0003" in capsys.readouterr().out
    assert RunDir(run_dir).load_versions()[-1].parent == "0001"


@pytest.mark.parametrize(
    "edits, message",
    [
        ({"edits": [{"op": "set_rule", "class": "Nobody", "group": "color", "option": 0}]}, "unknown class 'Nobody'"),
        ({"edits": [{"op": "set_option", "group": "color", "index": 0, "text": " "}]}, "option text is empty"),
        (
            {"edits": [{"op": "set_option", "group": "color", "index": 50, "text": "x"}]},
            "option 50 of group 'color' is out of range",
        ),
        ({"edits": [{"op": "launch"}]}, "edits.0"),
        ("edits: [unclosed", "not valid YAML"),
        ({}, "nothing to save"),
    ],
)
def test_bad_edit_files_exit_2_with_one_line_and_write_nothing(run_dir: Path, tmp_path: Path, capsys, edits, message):
    code = main(["review", str(run_dir), "--apply", str(_write_edits(tmp_path, edits))])
    _assert_one_line_error(code, capsys.readouterr().err, message)
    assert _versions(run_dir) == ["0001.json"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["review", "{tmp}/nowhere"], "is not a run dir"),
        (["review", "{run}", "--version", "7", "--apply", "{tmp}/e.yaml"], "has no version 7"),
        (["review", "{run}", "--apply", "{tmp}/missing.yaml"], "cannot read edits file"),
        (["review", "{tmp}/empty_run", "--apply", "{tmp}/e.yaml"], "has no versions yet"),
    ],
)
def test_bad_review_arguments_are_one_line_errors(run_dir: Path, tmp_path: Path, capsys, args, message):
    (tmp_path / "e.yaml").write_text("notes: [x]\n")
    (tmp_path / "empty_run" / "versions").mkdir(parents=True)
    argv = [a.format(tmp=tmp_path, run=run_dir) for a in args]
    _assert_one_line_error(main(argv), capsys.readouterr().err, message)


def test_export_of_a_missing_version_is_an_input_error(run_dir: Path, tmp_path: Path):
    with pytest.raises(InputError, match="has no version 9; pick one of 1..1"):
        export_any(str(run_dir), "npz", tmp_path / "x.npz", version=9)
    assert not (tmp_path / "x.npz").exists()


def test_export_any_from_a_run_dir_writes_every_format(run_dir: Path, tmp_path: Path, broken_system):
    for fmt, name in (("json", "s.json"), ("yaml", "s.yaml"), ("seed-json", "s.seed.json")):
        export_any(str(run_dir), fmt, tmp_path / name)
        assert load_system(tmp_path / name).fingerprint() == broken_system.fingerprint()
    export_any(str(run_dir), "npz", tmp_path / "c.npz")
    world = load_world("pokemon-like")
    encoder = SyntheticEncoder(world)
    dataset = dataset_of_world(world, "pokemon-like")
    classifier = Classifier.load(tmp_path / "c.npz", encoder=encoder)
    assert classifier.compiled.encoder_spec == "synthetic:pokemon-like"  # names its world: loads without --data
    assert classifier.compiled.has_adaptive  # fitted on the run's train split
    assert classifier.compiled.adaptive_counts.sum() == 80
    images = ImageSet(encoder.encode_images(dataset.images).embeddings, dataset.labels, PromptEmbedder(encoder))
    assert classifier.predict(dataset.images) == [broken_system.classes[i] for i in predict(broken_system, images)]


def test_export_npz_of_a_system_file_needs_a_model(tmp_path: Path, broken_system):
    path = tmp_path / "s.json"
    path.write_text(broken_system.to_json())
    with pytest.raises(InputError, match="needs --model"):
        export_any(str(path), "npz", tmp_path / "c.npz")
    export_any(str(path), "npz", tmp_path / "c.npz", model="synthetic:pokemon-like", cache_dir=str(tmp_path / "cache"))
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert str(archive["encoder_spec"]) == "synthetic:pokemon-like"
        assert "adaptive_theta" not in archive.files  # no train data to fit it on


def test_run_dir_resolves_to_its_current_or_a_given_version(run_dir: Path, broken_system, tmp_path: Path, capsys):
    assert load_system_or_run(str(run_dir))[0] == broken_system
    assert (
        main(
            [
                "review",
                str(run_dir),
                "--apply",
                str(
                    _write_edits(
                        tmp_path,
                        {
                            "edits": [
                                {
                                    "op": "set_option",
                                    "group": broken_system.groups[0].name,
                                    "index": 0,
                                    "text": "chartreuse",
                                }
                            ]
                        },
                    )
                ),
            ]
        )
        == 0
    )
    capsys.readouterr()
    edited = load_system_or_run(str(run_dir), version=2)[0]
    assert edited.groups[0].options[0] == "chartreuse"
    (run_dir / "best.json").write_text(json.dumps({"version": "0001", "val_accuracy": 0.5}))
    assert load_system_or_run(str(run_dir))[0] == edited  # the newest human edit, whatever best.json says
    assert load_system_or_run(str(run_dir), version=1)[0] == broken_system
    with pytest.raises(InputError, match="run dirs only"):
        load_system_or_run(str(tmp_path / "s.json"), version=1)


@pytest.mark.slow
def test_review_command_serves_the_run_until_interrupted(run_dir: Path):
    import signal
    import subprocess
    import sys
    import urllib.request

    command = [sys.executable, "-m", "cotclip", "review", str(run_dir), "--port", "0", "--no-browser"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/state", timeout=10) as response:
            assert json.loads(response.read())["version"] == "0001"
    finally:
        process.send_signal(signal.SIGINT)
        # usually 0.3 s; 1 of 12 isolated runs took ~10 s and one loaded `make test` more (cause not found yet)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in err


def test_the_runs_temperature_override_applies_to_review_and_export(run_dir: Path, tmp_path: Path, broken_system):
    from cotclip.optimizer.review.rundata import load_review_data
    from cotclip.optimizer.review.session import ReviewSession, load_version
    from cotclip.scoring.scorer import accuracy

    config = yaml.safe_load((run_dir / "run.yaml").read_text())
    (run_dir / "run.yaml").write_text(yaml.safe_dump({**config, "temperature": 0.02}))
    record = load_version(run_dir)
    data = load_review_data(run_dir, record.system)
    state = ReviewSession(run_dir, record, data).state()
    assert data.temperature == 0.02
    assert state["val_accuracy"] == accuracy(broken_system, data.val, 0.02) != accuracy(broken_system, data.val)
    export_any(str(run_dir), "json", tmp_path / "s.json")
    assert load_system(tmp_path / "s.json").scoring.temperature == 0.02


def test_a_busy_port_is_a_one_line_error(run_dir: Path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["review", str(run_dir), "--port", str(taken.getsockname()[1]), "--no-browser"])
    _assert_one_line_error(code, capsys.readouterr().err, "pick another --port")
