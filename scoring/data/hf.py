"""Hugging Face ``datasets``: ``hf:<id>[:split]`` and folders written by ``save_to_disk``.

Offline by default: a hub id is looked up in the local Hugging Face cache only
(``snapshot_download(..., local_files_only=True)``) and loaded from that snapshot
folder, so a missing dataset fails at once with one line; ``allow_download=True``
opts in to downloading (unless ``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE`` is set).

The image column may be a ``datasets.Image`` feature (bytes are read undecoded, so
the uid is ``sha256`` of the encoded file) or a string column of file paths
(relative ones resolve against the dataset folder). ``ClassLabel`` labels become
their names; other labels their string form.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from cotclip.scoring.data._base import Crop, Dataset
from cotclip.scoring.data.local import check_crop, dataset_identity, file_ref, open_image
from cotclip.scoring.encoders import ImageRef
from cotclip.systems.errors import DataError

__all__ = ["load_dataset", "load_saved_dataset", "from_hf_dataset"]


def _offline() -> bool:
    flags = (os.environ.get(name, "").strip().lower() for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    return any(flag in {"1", "true", "yes", "on"} for flag in flags)


def _pick_split(loaded: Any, split: str | None, source: str) -> Any:
    import datasets

    if not isinstance(loaded, datasets.DatasetDict):
        return loaded
    names = list(loaded.keys())
    if split is None and len(names) == 1:
        return loaded[names[0]]
    if split not in loaded:
        raise DataError(f"{source} has splits {names}; pick one with {source}:<split>")
    return loaded[split]


def _row_bytes(table: Any, column: str, row: int, base: Path | None) -> bytes:
    value = table[row][column]
    if isinstance(value, dict) and value.get("bytes"):
        return value["bytes"]
    path = value.get("path") if isinstance(value, dict) else value
    if not path:
        raise OSError(f"row {row} has no image bytes or path")
    path = Path(path)
    return (path if path.is_absolute() or base is None else base / path).read_bytes()


def _image_refs(table: Any, column: str, crop: Crop | None, source: str, base: Path | None) -> list[ImageRef]:
    import datasets

    feature = table.features[column]
    if isinstance(feature, datasets.Image):
        table = table.select_columns([column]).cast_column(column, datasets.Image(decode=False))
    elif not (isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")):
        raise DataError(
            f"column {column!r} of {source} holds {feature}, not images or paths; pass --image-column <image column>"
        )
    if not isinstance(feature, datasets.Image):
        return [file_ref(Path(p) if Path(p).is_absolute() or base is None else base / p, crop) for p in table[column]]
    refs = []
    for row in range(len(table)):
        read = partial(_row_bytes, table, column, row, base)
        try:
            uid = "sha256:" + hashlib.sha256(read()).hexdigest()
        except OSError as exc:
            uid = f"unreadable:{source}#{row}:{exc}"
        refs.append(ImageRef(uid=uid, source=f"{source}#{row}", crop=crop, open_pixels=partial(open_image, read, crop)))
    return refs


def from_hf_dataset(
    table: Any, source: str, *, crop: Crop | None, image_column: str, label_column: str, base: Path | None = None
) -> Dataset:
    """A :class:`Dataset` from one ``datasets.Dataset`` split."""
    import datasets

    for column in (image_column, label_column):
        if column not in table.column_names:
            raise DataError(
                f"{source} has no column {column!r} (columns: {table.column_names}); pass --image-column/--label-column"
            )
    label_feature = table.features[label_column]
    raw_labels = table[label_column]
    if any(value is None for value in raw_labels):
        raise DataError(f"{source} has rows without a {label_column!r}; drop them or pick another label column")
    if isinstance(label_feature, datasets.ClassLabel):
        labels = [label_feature.int2str(int(value)) for value in raw_labels]
    else:
        labels = [str(value) for value in raw_labels]
    refs = _image_refs(table, image_column, crop, source, base)
    return Dataset(source=source, identity=dataset_identity("hf", refs, labels), images=refs, labels=labels)


def load_saved_dataset(
    folder: Path, *, split: str | None, crop: Crop | None, image_column: str = "image", label_column: str = "label"
) -> Dataset:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the saved dataset {folder} ({str(exc).splitlines()[0]}); re-save it with save_to_disk"
        ) from None
    table = _pick_split(loaded, split or None, str(folder))
    source = f"{folder}:{split}" if split else str(folder)
    return from_hf_dataset(table, source, crop=crop, image_column=image_column, label_column=label_column, base=folder)


def _load_hub(
    repo_id: str, split: str | None, allow_download: bool, hub_cache_dir: str | None, datasets_cache_dir: str | None
) -> Any:
    import datasets
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if allow_download and not _offline():
        return datasets.load_dataset(repo_id, split=split, cache_dir=datasets_cache_dir)
    try:
        folder = snapshot_download(repo_id, repo_type="dataset", cache_dir=hub_cache_dir, local_files_only=True)
    except LocalEntryNotFoundError:
        raise DataError(
            f"dataset {repo_id!r} is not in the local Hugging Face cache and downloads are off; pass a local "
            "folder (save_to_disk, class subfolders or a manifest); the command line never downloads, the "
            "Python API's allow_download=True does, on a machine with network"
        ) from None
    return datasets.load_dataset(folder, split=split, cache_dir=datasets_cache_dir)


def load_dataset(
    rest: str,
    *,
    crop: Sequence[float] | None = None,
    image_column: str = "image",
    label_column: str = "label",
    split: str | None = None,
    allow_download: bool = False,
    hub_cache_dir: str | None = None,
    datasets_cache_dir: str | None = None,
    **_: Any,
) -> Dataset:
    """The dataset ``hf:<id>[:split]`` (a ``save_to_disk`` folder is accepted too)."""
    box = check_crop(crop)
    repo_id, _sep, split_part = rest.partition(":")
    split = split_part or split or None
    if not repo_id:
        raise DataError("empty dataset spec 'hf:'; pass hf:<owner>/<name>[:split]")
    if Path(repo_id).expanduser().is_dir():
        return load_saved_dataset(
            Path(repo_id).expanduser(), split=split, crop=box, image_column=image_column, label_column=label_column
        )
    try:
        loaded = _load_hub(repo_id, split, allow_download, hub_cache_dir, datasets_cache_dir)
    except ValueError as exc:  # datasets reports unknown splits and bad configs as ValueError
        raise DataError(
            f"cannot load dataset {repo_id!r}: {str(exc).splitlines()[0]}; check the id and split"
        ) from None
    table = _pick_split(loaded, split, f"hf:{repo_id}")
    source = f"hf:{repo_id}:{split}" if split else f"hf:{repo_id}"
    return from_hf_dataset(table, source, crop=box, image_column=image_column, label_column=label_column)
