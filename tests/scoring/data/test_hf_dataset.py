"""datasets-backed data: save_to_disk folders (Dataset and DatasetDict) and hf:<id> from the local hub cache."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from cotclip.scoring.registry import load_dataset
from cotclip.systems.errors import DataError

datasets = pytest.importorskip("datasets")


def _png(shade: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (shade, 255 - shade, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _table() -> datasets.Dataset:
    features = datasets.Features(
        {"img": datasets.Image(), "kind": datasets.ClassLabel(names=["cat", "dog"]), "note": datasets.Value("string")}
    )
    rows = {
        "img": [{"bytes": _png(40 * i), "path": None} for i in range(4)],
        "kind": [0, 1, 1, 0],
        "note": list("abcd"),
    }
    return datasets.Dataset.from_dict(rows, features=features)


def test_saved_dataset_maps_classlabels_to_names(tmp_path: Path) -> None:
    _table().save_to_disk(str(tmp_path / "saved"))
    dataset = load_dataset(str(tmp_path / "saved"), image_column="img", label_column="kind", crop=(0, 0, 0.5, 1))
    assert dataset.labels == ["cat", "dog", "dog", "cat"]
    assert dataset.images[1].uid == "sha256:" + hashlib.sha256(_png(40)).hexdigest()
    assert dataset.images[1].open_pixels().size == (10, 10)
    assert dataset.images[1].source.endswith("saved#1")


def test_dataset_dict_needs_a_split(tmp_path: Path) -> None:
    table = _table()
    datasets.DatasetDict({"train": table, "test": table.select([0, 1])}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match=r"has splits \['train', 'test'\]"):
        load_dataset(str(tmp_path / "dd"), image_column="img", label_column="kind")
    test_split = load_dataset(f"{tmp_path / 'dd'}:test", image_column="img", label_column="kind")
    assert test_split.labels == ["cat", "dog"] and test_split.source.endswith("dd:test")


def test_missing_columns_are_named(tmp_path: Path) -> None:
    _table().save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(DataError, match=r"no column 'image' \(columns: \['img', 'kind', 'note'\]\)"):
        load_dataset(str(tmp_path / "saved"))
    with pytest.raises(DataError, match="not images or paths"):
        load_dataset(str(tmp_path / "saved"), image_column="kind", label_column="note")


def test_path_column_resolves_against_the_folder(tmp_path: Path, image_folder: Path) -> None:
    table = datasets.Dataset.from_dict(
        {"file": [str(image_folder / "cat" / "cat_0.png"), "relative.png"], "label": ["a", "b"]}
    )
    table.save_to_disk(str(tmp_path / "paths"))
    (tmp_path / "paths" / "relative.png").write_bytes(_png(9))
    dataset = load_dataset(str(tmp_path / "paths"), image_column="file")
    assert dataset.images[1].open_pixels().size == (20, 10)


def test_hub_id_loads_from_the_local_cache(tmp_path: Path) -> None:
    commit = "f" * 40
    repo = tmp_path / "hub" / "datasets--me--pets"
    (repo / "snapshots" / commit / "data").mkdir(parents=True)
    _table().to_parquet(str(repo / "snapshots" / commit / "data" / "test-00000-of-00001.parquet"))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    options = {"hub_cache_dir": str(tmp_path / "hub"), "datasets_cache_dir": str(tmp_path / "ds_cache")}
    dataset = load_dataset("hf:me/pets:test", image_column="img", label_column="kind", **options)
    assert dataset.labels == ["cat", "dog", "dog", "cat"] and dataset.source == "hf:me/pets:test"


def test_missing_hub_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not in the local Hugging Face cache and downloads are off"):
        load_dataset("hf:nobody/nothing", hub_cache_dir=str(tmp_path / "hub"))
