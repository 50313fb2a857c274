"""How an image and a prompt are compared: cosine of single vectors, or MaxSim of multi-vectors.

Two similarities, named by ``--similarity``:

* ``cosine`` (default): one L2-normalised vector per image and per prompt; their dot product.
* ``maxsim``: late interaction, as ColBERT and jina-embeddings-v4's multi-vector mode use
  it. An image is a matrix of patch vectors ``P_i [p, d]`` and a prompt a matrix of token
  vectors ``T_q [t, d]``, every row L2-normalised; their score is

      maxsim(q, i) = (1 / t) * sum_k max_j <T_q[k], P_i[j]>

  the *mean* over the prompt's tokens of the best-matching patch. ColBERT sums instead of
  averaging; the mean keeps the score in [-1, 1] like a cosine and independent of how many
  tokens a prompt has, so a group's softmax over options of different lengths and the
  temperature mean what they mean for cosines.

Everything after the ``[prompts, images]`` similarity matrix (the scorer, search,
selection, adaptive questioning, export) is the same for both: only :func:`similarity_matrix`
and the template-averaging rule (:func:`template_gram`) differ.

Multi-vectors travel as :class:`MultiVectors`: all rows of all items stacked in one
``float32 [total, d]`` array plus ``offsets [n + 1]`` (item ``i`` owns rows
``offsets[i]:offsets[i+1]``), the CSR layout, so ragged patch and token counts cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cotclip.scoring.encoders import l2_normalize

__all__ = [
    "SIMILARITIES",
    "MultiVectors",
    "Embeddings",
    "check_similarity",
    "similarity_of",
    "similarity_matrix",
    "maxsim",
    "maxsim_reference",
    "normalize_embeddings",
    "template_gram",
    "averaged_maxsim",
]

SIMILARITIES = ("cosine", "maxsim")
_CHUNK_FLOATS = 8_000_000  # bound on the [tokens, images x patches] block held at once (32 MB)


def check_similarity(name: str) -> str:
    """``name`` if it is a known similarity, else ValueError naming the known ones."""
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; use one of {', '.join(SIMILARITIES)}")
    return name


@dataclass(frozen=True, eq=False)
class MultiVectors:
    """``n`` items, each a ``[count_i, d]`` matrix, stored as stacked rows plus offsets (CSR)."""

    vectors: np.ndarray  # float32 [total, d]
    offsets: np.ndarray  # int64 [n + 1], offsets[0] == 0, non-decreasing, offsets[-1] == total

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.offsets.ndim != 1 or int(self.offsets[-1]) != self.vectors.shape[0]:
            raise ValueError(f"multi-vectors {self.vectors.shape} do not match offsets ending at {self.offsets[-1:]}")

    @classmethod
    def from_list(cls, matrices: Sequence[np.ndarray], dim: int) -> MultiVectors:
        """Stack ``matrices`` (each ``[count, dim]``, count >= 1) into one object."""
        counts = [int(np.asarray(m).shape[0]) for m in matrices]
        if any(c < 1 for c in counts):
            raise ValueError("every multi-vector item needs at least one vector")
        vectors = (
            np.concatenate([np.asarray(m, np.float32).reshape(-1, dim) for m in matrices])
            if matrices
            else np.zeros((0, dim), np.float32)
        )
        return cls(vectors, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))

    @classmethod
    def concatenate(cls, parts: Sequence[MultiVectors], dim: int) -> MultiVectors:
        """The items of ``parts`` in order."""
        if not parts:
            return cls(np.zeros((0, dim), np.float32), np.zeros(1, np.int64))
        counts = np.concatenate([np.diff(p.offsets) for p in parts])
        return cls(
            np.concatenate([p.vectors for p in parts]), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(items, d)``: what a single-vector ``[n, d]`` array would report."""
        return len(self), int(self.vectors.shape[1])

    @property
    def dim(self) -> int:
        """Vector width."""
        return int(self.vectors.shape[1])

    @property
    def counts(self) -> np.ndarray:
        """Vectors per item."""
        return np.diff(self.offsets)

    def item(self, index: int) -> np.ndarray:
        """Item ``index`` as a ``[count, d]`` view."""
        return self.vectors[self.offsets[index] : self.offsets[index + 1]]

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.item(int(index))
        return self.take(np.arange(len(self))[index] if isinstance(index, slice) else index)

    def take(self, indices: Sequence[int] | np.ndarray) -> MultiVectors:
        """The items at ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        return MultiVectors.from_list([self.item(int(i)) for i in indices], self.dim)

    def padded(self) -> np.ndarray:
        """``[n, max_count, d]``, short items padded by repeating their first vector (a max ignores repeats)."""
        width = int(self.counts.max()) if len(self) else 0
        index = self.offsets[:-1, None] + np.arange(width)[None, :]
        index = np.where(index < self.offsets[1:, None], index, self.offsets[:-1, None])
        return self.vectors[index]

    def tobytes(self) -> bytes:
        """The vectors and the offsets as bytes (for content digests)."""
        return self.vectors.tobytes() + self.offsets.tobytes()


Embeddings = np.ndarray | MultiVectors


def similarity_of(embeddings: Embeddings) -> str:
    """``maxsim`` for multi-vectors, ``cosine`` for an ``[n, d]`` array."""
    return "maxsim" if isinstance(embeddings, MultiVectors) else "cosine"


def normalize_embeddings(embeddings: Embeddings) -> Embeddings:
    """Every vector (row of an array, or of a multi-vector) scaled to unit length, as float32."""
    if isinstance(embeddings, MultiVectors):
        return MultiVectors(l2_normalize(embeddings.vectors), embeddings.offsets)
    return l2_normalize(embeddings)


def maxsim(texts: MultiVectors, images: MultiVectors) -> np.ndarray:
    """``float32 [len(texts), len(images)]``: mean over each text's tokens of the best image patch.

    One product of every token with every patch of a chunk of images, a max over the
    patches (images are repeat-padded to the same patch count, which leaves the max
    unchanged), then a mean over each text's tokens (``np.add.reduceat`` on the offsets).
    """
    out = np.zeros((len(texts), len(images)), dtype=np.float32)
    if len(texts) == 0 or len(images) == 0:
        return out
    padded = images.padded()  # [N, P, d]
    n_images, patches, dim = padded.shape
    tokens = texts.vectors
    chunk = max(1, _CHUNK_FLOATS // max(1, tokens.shape[0] * patches))
    starts, counts = texts.offsets[:-1], texts.counts.astype(np.float32)[:, None]
    for begin in range(0, n_images, chunk):
        block = padded[begin : begin + chunk].reshape(-1, dim)  # [n*P, d]
        best = (tokens @ block.T).reshape(tokens.shape[0], -1, patches).max(axis=2)  # [tokens, n]
        out[:, begin : begin + chunk] = np.add.reduceat(best, starts, axis=0) / counts
    return out


def maxsim_reference(texts: MultiVectors, images: MultiVectors) -> np.ndarray:
    """The same score by its definition, one pair at a time in float64 (slow; for tests)."""
    out = np.zeros((len(texts), len(images)))
    for q in range(len(texts)):
        for i in range(len(images)):
            token_patch = texts.item(q).astype(np.float64) @ images.item(i).astype(np.float64).T
            out[q, i] = token_patch.max(axis=1).mean()
    return out


def similarity_matrix(texts: Embeddings, images: Embeddings) -> np.ndarray:
    """``float32 [len(texts), len(images)]`` similarities; both sides must be of the same kind."""
    if isinstance(texts, MultiVectors) and isinstance(images, MultiVectors):
        return maxsim(texts, images)
    if isinstance(texts, MultiVectors) or isinstance(images, MultiVectors):
        raise ValueError(
            f"prompts are {similarity_of(texts)} embeddings but images are {similarity_of(images)} ones; "
            "embed both with the same encoder and --similarity"
        )
    return np.asarray(texts @ images.T, dtype=np.float32)


def template_gram(embeddings: Embeddings) -> np.ndarray:
    """``[T, T]`` inner products that define averaging over template variants.

    With cosine, an option asked through several templates is the L2-normalised mean of
    their embeddings, so its similarity is ``sum_t s_t / ||sum_t e_t||`` and
    ``||sum_t e_t||^2`` is the sum of this Gram matrix. A multi-vector prompt has no mean
    embedding, so under MaxSim the option's score is the plain mean of its templates'
    scores: the Gram matrix of all ones, which makes that same formula ``sum_t s_t / T``.
    """
    if isinstance(embeddings, MultiVectors):
        return np.ones((len(embeddings), len(embeddings)), dtype=np.float64)
    matrix = np.asarray(embeddings, dtype=np.float64)
    return matrix @ matrix.T


def averaged_maxsim(
    vectors: np.ndarray, token_offsets: np.ndarray, template_starts: np.ndarray, images: MultiVectors
) -> np.ndarray:
    """``[Q, N]``: per option, the mean MaxSim of its templates (``template_starts [Q+1]`` into the texts).

    ``vectors``/``token_offsets`` hold every template text's tokens (a :class:`MultiVectors` in
    parts, as a compiled classifier stores them); the mean over templates is the scorer's rule.
    """
    per_template = maxsim(MultiVectors(vectors, token_offsets), images)
    counts = np.diff(template_starts).astype(np.float32)[:, None]
    return np.add.reduceat(per_template, template_starts[:-1], axis=0) / counts
