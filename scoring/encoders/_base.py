"""The ``Encoder`` seam: a frozen model that embeds images and texts.

Contract every implementation obeys (``tests/scoring/encoders/test_contract.py``
runs one suite over all of them):

* ``identity`` is a string that changes whenever the numbers could change: model id
  or weight hash, revision, preprocessing (resize, normalisation). The embedding cache
  keys on it, so two encoders that could disagree must never share an identity.
* ``dim`` is the embedding width.
* ``encode_texts(texts)`` returns ``float32 [len(texts), dim]``, rows L2-normalised,
  in input order. An encoder with a fixed vocabulary raises
  :class:`~cotclip.systems.errors.MissingTextEmbeddingsError` for unknown texts.
* ``encode_images(images)`` takes :class:`ImageRef` s and returns an
  :class:`ImageEncoding`: embeddings for the images it could read, in input order,
  and the positions and reasons of those it could not (corrupt files). It never
  raises for one unreadable image; it raises :class:`~cotclip.systems.errors.EncoderError`
  for refs it cannot handle at all (e.g. another dataset's precomputed ids).
* Encoders are pure: same input, same output; no global state.
* Optional ``similarity``: an encoder whose ``similarity`` attribute is ``"maxsim"``
  returns :class:`~cotclip.scoring.similarity.MultiVectors` instead of ``[n, dim]`` arrays
  from both methods (a matrix of unit token vectors per text, of unit patch vectors per
  image; ``dim`` is their width) and is compared by MaxSim. Without the attribute an
  encoder is ``"cosine"``; wrappers forward it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["ImageRef", "ImageEncoding", "Encoder", "l2_normalize"]


@dataclass(frozen=True)
class ImageRef:
    """One image of a dataset, identified by content.

    ``uid`` identifies the *content* (``sha256:<hex>`` of a file's bytes, or a
    namespaced row id such as ``synthetic:<world-hash>:<i>`` / ``npz:<file-hash>:<i>``);
    the cache keys on it together with ``crop``. ``source`` is what messages show
    (a path). ``row`` is the row index for id-addressed encoders. ``open_pixels``
    loads the image as an RGB ``PIL.Image`` with the crop applied (pixel encoders only).
    """

    uid: str
    source: str
    crop: tuple[float, float, float, float] | None = None
    row: int | None = None
    open_pixels: Callable[[], object] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ImageEncoding:
    """Result of ``encode_images``: rows for readable images, reasons for the others."""

    embeddings: np.ndarray
    ok_positions: list[int]
    failures: list[tuple[int, str]] = field(default_factory=list)


@runtime_checkable
class Encoder(Protocol):
    """A frozen image/text embedding model (see the module docstring for the contract)."""

    @property
    def identity(self) -> str:
        """Everything that determines the numbers: model, revision, preprocessing."""
        ...

    @property
    def dim(self) -> int:
        """Embedding width."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised ``float32 [len(texts), dim]`` in input order."""
        ...

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Embeddings of the readable images plus the failures (never raises for one bad file)."""
        ...


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; zero rows stay zero."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
