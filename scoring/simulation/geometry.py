"""The concept space of the planted-attribute world: seeded vectors and image embeddings.

Determinism is the point of this module. Every vector comes from a NumPy ``Generator``
seeded by the SHA-256 of ``(world seed, key)``, so a vector depends on its name and the
world's seed only, never on the order in which it was requested. All arithmetic is
element-wise float64 (exactly rounded in IEEE 754); the only reductions are NumPy's
pairwise ``sum`` over the last axis, whose order is fixed, never a BLAS dot product
whose order depends on the CPU. Results are cast to float32 once, at the end.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GEOMETRY_VERSION",
    "seeded_rng",
    "hashed_unit_vector",
    "unit_rows",
    "ImagePlan",
    "image_embeddings",
]

# Bump whenever the numbers of a world could change (this module, the text model in
# text.py, the vocabularies in vocab.py, the structure drawn in world.py): it enters the
# world hash and therefore the encoder identity and the embedding-cache keys.
GEOMETRY_VERSION = "synthetic-geometry/1"


def seeded_rng(seed: int, key: str) -> np.random.Generator:
    """A NumPy generator determined by ``seed`` and the string ``key`` only."""
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64 (zero rows stay zero), without BLAS."""
    matrix = np.asarray(matrix, dtype=np.float64)
    norms = np.sqrt(np.sum(matrix * matrix, axis=-1, keepdims=True))
    return matrix / np.where(norms == 0.0, 1.0, norms)


def hashed_unit_vector(seed: int, key: str, dim: int) -> np.ndarray:
    """A random unit vector (float64) determined by ``seed`` and the string ``key`` only."""
    return unit_rows(seeded_rng(seed, key).standard_normal(dim))


@dataclass(frozen=True)
class ImagePlan:
    """Everything that determines the image embeddings of a world.

    ``class_vectors[c]`` is the class's visible content: the visibility-weighted sum of
    its true concept vectors plus its identity vector. Image ``i`` shows class
    ``labels[i]`` in a style drawn per image from ``nuisance_vectors``.
    """

    seed: int
    class_vectors: np.ndarray
    labels: np.ndarray
    nuisance_vectors: np.ndarray
    nuisance_strength: float
    noise: float


def image_embeddings(plan: ImagePlan) -> np.ndarray:
    """``float32 [N, dim]`` unit rows: class content + per-image style + isotropic noise.

    The noise vector has expected length ``plan.noise`` whatever the dimension, so
    ``noise`` compares directly with the unit-length concept vectors.
    """
    n_images = len(plan.labels)
    dim = plan.class_vectors.shape[1]
    rng = seeded_rng(plan.seed, "images")
    styles = (
        rng.integers(0, len(plan.nuisance_vectors), size=n_images)
        if len(plan.nuisance_vectors)
        else np.zeros(n_images, dtype=np.int64)
    )
    noise = rng.standard_normal((n_images, dim)) * (plan.noise / np.sqrt(dim))
    vectors = plan.class_vectors[plan.labels] + noise
    if len(plan.nuisance_vectors):
        vectors = vectors + plan.nuisance_strength * plan.nuisance_vectors[styles]
    return unit_rows(vectors).astype(np.float32)
