"""A model-free text encoder for scoring tests: one deterministic random unit vector per text."""

from __future__ import annotations

import hashlib

import numpy as np

from cotclip.systems.errors import MissingTextEmbeddingsError


class HashTextEncoder:
    """Unit vectors seeded by each text's SHA-256; records every call in ``calls``.

    With ``known`` it behaves like a precomputed file: texts outside it raise
    :class:`MissingTextEmbeddingsError`. Scoring never encodes images, so that raises.
    """

    identity = "test:hash-text"

    def __init__(self, dim: int, known: set[str] | None = None) -> None:
        self.dim = dim
        self.known = known
        self.calls: list[list[str]] = []

    def encode_texts(self, texts):
        self.calls.append(list(texts))
        missing = [t for t in texts if self.known is not None and t not in self.known]
        if missing:
            raise MissingTextEmbeddingsError(missing, "vocab.npz")
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dim)
            rows.append(row / np.linalg.norm(row))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)

    def encode_images(self, images):  # pragma: no cover - the scorer never encodes images
        raise NotImplementedError
