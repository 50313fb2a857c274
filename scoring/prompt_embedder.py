"""Prompt strings -> L2-normalised text embeddings, memoised per string for one encoder."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cotclip.scoring.encoders._base import Encoder, l2_normalize

__all__ = ["PromptEmbedder", "inverse_mean_norms"]


class PromptEmbedder:
    """Text -> L2-normalised embedding row, memoised per string for one encoder."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._rows: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``float32 [len(texts), d]``; only strings never seen before reach the encoder, in one batch."""
        unseen = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if unseen:
            encoded = l2_normalize(self.encoder.encode_texts(unseen))
            self._rows.update(zip(unseen, encoded))
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([self._rows[t] for t in texts])


def inverse_mean_norms(prompts: PromptEmbedder, text_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """``[L, 1]``: 1 / ||sum of each list's embeddings|| (so sum of cosines -> cosine of the mean)."""
    sums = np.stack([prompts.embed(list(texts)).sum(axis=0) for texts in text_lists])
    return (1.0 / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)
