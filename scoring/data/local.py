"""Datasets on local disk: a folder of class subfolders, or a ``.csv`` / ``.jsonl`` manifest.

* Folder: ``<root>/<class>/<image>`` (images may sit in nested folders below the class
  folder); extensions in :data:`IMAGE_EXTENSIONS`, case-insensitive; hidden files skipped.
* Manifest: one row per image with a path column and a label column. The path column
  is ``image_column`` if the manifest has it, else ``path``; relative paths resolve
  against the manifest's folder.
* A ``datasets.save_to_disk`` folder is recognised and handed to
  :mod:`cotclip.scoring.data.hf` (``<folder>:<split>`` picks a split of a DatasetDict).

Every image's uid is ``sha256:<hex of the file's bytes>``; the optional crop box
(fractions ``left, top, right, bottom``) is applied when pixels are opened and is part
of every ref, hence of the cache key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from cotclip.scoring.data._base import Crop, Dataset
from cotclip.scoring.encoders import ImageRef
from cotclip.systems.errors import DataError

__all__ = [
    "IMAGE_EXTENSIONS",
    "load_dataset",
    "check_crop",
    "open_image",
    "file_ref",
    "dataset_identity",
    "is_saved_dataset",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def check_crop(crop: Sequence[float] | None) -> Crop | None:
    """The crop box as a tuple of 4 fractions, or None; raises DataError if it is not a box inside the image."""
    if crop is None:
        return None
    try:
        box = tuple(float(v) for v in crop)
    except (TypeError, ValueError):
        raise DataError(
            f"crop {crop!r} must be 4 numbers left,top,right,bottom as fractions, e.g. 0.08,0.11,0.92,0.55"
        ) from None
    if len(box) != 4:
        raise DataError(f"crop {crop!r} has {len(box)} numbers; give 4 fractions left,top,right,bottom")
    left, top, right, bottom = box
    if not (0.0 <= left < right <= 1.0 and 0.0 <= top < bottom <= 1.0):
        raise DataError(
            f"crop {box} is not a box inside the image; need 0 <= left < right <= 1 and 0 <= top < bottom <= 1"
        )
    return box  # type: ignore[return-value]


def open_image(read_bytes: Callable[[], bytes], crop: Crop | None) -> Image.Image:
    """Decode an image as RGB (EXIF orientation applied), then crop; decoding problems raise OSError/ValueError."""
    try:
        with Image.open(io.BytesIO(read_bytes())) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except (KeyError, TypeError, IndexError, struct.error, ZeroDivisionError) as exc:
        raise OSError(f"cannot decode image ({type(exc).__name__}: {exc})") from None
    if crop is None:
        return rgb
    width, height = rgb.size
    box = (round(crop[0] * width), round(crop[1] * height), round(crop[2] * width), round(crop[3] * height))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise ValueError(f"crop {crop} leaves no pixels of a {width}x{height} image")
    return rgb.crop(box)


def file_ref(path: Path, crop: Crop | None) -> ImageRef:
    """A ref for the image file at ``path``: uid from its bytes, pixels opened lazily."""
    try:
        uid = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        uid = f"unreadable:{path}:{exc.strerror}"  # the encoder reports it when it tries to open it
    return ImageRef(uid=uid, source=str(path), crop=crop, open_pixels=partial(open_image, path.read_bytes, crop))


def dataset_identity(kind: str, refs: list[ImageRef], labels: list[str]) -> str:
    """``<kind>:<sha256 of the uids, crops and labels>`` (changes whenever any of them does)."""
    payload = json.dumps([[r.uid, r.crop, label] for r, label in zip(refs, labels)], ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:32]}"


def is_saved_dataset(folder: Path) -> bool:
    """Whether ``folder`` was written by ``datasets``' ``save_to_disk``."""
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _folder_dataset(root: Path, crop: Crop | None) -> Dataset:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(
            f"{root} has no class subfolders; put each class's images in <folder>/<class>/ or use a manifest"
        )
    refs: list[ImageRef] = []
    labels: list[str] = []
    empty: list[str] = []
    for class_dir in class_dirs:
        files = sorted(
            (p for p in class_dir.rglob("*") if _is_image(p)), key=lambda p: p.relative_to(class_dir).as_posix()
        )
        if not files:
            empty.append(class_dir.name)
        refs.extend(file_ref(p, crop) for p in files)
        labels.extend([class_dir.name] * len(files))
    if empty:
        names, extensions = ", ".join(map(repr, empty[:3])), ", ".join(sorted(IMAGE_EXTENSIONS))
        raise DataError(f"class folder(s) {names} in {root} hold no images ({extensions}); add images or remove them")
    return Dataset(source=str(root), identity=dataset_identity("folder", refs, labels), images=refs, labels=labels)


def _manifest_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read manifest {path} ({exc}); pass a UTF-8 .csv or .jsonl file") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return list(reader), list(reader.fieldnames or [])
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number} is not valid JSON ({exc.msg}); write one JSON object per line") from None
        if not isinstance(row, dict):
            raise DataError(
                f"{path}:{number} is not a JSON object; write one {{\"path\": ..., \"label\": ...}} per line"
            )
        rows.append(row)
    return rows, list(dict.fromkeys(key for row in rows for key in row))


def _manifest_dataset(path: Path, crop: Crop | None, image_column: str, label_column: str) -> Dataset:
    rows, columns = _manifest_rows(path)
    path_column = image_column if image_column in columns else "path"
    for needed in (path_column, label_column):
        if needed not in columns:
            raise DataError(
                f"manifest {path} has no {needed!r} column (columns: {columns}); rename it or pass "
                "--image-column/--label-column"
            )
    if not rows:
        raise DataError(f"manifest {path} lists no images; add rows of {path_column},{label_column}")
    files, labels, missing = [], [], []
    for number, row in enumerate(rows, start=1):
        label = row.get(label_column)
        if label is None or str(label).strip() == "" or not row.get(path_column):
            raise DataError(
                f"{path} row {number} has an empty {path_column!r} or {label_column!r}; fill it in or drop the row"
            )
        file = Path(str(row[path_column])).expanduser()
        file = file if file.is_absolute() else path.parent / file
        if not file.is_file():
            missing.append(str(row[path_column]))
        files.append(file)
        labels.append(str(label).strip())
    if missing:
        raise DataError(
            f"{len(missing)} image(s) listed in {path} do not exist, first: {', '.join(missing[:3])}; "
            "fix the paths (relative ones resolve against the manifest's folder)"
        )
    refs = [file_ref(f, crop) for f in files]
    return Dataset(source=str(path), identity=dataset_identity("manifest", refs, labels), images=refs, labels=labels)


def load_dataset(
    rest: str,
    *,
    crop: Sequence[float] | None = None,
    image_column: str = "image",
    label_column: str = "label",
    split: str | None = None,
    **_: Any,
) -> Dataset:
    """An image folder, a manifest, or a ``save_to_disk`` folder (``<folder>[:<split>]``)."""
    box = check_crop(crop)
    path = Path(rest).expanduser()
    head, _sep, tail = rest.rpartition(":")
    if not path.exists() and head and Path(head).expanduser().is_dir() and is_saved_dataset(Path(head).expanduser()):
        path, split = Path(head).expanduser(), tail
    if path.is_dir():
        if is_saved_dataset(path):
            from cotclip.scoring.data.hf import load_saved_dataset

            return load_saved_dataset(path, split=split, crop=box, image_column=image_column, label_column=label_column)
        return _folder_dataset(path, box)
    if path.is_file() and path.suffix.lower() in {".csv", ".jsonl"}:
        return _manifest_dataset(path, box, image_column, label_column)
    if path.is_file():
        raise DataError(
            f"{rest} is not a .csv/.jsonl manifest; pass a folder of class subfolders, a manifest, hf:<id> or "
            "precomputed:<file.npz>"
        )
    raise DataError(
        f"data {rest!r} does not exist; pass a folder of class subfolders, a .csv/.jsonl manifest, "
        "hf:<id>[:split] or precomputed:<file.npz>"
    )
