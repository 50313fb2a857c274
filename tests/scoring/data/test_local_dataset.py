"""Image folders and .csv/.jsonl manifests: labels, uids, crops, and one-line errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from cotclip.scoring.registry import load_dataset
from cotclip.systems.errors import DataError


def test_folder_labels_follow_subfolders(image_folder: Path) -> None:
    dataset = load_dataset(str(image_folder))
    assert dataset.labels == ["cat"] * 3 + ["dog"] * 3
    first = sorted((image_folder / "cat").iterdir())[0]
    assert dataset.images[0].uid == "sha256:" + hashlib.sha256(first.read_bytes()).hexdigest()
    assert dataset.images[0].source == str(first)


def test_identical_bytes_share_a_uid_and_other_files_are_ignored(image_folder: Path) -> None:
    shutil.copy(image_folder / "cat" / "cat_0.png", image_folder / "dog" / "copy.PNG")
    (image_folder / "dog" / "notes.txt").write_text("not an image")
    dataset = load_dataset(str(image_folder))
    assert len(dataset) == 7
    assert dataset.images[0].uid == dataset.images[3].uid


def test_crop_is_applied_and_recorded(image_folder: Path) -> None:
    dataset = load_dataset(str(image_folder), crop=(0.25, 0.0, 0.75, 0.5))
    assert dataset.images[0].crop == (0.25, 0.0, 0.75, 0.5)
    assert dataset.images[0].open_pixels().size == (16, 12)
    assert dataset.identity != load_dataset(str(image_folder)).identity


@pytest.mark.parametrize("crop", [(0.5, 0, 0.4, 1), (0, 0, 1), (0, 0, 1, 1.2), ("a", 0, 1, 1), (-0.1, 0, 1, 1)])
def test_bad_crops_are_refused(image_folder: Path, crop: tuple) -> None:
    with pytest.raises(DataError, match="crop"):
        load_dataset(str(image_folder), crop=crop)


def test_csv_manifest_resolves_relative_paths(image_folder: Path) -> None:
    manifest = image_folder / "list.csv"
    manifest.write_text("path,label\ncat/cat_1.png,tabby\n" + f"{image_folder / 'dog' / 'dog_0.png'},hound\n")
    dataset = load_dataset(str(manifest))
    assert dataset.labels == ["tabby", "hound"]
    assert dataset.images[0].open_pixels().size == (32, 24)


def test_jsonl_manifest_with_custom_columns(image_folder: Path) -> None:
    manifest = image_folder / "list.jsonl"
    rows = [{"file": "cat/cat_0.png", "species": "cat"}, {"file": "dog/dog_2.png", "species": "dog"}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    dataset = load_dataset(str(manifest), image_column="file", label_column="species")
    assert dataset.labels == ["cat", "dog"]


def test_manifest_missing_files_are_named(image_folder: Path) -> None:
    manifest = image_folder / "list.csv"
    manifest.write_text("path,label\ncat/cat_0.png,cat\nnope1.png,cat\nnope2.png,dog\nnope3.png,dog\nnope4.png,dog\n")
    with pytest.raises(DataError, match=r"4 image\(s\).*first: nope1.png, nope2.png, nope3.png;") as raised:
        load_dataset(str(manifest))
    assert "nope4" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("file,label\na.png,cat\n", ".csv", "no 'path' column"),
        ("path,label\n", ".csv", "lists no images"),
        ("path,label\ncat/cat_0.png,\n", ".csv", "row 1 has an empty"),
        ('{"path": "cat/cat_0.png", "label": "cat"}\n{oops\n', ".jsonl", ":2 is not valid JSON"),
        ('["cat/cat_0.png", "cat"]\n', ".jsonl", "not a JSON object"),
    ],
)
def test_malformed_manifests(image_folder: Path, text: str, suffix: str, message: str) -> None:
    manifest = image_folder / f"list{suffix}"
    manifest.write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset(str(manifest))


def test_folder_errors(tmp_path: Path, image_folder: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes((image_folder / "cat" / "cat_0.png").read_bytes())
    with pytest.raises(DataError, match="no class subfolders"):
        load_dataset(str(tmp_path / "flat"))
    (image_folder / "bird").mkdir()
    with pytest.raises(DataError, match="'bird'.*hold no images"):
        load_dataset(str(image_folder))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "absent"))
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError, match="not a .csv/.jsonl manifest"):
        load_dataset(str(tmp_path / "x.txt"))
