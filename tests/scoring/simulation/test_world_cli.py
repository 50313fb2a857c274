"""``cotclip world describe|oracle|notes`` and bad worlds through the CLI error boundary."""

from __future__ import annotations

import json

import pytest

from cotclip.cli import main
from cotclip.systems.io import load_system


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_describe_json_reports_reference_accuracies_per_split(capsys):
    assert main(["world", "describe", "synthetic:pokemon-like", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["world"]["name"] == "pokemon-like" and report["temperature"] == 0.05
    accuracies = report["accuracies"]
    assert [accuracies[s]["n"] for s in ("train", "val", "test", "all")] == [80, 32, 32, 144]
    assert accuracies["all"]["name_baseline"] == pytest.approx(0.264, abs=0.001)  # measured 38/144
    assert accuracies["all"]["oracle"] == pytest.approx(0.833, abs=0.001)  # measured 120/144
    for split in ("train", "test"):
        assert accuracies[split]["oracle"] - accuracies[split]["name_baseline"] >= 0.4


def test_describe_prints_groups_classes_and_accuracy_table(capsys, pokemon_world):
    assert main(["world", "describe", "pokemon-like", "--temperature", "1.0"]) == 0
    out = capsys.readouterr().out
    assert f"synthetic world pokemon-like ({pokemon_world.hash})" in out
    assert "visibility" in out and "0.90" in out and pokemon_world.classes[0] in out
    assert "temperature 1" in out and "name baseline" in out


def test_oracle_writes_a_loadable_system(tmp_path, capsys, pokemon_world):
    out = tmp_path / "oracle.json"
    assert main(["world", "oracle", "pokemon-like", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_system(str(out)).to_dict() == pokemon_world.oracle_system().to_dict()
    yaml_out = tmp_path / "oracle.yaml"
    assert main(["world", "oracle", "pokemon-like", "--out", str(yaml_out), "--format", "yaml"]) == 0
    assert load_system(str(yaml_out)).rules == pokemon_world.oracle_system().rules


def test_notes_json_and_text(capsys, pokemon_world):
    assert (
        main(["world", "notes", "pokemon-like", "--omit-rate", "0.2", "--error-rate", "0.1", "--seed", "3", "--json"])
        == 0
    )
    notes = json.loads(capsys.readouterr().out)
    assert notes == pokemon_world.field_notes(omit_rate=0.2, error_rate=0.1, seed=3)
    assert main(["world", "notes", "pokemon-like"]) == 0
    assert capsys.readouterr().out.count("\n") == len(pokemon_world.classes)


@pytest.mark.parametrize(
    ("world_text", "message"),
    [
        ("classes: 4\ngroups: [{name: color, values: 4, visibility: 0.5}]\nwings: 2\n", "unknown key 'wings'"),
        ("classes: -4\ngroups: [{name: color, values: 4, visibility: 0.5}]\n", "classes must be a count"),
        ("classes: 4\ngroups: [{name: color, values: 4, visibility: 2}]\n", "visibility is 2 but must be <= 1.0"),
        ("classes: 40\ngroups: [{name: color, values: 4, visibility: 0.5}]\n", "only 4 distinct attribute signatures"),
        ("classes: 4\ngroups: [{name: color, values: -1, visibility: 0.5}]\n", "values is -1 but must be >= 2"),
        ("classes: [4\n", "cannot read it as YAML"),
    ],
)
@pytest.mark.parametrize("command", ["describe", "notes"])
def test_bad_world_files_exit_2_with_one_line(tmp_path, capsys, world_text, message, command):
    path = tmp_path / "bad.yaml"
    path.write_text(world_text)
    assert main(["world", command, str(path)]) == 2
    assert message in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["world", "describe", "atlantis"], "unknown synthetic world 'atlantis'"),
        (["world", "notes", "pokemon-like", "--omit-rate", "2"], "omit rate must be between 0 and 1"),
        (["world", "describe", "pokemon-like", "--temperature", "0"], "--temperature must be positive"),
        (["world", "oracle", "pokemon-like", "--out", "x.json", "--format", "toml"], "unknown format 'toml'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    assert message in _one_line_error(capsys)


def test_evaluate_treats_the_world_like_real_data(tmp_path, capsys):
    oracle = tmp_path / "oracle.json"
    assert main(["world", "oracle", "pokemon-like", "--out", str(oracle)]) == 0
    argv = [
        "evaluate",
        "--system",
        str(oracle),
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--json",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    capsys.readouterr()
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["n"] == 32
    assert first["accuracy"] == pytest.approx(27 / 32)  # the describe report's test split
    assert first["baseline_accuracy"] == pytest.approx(10 / 32)
    assert (
        first["confusions"][0]["true"] == "Nawou" and first["confusions"][0]["predicted"] == "Podrouwox"
    )  # a planted pair
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["accuracy"] == first["accuracy"] and second["cache"]["misses"] == 0
