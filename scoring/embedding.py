"""Embed a dataset's images with an encoder, skipping (and naming) unreadable ones.

The images go to the encoder in chunks so that a long job shows one progress bar
(when ``progress`` and stderr is a terminal) and a cached encoder stores each chunk
as soon as it is done, so an interrupted run keeps its work.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from cotclip.scoring.data import Dataset
from cotclip.scoring.encoders import Encoder
from cotclip.scoring.similarity import MultiVectors
from cotclip.systems.errors import EncoderError

__all__ = ["EmbeddedImages", "embed_dataset", "CHUNK_SIZE"]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256
"""Images per encoder call (the encoder batches further inside)."""


@dataclass(frozen=True)
class EmbeddedImages:
    """Embeddings of the readable images of a dataset selection.

    ``positions[i]`` is the dataset position of ``embeddings[i]`` / ``labels[i]``;
    ``embeddings`` is ``[N, d]``, or :class:`~cotclip.scoring.similarity.MultiVectors` (a patch
    matrix per image) for a multi-vector encoder;
    ``skipped`` lists ``(source, reason)`` for images that could not be read.
    """

    embeddings: np.ndarray | MultiVectors
    labels: list[str]
    positions: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Counts and the skipped images (not the embeddings themselves)."""
        return {
            "n": len(self.labels),
            "dim": int(self.embeddings.shape[1]) if len(self.embeddings.shape) == 2 else 0,
            "positions": list(self.positions),
            "skipped": [{"source": source, "reason": reason} for source, reason in self.skipped],
        }


def _chunks(count: int, show: bool) -> Iterator[range]:
    starts = range(0, count, CHUNK_SIZE)
    if not show:
        yield from (range(s, min(s + CHUNK_SIZE, count)) for s in starts)
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"embedding {count} images", total=count)
        for start in starts:
            chunk = range(start, min(start + CHUNK_SIZE, count))
            yield chunk
            bar.advance(task, len(chunk))


def embed_dataset(
    dataset: Dataset, encoder: Encoder, positions: list[int] | None = None, progress: bool = True
) -> EmbeddedImages:
    """Embed ``dataset``'s images at ``positions`` (all by default), skipping unreadable ones with a warning."""
    positions = list(range(len(dataset))) if positions is None else list(positions)
    multi: list[MultiVectors] = []
    rows: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    show = progress and len(positions) > CHUNK_SIZE and sys.stderr.isatty()
    for chunk in _chunks(len(positions), show):
        chunk_positions = [positions[i] for i in chunk]
        encoding = encoder.encode_images([dataset.images[p] for p in chunk_positions])
        if isinstance(encoding.embeddings, MultiVectors):
            multi.append(encoding.embeddings)
        else:
            rows.append(
                np.asarray(encoding.embeddings, dtype=np.float32).reshape(len(encoding.ok_positions), encoder.dim)
            )
        kept.extend(chunk_positions[i] for i in encoding.ok_positions)
        skipped.extend((dataset.images[chunk_positions[i]].source, reason) for i, reason in encoding.failures)
    if skipped:
        named = "; ".join(f"{source} ({reason})" for source, reason in skipped[:10])
        more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        logger.warning("skipped %d unreadable image(s): %s%s", len(skipped), named, more)
    return EmbeddedImages(
        embeddings=_joined(multi, rows, encoder),
        labels=[dataset.labels[p] for p in kept],
        positions=kept,
        skipped=skipped,
    )


def _joined(multi: list[MultiVectors], rows: list[np.ndarray], encoder: Encoder) -> np.ndarray | MultiVectors:
    """The chunks' embeddings as one object of the kind the encoder's ``similarity`` declares."""
    maxsim = getattr(encoder, "similarity", "cosine") == "maxsim"
    if rows if maxsim else multi:
        got = "single-vector" if maxsim else "multi-vector"
        raise EncoderError(
            f"encoder {encoder.identity} declares {'maxsim' if maxsim else 'cosine'} similarity but returned "
            f"{got} image embeddings; load it with the matching --similarity"
        )
    if maxsim:
        return MultiVectors.concatenate(multi, encoder.dim)
    return np.concatenate(rows) if rows else np.zeros((0, encoder.dim), dtype=np.float32)
