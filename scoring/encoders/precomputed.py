"""``precomputed:<file.npz>``: embeddings computed elsewhere, served as an encoder.

The file holds ``image_embeddings`` ``[N, d]``, ``labels`` ``[N]``, and optionally
``texts`` ``[M]`` with ``text_embeddings`` ``[M, d]``. It is read with
``allow_pickle=False`` (never unpickled) and validated; rows are L2-normalised on load.
Texts are looked up by exact string; a text the file lacks raises
:class:`~cotclip.systems.errors.MissingTextEmbeddingsError`. The same file is a dataset
(:mod:`cotclip.scoring.data.precomputed`) whose image uids are ``npz:<file-sha256>:<row>``;
this encoder refuses refs from any other file.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cotclip.scoring.encoders._base import ImageEncoding, ImageRef, l2_normalize
from cotclip.systems.errors import CotclipError, EncoderError, MissingTextEmbeddingsError

__all__ = ["PrecomputedFile", "PrecomputedEncoder", "read_precomputed", "load_encoder"]


@dataclass(frozen=True)
class PrecomputedFile:
    """The validated contents of a precomputed ``.npz`` file."""

    path: Path
    sha256: str
    image_embeddings: np.ndarray
    labels: list[str] | None
    texts: list[str]
    text_embeddings: np.ndarray

    def uid(self, row: int) -> str:
        """The content id of image ``row``: ``npz:<file-sha256>:<row>``."""
        return f"npz:{self.sha256}:{row}"


def _strings(array: np.ndarray, name: str, fail: type[CotclipError], where: str) -> list[str]:
    if array.ndim != 1:
        raise fail(f"{where}: `{name}` must be 1-D, got shape {array.shape}; save one entry per row")
    if array.dtype.kind == "U":
        return [str(v) for v in array]
    if array.dtype.kind == "S":
        return [v.decode("utf-8", errors="replace") for v in array]
    if array.dtype.kind in "iu":
        return [str(int(v)) for v in array]
    raise fail(f"{where}: `{name}` has dtype {array.dtype}; save it as strings (np.array([...], dtype=str))")


def _matrix(array: np.ndarray, name: str, fail: type[CotclipError], where: str) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] == 0 or array.dtype.kind != "f":
        raise fail(f"{where}: `{name}` must be a 2-D float array [rows, dim], got {array.dtype} {array.shape}")
    if not np.all(np.isfinite(array)):
        raise fail(f"{where}: `{name}` contains NaN or infinite values; recompute those embeddings")
    return l2_normalize(array)


def read_precomputed(spec: str, fail: type[CotclipError] = EncoderError) -> PrecomputedFile:
    """Load and validate ``spec``; every problem raises ``fail`` with a one-line fix."""
    path = Path(spec).expanduser()
    if not path.is_file():
        raise fail(f"precomputed file {spec!r} not found; pass precomputed:<path to an .npz file>")
    raw = path.read_bytes()
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise fail(
            f"{path} is not a readable .npz of plain arrays ({str(exc).splitlines()[0]}); save it with np.savez"
        ) from None
    where = str(path)
    if "image_embeddings" not in arrays:
        raise fail(f"{where} has no `image_embeddings` array (found {sorted(arrays)}); save image_embeddings [N, d]")
    images = _matrix(arrays["image_embeddings"], "image_embeddings", fail, where)
    labels = _strings(arrays["labels"], "labels", fail, where) if "labels" in arrays else None
    if labels is not None and len(labels) != len(images):
        raise fail(
            f"{where}: `labels` has {len(labels)} rows but `image_embeddings` has {len(images)}; save one label per "
            "image"
        )
    if ("texts" in arrays) != ("text_embeddings" in arrays):
        raise fail(f"{where}: `texts` and `text_embeddings` must be saved together; add the missing one or drop both")
    texts: list[str] = []
    text_rows = np.zeros((0, images.shape[1]), dtype=np.float32)
    if "texts" in arrays:
        texts = _strings(arrays["texts"], "texts", fail, where)
        text_rows = _matrix(arrays["text_embeddings"], "text_embeddings", fail, where)
        if text_rows.shape != (len(texts), images.shape[1]):
            expected = (len(texts), images.shape[1])
            raise fail(
                f"{where}: `text_embeddings` is {text_rows.shape}, expected {expected} to match `texts` and "
                "`image_embeddings`"
            )
        duplicates = [t for t, n in Counter(texts).items() if n > 1]
        if duplicates:
            raise fail(f"{where}: `texts` lists {duplicates[0]!r} more than once; keep one row per text")
    return PrecomputedFile(path.resolve(), hashlib.sha256(raw).hexdigest(), images, labels, texts, text_rows)


class PrecomputedEncoder:
    """Serves the rows of one :class:`PrecomputedFile` (exact text match, row lookup for images)."""

    def __init__(self, contents: PrecomputedFile) -> None:
        self.contents = contents
        self._text_rows = {text: row for row, text in enumerate(contents.texts)}

    @property
    def identity(self) -> str:
        """``precomputed:sha256:<file hash>``."""
        return f"precomputed:sha256:{self.contents.sha256}"

    @property
    def dim(self) -> int:
        """Embedding width of the file."""
        return int(self.contents.image_embeddings.shape[1])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """The stored rows of ``texts``; raises MissingTextEmbeddingsError for unknown ones."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_rows))
        if missing:
            raise MissingTextEmbeddingsError(missing, str(self.contents.path))
        return self.contents.text_embeddings[[self._text_rows[t] for t in texts]].reshape(len(texts), self.dim)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """The stored rows of refs from this same file; refs from elsewhere raise EncoderError."""
        prefix = f"npz:{self.contents.sha256}:"
        rows = []
        for ref in images:
            row = ref.uid[len(prefix) :] if ref.uid.startswith(prefix) else ""
            if not row.isdigit() or int(row) >= len(self.contents.image_embeddings):
                raise EncoderError(
                    f"image {ref.source} is not from {self.contents.path}; a precomputed encoder only embeds its own "
                    "file's images (the data precomputed:<file>), not image files; use a real encoder for those"
                )
            rows.append(int(row))
        embeddings = self.contents.image_embeddings[rows].reshape(len(rows), self.dim)
        return ImageEncoding(embeddings=embeddings, ok_positions=list(range(len(rows))))


def load_encoder(rest: str, **_: Any) -> PrecomputedEncoder:
    """The encoder for ``precomputed:<rest>``; unknown options are ignored."""
    return PrecomputedEncoder(read_precomputed(rest, EncoderError))
