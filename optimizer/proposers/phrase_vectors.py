"""One unit vector per phrase under the run's encoder, for comparing phrases with each other.

The staged proposer sorts phrases into kinds and merges near-duplicates by text cosine.
A MaxSim encoder (``similarity: maxsim``) embeds a text as a matrix of token vectors
(:class:`~cotclip.scoring.similarity.MultiVectors`), which has no cosine with another
text; there a phrase's vector is the L2-normalised mean of its token vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cotclip.scoring.encoders import l2_normalize
from cotclip.scoring.similarity import Embeddings, MultiVectors

__all__ = ["phrase_vectors"]


def phrase_vectors(embed_texts: Callable[[Sequence[str]], Embeddings]) -> Callable[[list[str]], np.ndarray]:
    """``texts -> float32 [len(texts), d]`` from ``embed_texts`` (e.g. ``ImageSet.prompts.embed``).

    Token matrices are pooled (see the module docstring); row vectors pass through.
    """

    def embed(texts: list[str]) -> np.ndarray:
        embedded = embed_texts(texts)
        if not isinstance(embedded, MultiVectors):
            return embedded
        if len(embedded) == 0:
            return np.zeros((0, embedded.dim), dtype=np.float32)
        pooled = np.stack([embedded.item(i).mean(axis=0) for i in range(len(embedded))])
        return l2_normalize(pooled)

    return embed
