"""``cotclip evaluate`` and ``cotclip baseline`` end to end on files built here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cotclip.cli import main
from cotclip.scoring.baselines import descriptor_texts
from cotclip.systems.model import System

DIM = 16
SYSTEM = System.from_data(
    {
        "name": "abc",
        "classes": ["A", "B", "C"],
        "groups": [
            {"name": "g", "prompt": "it is {}", "options": ["x", "y", "z"]},
            {"name": "h", "prompt": "it has {}", "options": ["u", "v"]},
        ],
        "rules": {"A": {"g": 0, "h": 0}, "B": {"g": 1, "h": 1}, "C": {"g": 2, "h": 1}},
    }
)
NAME_PROMPTS = [f"a photo of {c}" for c in SYSTEM.classes]


def build_npz(
    path: Path,
    *,
    with_names: bool = True,
    extra_labels: tuple[str, ...] = (),
    per_class: int = 5,
    extra_count: int | None = None,
) -> Path:
    """Images near their class's option prompts; texts = system prompts, descriptors (+ class-name prompts)."""
    rng = np.random.default_rng(0)
    texts = (
        SYSTEM.prompt_texts()
        + [t for ts in descriptor_texts(SYSTEM) for t in ts]
        + (NAME_PROMPTS if with_names else [])
    )
    text_embeddings = rng.standard_normal((len(texts), DIM)).astype(np.float32)
    labels = [c for c in SYSTEM.classes for _ in range(per_class)]
    labels += [c for c in extra_labels for _ in range(per_class if extra_count is None else extra_count)]
    row = {text: i for i, text in enumerate(texts)}
    anchors = {
        c: sum(text_embeddings[row[t]] for g in SYSTEM.groups for t in g.option_texts(SYSTEM.rule(c, g.name)))
        for c in SYSTEM.classes
    }
    images = [anchors.get(label, rng.standard_normal(DIM)) + 0.1 * rng.standard_normal(DIM) for label in labels]
    np.savez(
        path,
        image_embeddings=np.asarray(images, dtype=np.float32),
        labels=np.array(labels),
        texts=np.array(texts),
        text_embeddings=text_embeddings,
    )
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    system_path = tmp_path / "system.json"
    system_path.write_text(SYSTEM.to_json(), encoding="utf-8")
    npz = f"precomputed:{build_npz(tmp_path / 'emb.npz')}"
    return {"system": str(system_path), "npz": npz, "cache": str(tmp_path / "cache"), "tmp": str(tmp_path)}


def run_json(capsys, argv: list[str]) -> dict:
    code = main(argv + ["--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def assert_fails(capsys, argv: list[str], *fragments: str) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def evaluate_args(files: dict[str, str], *extra: str) -> list[str]:
    return [
        "evaluate",
        "--system",
        files["system"],
        "--data",
        files["npz"],
        "--model",
        files["npz"],
        "--cache-dir",
        files["cache"],
        *extra,
    ]


def test_evaluate_json_is_the_contract_dict_and_hits_the_cache_on_rerun(capsys, files) -> None:
    first = run_json(capsys, evaluate_args(files, "--temperature", "0.01"))
    assert list(first) == [
        "accuracy",
        "n",
        "per_class",
        "confusions",
        "baseline_accuracy",
        "baseline_note",
        "cache",
        "skipped",
    ]
    assert first["n"] == 3 and first["accuracy"] == 1.0
    assert first["per_class"] == {"A": 1.0, "B": 1.0, "C": 1.0}
    assert first["confusions"] == []
    assert isinstance(first["baseline_accuracy"], float)
    assert first["skipped"] == {"unreadable": 0, "unknown_label": 0}
    assert first["cache"]["misses"] > 0
    again = run_json(capsys, evaluate_args(files, "--temperature", "0.01"))
    assert again["cache"] == {"hits": first["cache"]["misses"], "misses": 0}
    everything = run_json(capsys, evaluate_args(files, "--split", "all", "--temperature", "0.01"))
    assert everything["n"] == 15


def test_evaluate_prints_tables(capsys, files) -> None:
    assert main(evaluate_args(files)) == 0
    out = capsys.readouterr().out
    assert "accuracy:" in out and "class-name baseline:" in out and "embedding cache:" in out


def test_baseline_is_null_with_a_note_when_the_file_lacks_name_prompts(capsys, files, tmp_path) -> None:
    npz = f"precomputed:{build_npz(tmp_path / 'no_names.npz', with_names=False)}"
    data = run_json(
        capsys, ["evaluate", "--system", files["system"], "--data", npz, "--model", npz, "--cache-dir", files["cache"]]
    )
    assert data["baseline_accuracy"] is None
    assert "a photo of A" in data["baseline_note"]
    assert data["n"] == 3


def test_unknown_labels_fail_unless_ignored(capsys, files, tmp_path) -> None:
    npz = f"precomputed:{build_npz(tmp_path / 'extra.npz', extra_labels=('Mew',))}"
    args = ["evaluate", "--system", files["system"], "--data", npz, "--model", npz, "--cache-dir", files["cache"]]
    assert_fails(capsys, args, "'Mew'", "--ignore-unknown")
    data = run_json(capsys, args + ["--ignore-unknown", "--split", "all"])
    assert data["skipped"]["unknown_label"] == 5 and data["n"] == 15


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--temperature", "0"], "--temperature"),
        (["--split", "holdout"], "holdout"),
        (["--fractions", "0.5,0.5"], "--fractions"),
        (["--fractions", "0.7,0.2,0.2"], "sum to 1"),
        (["--crop", "0.5,0.1,0.2,0.9"], "--crop"),
        (["--template", "no placeholder"], "--template"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, files, extra: list[str], fragment: str) -> None:
    assert_fails(capsys, evaluate_args(files, *extra), fragment)


def test_missing_files_are_one_line_errors(capsys, files) -> None:
    assert_fails(
        capsys, ["evaluate", "--system", files["tmp"] + "/nope.json", "--data", files["npz"], "--model", files["npz"]]
    )
    assert_fails(
        capsys,
        ["evaluate", "--system", files["system"], "--data", "precomputed:/nope.npz", "--model", files["npz"]],
        "nope.npz",
    )
    assert_fails(capsys, ["evaluate", "--system", files["system"], "--data", files["npz"]], "--model")
    assert_fails(capsys, evaluate_args(files, "--temperature", "warm"), "--temperature")


@pytest.mark.parametrize("method", ["name", "descriptors"])
def test_baseline_command_scores_on_the_split(capsys, files, method: str) -> None:
    data = run_json(
        capsys,
        [
            "baseline",
            "--data",
            files["npz"],
            "--model",
            files["npz"],
            "--method",
            method,
            "--system",
            files["system"],
            "--cache-dir",
            files["cache"],
            "--split",
            "all",
        ],
    )
    assert data["method"] == method and data["n"] == 15
    assert set(data["per_class"]) == {"A", "B", "C"}
    assert 0.0 <= data["accuracy"] <= 1.0


def test_baseline_command_errors(capsys, files) -> None:
    base = ["baseline", "--data", files["npz"], "--model", files["npz"], "--cache-dir", files["cache"]]
    assert_fails(capsys, base + ["--method", "descriptors"], "--system")
    assert_fails(capsys, base + ["--method", "magic"], "name, descriptors, waffle")
    assert_fails(capsys, base + ["--method", "waffle"], "has no embedding")


def test_synthetic_world_oracle_beats_the_name_baseline(capsys, tmp_path) -> None:
    from cotclip.scoring.simulation.world import load_world

    system_path = tmp_path / "oracle.json"
    system_path.write_text(load_world("pokemon-like").oracle_system().to_json(), encoding="utf-8")
    data = run_json(
        capsys,
        [
            "evaluate",
            "--system",
            str(system_path),
            "--data",
            "synthetic:pokemon-like",
            "--model",
            "synthetic",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert data["n"] > 0
    assert data["accuracy"] > data["baseline_accuracy"]
    waffle = run_json(
        capsys,
        [
            "baseline",
            "--data",
            "synthetic:pokemon-like",
            "--model",
            "synthetic",
            "--method",
            "waffle",
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
    )
    assert waffle["method"] == "waffle" and waffle["n"] == data["n"]


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helpers.tiny_clip import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.mark.slow
def test_evaluate_through_a_tiny_clip_with_a_corrupt_image(capsys, tmp_path, tiny_clip_dir) -> None:
    from helpers.tiny_clip import build_image_folder

    image_folder = build_image_folder(tmp_path / "images")
    (image_folder / "cat" / "broken.png").write_bytes(b"not a png")
    system = System.from_data(
        {
            "classes": ["cat", "dog"],
            "groups": [{"name": "fur", "prompt": "fur is {}", "options": ["soft", "rough"]}],
            "rules": {"cat": {"fur": 0}, "dog": {"fur": 1}},
        }
    )
    system_path = tmp_path / "pets.json"
    system_path.write_text(system.to_json(), encoding="utf-8")
    args = [
        "evaluate",
        "--system",
        str(system_path),
        "--data",
        str(image_folder),
        "--model",
        f"hf:{tiny_clip_dir}",
        "--split",
        "all",
        "--crop",
        "0,0,0.5,1",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    first = run_json(capsys, args)
    assert first["n"] == 6 and first["skipped"]["unreadable"] == 1
    assert first["baseline_accuracy"] is not None
    second = run_json(capsys, args)
    assert second["cache"]["misses"] == 1  # only the corrupt image is looked up (and fails) again
    assert second["accuracy"] == first["accuracy"]


@pytest.mark.slow
def test_manifest_with_custom_column_names(capsys, tmp_path, tiny_clip_dir) -> None:
    from helpers.tiny_clip import build_image_folder

    image_folder = build_image_folder(tmp_path / "images")
    rows = [f"{p.relative_to(tmp_path)},{p.parent.name}" for p in sorted(image_folder.rglob("*.png"))]
    manifest = tmp_path / "pets.csv"
    manifest.write_text("file,species\n" + "\n".join(rows) + "\n", encoding="utf-8")
    system = System.from_data(
        {
            "classes": ["cat", "dog"],
            "groups": [{"name": "fur", "prompt": "fur is {}", "options": ["soft", "rough"]}],
            "rules": {"cat": {"fur": 0}, "dog": {"fur": 1}},
        }
    )
    system_path = tmp_path / "pets.json"
    system_path.write_text(system.to_json(), encoding="utf-8")
    common = [
        "--system",
        str(system_path),
        "--data",
        str(manifest),
        "--model",
        f"hf:{tiny_clip_dir}",
        "--split",
        "all",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    payload = run_json(capsys, ["evaluate", *common, "--image-column", "file", "--label-column", "species"])
    assert payload["n"] == len(rows)
    assert set(payload["per_class"]) == {"cat", "dog"}
    assert main(["evaluate", *common, "--image-column", "file"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "label" in err and "Traceback" not in err


def test_an_unknown_class_too_small_to_split_is_dropped_by_ignore_unknown(capsys, files, tmp_path) -> None:
    # 'zebra' has a single image: the stratified split cannot place it, and it is not a class of the system
    npz = f"precomputed:{build_npz(tmp_path / 'zebra.npz', extra_labels=('zebra',), extra_count=1)}"
    args = ["evaluate", "--system", files["system"], "--data", npz, "--model", npz, "--cache-dir", files["cache"]]
    assert_fails(capsys, args, "'zebra'", "--ignore-unknown")  # the label problem, not a split problem
    data = run_json(capsys, args + ["--ignore-unknown"])
    assert data["skipped"]["unknown_label"] == 1 and data["n"] > 0
    baseline = run_json(capsys, ["baseline", "--system", files["system"], *args[3:], "--ignore-unknown"])
    assert baseline["skipped"]["unknown_label"] == 1
