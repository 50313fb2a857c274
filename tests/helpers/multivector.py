"""A fast, torch-free multi-vector encoder for MaxSim tests: hashed token and patch vectors.

A text's tokens are its words, each a unit vector seeded by the word; an image's patches
(3 to 5 of them, by uid) are unit vectors seeded by ``(uid, patch)``, and image ``i`` of
class ``c`` (uid ``"<c>:<i>"``) has its first patch pulled towards the word ``c``, so
prompts that mention the class score higher. ``similarity = "maxsim"``.
"""

from __future__ import annotations

import hashlib

import numpy as np

from cotclip.scoring.encoders import ImageEncoding, ImageRef, l2_normalize
from cotclip.scoring.similarity import MultiVectors

__all__ = ["HashMultiVectorEncoder", "random_multivectors"]


def _vector(key: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return l2_normalize(np.random.default_rng(seed).standard_normal(dim))


def random_multivectors(rng: np.random.Generator, count: int, dim: int, low: int = 1, high: int = 6) -> MultiVectors:
    """``count`` items with ``low..high-1`` random unit vectors each."""
    return MultiVectors.from_list(
        [l2_normalize(rng.standard_normal((int(rng.integers(low, high)), dim))) for _ in range(count)], dim
    )


class HashMultiVectorEncoder:
    """Multi-vector encoder over hashed vectors (see module docstring)."""

    similarity = "maxsim"

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.identity = f"test:hash-multivector:{dim}"

    def encode_texts(self, texts) -> MultiVectors:
        """One unit vector per word."""
        return MultiVectors.from_list(
            [np.stack([_vector("w|" + w, self.dim) for w in (t.split() or [""])]) for t in texts], self.dim
        )

    def encode_images(self, images) -> ImageEncoding:
        """3-5 unit patch vectors per image; the first leans towards the class word in the uid."""
        matrices = []
        for ref in images:
            count = 3 + int(hashlib.sha256(ref.uid.encode()).digest()[0]) % 3
            patches = np.stack([_vector(f"p|{ref.uid}|{k}", self.dim) for k in range(count)])
            label = ref.uid.split(":")[0]
            patches[0] = l2_normalize(patches[0] + 2.0 * _vector("w|" + label, self.dim))
            matrices.append(patches)
        return ImageEncoding(MultiVectors.from_list(matrices, self.dim), list(range(len(images))))


def image_refs(classes, per_class: int) -> tuple[list[ImageRef], list[str]]:
    """Refs ``"<class>:<i>"`` and their labels."""
    refs = [ImageRef(uid=f"{c}:{i}", source=f"{c}/{i}") for c in classes for i in range(per_class)]
    return refs, [c for c in classes for _ in range(per_class)]
