"""Load, split and encode a run's data once; hand out train/val to moves and test to the report only.

Every image of the chosen classes is encoded once (through the on-disk cache), and
every prompt string once per process (``PromptEmbedder`` memo) and once per cache
(on disk). Batches sent to the real encoder are logged to ``encoder_calls.jsonl``
*before* the call, so the count survives ``kill -9`` and adds up over resumed sessions.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.runs import RunDir
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data import Dataset
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders import Encoder, ImageEncoding, ImageRef
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.splits import Splits, split_dataset
from cotclip.systems.errors import DataError, InputError

__all__ = [
    "CallLogEncoder",
    "Inputs",
    "RunData",
    "load_inputs",
    "encode_inputs",
    "encoder_calls",
    "unique_inputs",
    "ENCODER_LOG",
    "PROMPT_LOG",
]

ENCODER_LOG = "encoder_calls.jsonl"
PROMPT_LOG = "prompts.jsonl"


class _PassThroughEncoder:
    """Delegates everything to ``inner``; identity and width stay the inner encoder's, so cache keys do not change."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner

    @property
    def identity(self) -> str:
        """The inner encoder's identity."""
        return self.inner.identity

    @property
    def dim(self) -> int:
        """The inner encoder's width."""
        return self.inner.dim

    @property
    def similarity(self) -> str:
        """The inner encoder's similarity (``maxsim`` for multi-vector encoders)."""
        return getattr(self.inner, "similarity", "cosine")

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Delegate."""
        return self.inner.encode_texts(texts)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Delegate."""
        return self.inner.encode_images(images)


class CallLogEncoder(_PassThroughEncoder):
    """An encoder that appends ``{"session", "kind", "n"}`` to the run's log before each real call."""

    def __init__(self, inner: Encoder, run: RunDir, session: str) -> None:
        super().__init__(inner)
        self.run = run
        self.session = session

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Log, then delegate."""
        if texts:
            self.run.append_jsonl(ENCODER_LOG, {"session": self.session, "kind": "text", "n": len(texts)})
        return self.inner.encode_texts(texts)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Log, then delegate."""
        if images:
            self.run.append_jsonl(ENCODER_LOG, {"session": self.session, "kind": "image", "n": len(images)})
        return self.inner.encode_images(images)


class TextRequestLog(_PassThroughEncoder):
    """Records every distinct prompt string the run asks for (``prompts.jsonl``), then delegates.

    Together with the image count this is the run's number of unique inputs, the
    denominator of "encoder calls / unique inputs" (1.00 = nothing encoded twice).
    Images are not logged here: they are counted from the dataset.
    """

    def __init__(self, inner: Encoder, run: RunDir) -> None:
        super().__init__(inner)
        self.run = run
        self.seen = {record["text"] for record in run.read_jsonl(PROMPT_LOG) if "text" in record}

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Log first-time strings, then delegate."""
        for text in dict.fromkeys(texts):
            if text not in self.seen:
                self.run.append_jsonl(PROMPT_LOG, {"text": text})
                self.seen.add(text)
        return self.inner.encode_texts(texts)


@dataclass(frozen=True)
class RunData:
    """A run's encoded data. ``train``/``val`` go to moves; ``test`` only to the final report."""

    dataset: Dataset
    classes: list[str]
    splits: Splits
    encoder: CachedEncoder
    train: ImageSet
    val: ImageSet
    test: ImageSet
    session: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Sizes for environment.json and the report."""
        return {
            "data_identity": self.dataset.identity,
            "encoder_identity": self.encoder.identity,
            "classes": len(self.classes),
            "train": len(self.train.labels),
            "val": len(self.val.labels),
            "test": len(self.test.labels),
            "skipped": [list(item) for item in self.skipped],
        }


def _chosen_positions(dataset: Dataset, config: RunConfig) -> tuple[list[str], list[int]]:
    classes = list(config.classes) if config.classes is not None else dataset.class_names
    if not classes:
        raise InputError(f"no classes: {config.data} has no labelled images and no --classes were given")
    if len(classes) != len(set(classes)):
        raise InputError("--classes lists a class twice; give each class once")
    counts = Counter(dataset.labels)
    empty = [name for name in classes if counts[name] == 0]
    if empty:
        raise DataError(f"class {empty[0]!r} has no images in {config.data}; add images or drop it from --classes")
    wanted = set(classes)
    return classes, [i for i, label in enumerate(dataset.labels) if label in wanted]


def _image_set(embedded: Any, row_of: dict[int, int], positions: list[int], embedder: PromptEmbedder) -> ImageSet:
    rows = [row_of[p] for p in positions if p in row_of]
    return ImageSet(embedded.embeddings[rows], [embedded.labels[r] for r in rows], embedder)


@dataclass(frozen=True)
class Inputs:
    """What a run reads before it touches its run dir: data, classes, split, encoder (not yet encoding)."""

    dataset: Dataset
    classes: list[str]
    splits: Splits
    encoder: Encoder


def load_inputs(config: RunConfig) -> Inputs:
    """Load the dataset and encoder and split deterministically.

    Every bad input fails here, before any file is written.
    """
    dataset = load_dataset(
        config.data, crop=config.crop, image_column=config.image_column, label_column=config.label_column
    )
    classes, positions = _chosen_positions(dataset, config)
    chosen = dataset.subset(positions) if len(positions) != len(dataset) else dataset
    splits = split_dataset(chosen.labels, fractions=config.fractions, seed=config.seed)
    settings = EncoderSettings(tuple(config.encoder_options), config.similarity, config.trust_remote_code)
    return Inputs(chosen, classes, splits, load_encoder(config.model, dataset=chosen, **settings.loader_kwargs()))


def encode_inputs(inputs: Inputs, config: RunConfig, run: RunDir, *, progress: bool = False) -> RunData:
    """Encode every image once through the cache (calls logged in the run) and build the three image sets."""
    session = uuid.uuid4().hex[:12]
    encoder = CachedEncoder(CallLogEncoder(inputs.encoder, run, session), EmbeddingCache(config.cache_dir))
    embedded = embed_dataset(inputs.dataset, encoder, progress=progress)
    row_of = {position: row for row, position in enumerate(embedded.positions)}
    embedder = PromptEmbedder(TextRequestLog(encoder, run))
    parts = (inputs.splits.train, inputs.splits.val, inputs.splits.test)
    train, val, test = (_image_set(embedded, row_of, list(part), embedder) for part in parts)
    for name, part in (("train", train), ("val", val)):
        missing = sorted(set(inputs.classes) - set(part.labels))
        if missing:
            raise DataError(f"class {missing[0]!r} has no readable {name} image; add images or change --fractions")
    return RunData(
        inputs.dataset, inputs.classes, inputs.splits, encoder, train, val, test, session, list(embedded.skipped)
    )


def unique_inputs(run: RunDir, data: RunData) -> int:
    """Images of the run (readable or not) plus every distinct prompt string it ever asked for."""
    texts = {record["text"] for record in run.read_jsonl(PROMPT_LOG) if "text" in record}
    return len(data.train) + len(data.val) + len(data.test) + len(data.skipped) + len(texts)


def encoder_calls(run: RunDir) -> int:
    """Inputs sent to the real encoder over all sessions of the run (from ``encoder_calls.jsonl``)."""
    return sum(int(record.get("n", 0)) for record in run.read_jsonl(ENCODER_LOG))
