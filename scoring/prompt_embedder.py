"""Prompt strings -> L2-normalised text embeddings, memoised per string for one encoder.

An encoder whose ``similarity`` is ``maxsim`` returns :class:`~cotclip.scoring.similarity.MultiVectors`
(a matrix of token vectors per prompt); every other encoder an ``[n, d]`` array. The
embedder keeps whichever it gets, with every vector L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cotclip.scoring.encoders import Encoder
from cotclip.scoring.similarity import Embeddings, MultiVectors, normalize_embeddings, template_gram

__all__ = ["PromptEmbedder", "inverse_mean_norms"]


class PromptEmbedder:
    """Text -> L2-normalised embedding (a row, or a token matrix under MaxSim), memoised per string."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.similarity = getattr(encoder, "similarity", "cosine")
        self._rows: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> Embeddings:
        """``float32 [len(texts), d]`` (or multi-vectors); only unseen strings reach the encoder, in one batch."""
        self._remember(texts)
        if self.similarity == "maxsim":
            return MultiVectors.from_list([self._rows[t] for t in texts], self.encoder.dim)
        return self._stacked(texts)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """``float32 [len(texts), d]`` single-vector embeddings; ValueError for a MaxSim encoder (see :meth:`embed`)."""
        if self.similarity == "maxsim":
            raise ValueError("a maxsim encoder embeds a prompt as a token matrix, not one vector; use embed()")
        self._remember(texts)
        return self._stacked(texts)

    def _remember(self, texts: Sequence[str]) -> None:
        unseen = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if unseen:
            encoded = normalize_embeddings(self.encoder.encode_texts(unseen))
            if isinstance(encoded, MultiVectors):
                self._rows.update((text, encoded.item(i)) for i, text in enumerate(unseen))
            else:
                self._rows.update(zip(unseen, encoded))

    def _stacked(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self._rows[t] for t in texts])

    def gram(self, texts: Sequence[str]) -> np.ndarray:
        """``float64 [T, T]`` Gram matrix that defines averaging over template variants (see ``template_gram``)."""
        return template_gram(self.embed(list(texts)))


def inverse_mean_norms(prompts: PromptEmbedder, text_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """``[L, 1]``: 1 / ||sum of each list's embeddings|| (so sum of similarities -> similarity of the mean).

    Under MaxSim the "norm" is the list's length: the option's score is the mean of its templates' scores.
    """
    if prompts.similarity == "maxsim":
        return (1.0 / np.array([[max(len(texts), 1)] for texts in text_lists], dtype=np.float32)).astype(np.float32)
    sums = np.stack([prompts.vectors(list(texts)).sum(axis=0) for texts in text_lists])
    return (1.0 / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)
