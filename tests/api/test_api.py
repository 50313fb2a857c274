"""The public API: the CLI's results and messages from Python, and wrong types as clear errors."""

from __future__ import annotations

import json

import pytest

import cotclip
from cotclip.cli import main
from cotclip.scoring.simulation import load_world

WORLD = "synthetic:pokemon-like"


@pytest.fixture(scope="module")
def oracle():
    return load_world("pokemon-like").oracle_system()


def test_wrong_types_are_type_errors_and_cotclip_errors(tmp_path, oracle):
    cases = [
        lambda: cotclip.load_system(42),
        lambda: cotclip.validate_system(3.5),
        lambda: cotclip.evaluate(oracle, 123, "synthetic"),
        lambda: cotclip.evaluate(oracle, WORLD, "synthetic", fractions="0.6,0.2,0.2"),
        lambda: cotclip.evaluate(oracle, WORLD, "synthetic", seed="0"),
        lambda: cotclip.evaluate(oracle, WORLD, "synthetic", templates="a photo of {}"),
        lambda: cotclip.baseline(WORLD, 7),
        lambda: cotclip.optimize(42),
        lambda: cotclip.optimize({"data": WORLD, "model": "synthetic"}, overrides=[("seed", 1)]),
        lambda: cotclip.propose("cat,dog", "simulated", tmp_path / "out"),
        lambda: cotclip.review(tmp_path, edits=5),
        lambda: cotclip.export(oracle, 12),
        lambda: cotclip.load_dataset(["a.png"]),
    ]
    for case in cases:
        with pytest.raises(cotclip.WrongTypeError) as caught:
            case()
        assert isinstance(caught.value, TypeError) and isinstance(caught.value, cotclip.CotclipError)
        assert "\n" not in caught.value.message and " must " in caught.value.message
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_bad_values_get_the_clis_one_line_messages(tmp_path, oracle):
    with pytest.raises(cotclip.InputError, match=r"--split 'dev' is not a split; use one of train, val, test, all"):
        cotclip.evaluate(oracle, WORLD, "synthetic", split="dev")
    with pytest.raises(cotclip.InputError, match="--method 'nearest' is not a baseline"):
        cotclip.baseline(WORLD, "synthetic", method="nearest")
    with pytest.raises(cotclip.InputError, match="pass a RunConfig, a dict with at least data and model"):
        cotclip.optimize()
    with pytest.raises(cotclip.InputError, match="'sed' is not a RunConfig setting"):
        cotclip.optimize({"data": WORLD, "model": "synthetic"}, overrides={"sed": 1})
    with pytest.raises(cotclip.InputError, match="run config: model: Field required"):
        cotclip.optimize({"data": WORLD})
    with pytest.raises(cotclip.InputError, match="is not a run dir"):
        cotclip.review(tmp_path, {"edits": []})
    source = tmp_path / "s.json"
    cotclip.convert_system(oracle, source)
    with pytest.raises(cotclip.InputError, match="is the input file itself"):
        cotclip.export(source, source)


def test_systems_round_trip_through_the_api(tmp_path, oracle):
    written = cotclip.convert_system(oracle, tmp_path / "seed.json", fmt="seed-json")
    assert cotclip.load_system(tmp_path / "seed.json").classes == written.classes == oracle.classes
    assert cotclip.validate_system(oracle).valid
    report = cotclip.validate_system({"name": "x", "classes": ["a"], "groups": [], "rules": {}})
    assert not report.valid and report.errors


def test_evaluate_is_what_the_cli_prints(tmp_path, capsys, oracle):
    path = tmp_path / "oracle.json"
    cotclip.convert_system(oracle, path)
    cache = tmp_path / "cache"
    evaluation = cotclip.evaluate(path, WORLD, "synthetic", split="val", cache_dir=cache)
    assert (
        main(
            [
                "evaluate",
                "--system",
                str(path),
                "--data",
                WORLD,
                "--model",
                "synthetic",
                "--split",
                "val",
                "--cache-dir",
                str(cache),
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    ours = evaluation.to_dict()
    assert {k: v for k, v in printed.items() if k != "cache"} == {k: v for k, v in ours.items() if k != "cache"}
    assert evaluation.accuracy > 0.8  # the oracle of a simulation (0.875 on val, seed 0)
    assert sum(evaluation.label_counts.values()) == evaluation.result.n


def test_a_datasets_dataset_is_accepted_as_data():
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    pictures = [Image.new("RGB", (8, 8), color) for color in ("red", "blue", "red")]
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])})
    table = datasets.Dataset.from_dict({"image": pictures, "label": [0, 1, 0]}, features=features)
    loaded = cotclip.load_dataset(table)
    assert loaded.labels == ["cat", "dog", "cat"] and len(loaded.images) == 3
    assert loaded.images[0].uid != loaded.images[1].uid
    with pytest.raises(cotclip.WrongTypeError, match=r"DatasetDict with splits \['train'\]; pass one split"):
        cotclip.load_dataset(datasets.DatasetDict({"train": table}))
    with pytest.raises(cotclip.DataError, match="has no column 'img'"):
        cotclip.load_dataset(table, image_column="img")
