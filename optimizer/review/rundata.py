"""Rebuild a run's train and val images from its ``run.yaml`` (never its test split).

The review needs the same data, encoder and split the run used: the dataset and
model specs, crop, split fractions and seed come from ``run.yaml``; embeddings come
from the embedding cache, so reviewing a finished run encodes nothing new.
"""

from __future__ import annotations

from pathlib import Path

from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.review.session import ReviewData
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders._base import Encoder
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.splits import split_dataset
from cotclip.systems.errors import RunDirError
from cotclip.systems.model import System

__all__ = ["run_config", "run_encoder", "load_review_data"]


def run_config(run_path: Path) -> RunConfig:
    """The run's configuration (RunDirError when ``run.yaml`` is missing)."""
    config_path = Path(run_path) / "run.yaml"
    if not config_path.is_file():
        raise RunDirError(f"{run_path} is not a run dir (no run.yaml); pass the folder `cotclip optimize` created")
    return load_run_config(config_path)


def run_encoder(config: RunConfig, dataset: object | None = None, cache_dir: str | None = None) -> Encoder:
    """The run's encoder behind the embedding cache."""
    encoder = load_encoder(config.model, dataset=dataset)
    return CachedEncoder(encoder, EmbeddingCache(cache_dir or config.cache_dir))


def load_review_data(
    run_path: Path, system: System, cache_dir: str | None = None, encoder: Encoder | None = None
) -> ReviewData:
    """Train and val image sets of the run, restricted to ``system``'s classes.

    ``encoder`` defaults to the run's own (through the embedding cache).
    """
    config = run_config(run_path)
    dataset = load_dataset(config.data, crop=config.crop)
    encoder = encoder or run_encoder(config, dataset, cache_dir)
    splits = split_dataset(dataset.labels, tuple(config.fractions), seed=config.seed)
    prompts = PromptEmbedder(encoder)
    known = set(system.classes)

    def image_set(positions: list[int]) -> tuple[ImageSet, list[int]]:
        kept = [p for p in positions if dataset.labels[p] in known]
        embedded = embed_dataset(dataset, encoder, positions=kept, progress=False)
        return ImageSet(embedded.embeddings, list(embedded.labels), prompts), list(embedded.positions)

    train, train_positions = image_set(list(splits.train))
    val, _ = image_set(list(splits.val))
    return ReviewData(train=train, val=val, train_refs=[dataset.images[p] for p in train_positions])
