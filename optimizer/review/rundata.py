"""Rebuild a run's train and val images from its ``run.yaml`` (never its test split).

The review needs the same data, classes, encoder and split the run used, so it goes
through the loop's own :func:`~cotclip.optimizer.loop.data.load_inputs`. Embeddings
come from the embedding cache, so reviewing a finished run encodes nothing new; the
run's ``encoder_calls.jsonl`` is left alone (a review is not part of the run's budget).
"""

from __future__ import annotations

from pathlib import Path

from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.data import Inputs, load_inputs
from cotclip.optimizer.review.session import ReviewData
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders import Encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.systems.errors import RunDirError
from cotclip.systems.model import System

__all__ = ["run_config", "run_inputs", "cached_run_encoder", "load_review_data"]


def run_config(run_path: Path) -> RunConfig:
    """The run's configuration (RunDirError when ``run.yaml`` is missing)."""
    config_path = Path(run_path) / "run.yaml"
    if not config_path.is_file():
        raise RunDirError(f"{run_path} is not a run dir (no run.yaml); pass the folder `cotclip optimize` created")
    return load_run_config(config_path)


def run_inputs(run_path: Path) -> tuple[RunConfig, Inputs]:
    """The run's config and its data, classes, split and (uncached) encoder, exactly as the loop builds them."""
    config = run_config(run_path)
    return config, load_inputs(config)


def cached_run_encoder(config: RunConfig, inputs: Inputs, cache_dir: str | None = None) -> Encoder:
    """The run's encoder behind the embedding cache (``cache_dir`` overrides the run's)."""
    return CachedEncoder(inputs.encoder, EmbeddingCache(cache_dir or config.cache_dir))


def load_review_data(
    run_path: Path, system: System, cache_dir: str | None = None, encoder: Encoder | None = None
) -> ReviewData:
    """Train and val image sets of the run, restricted to ``system``'s classes.

    ``encoder`` defaults to the run's own, through the embedding cache.
    """
    config, inputs = run_inputs(run_path)
    encoder = encoder or cached_run_encoder(config, inputs, cache_dir)
    prompts = PromptEmbedder(encoder)
    dataset, known = inputs.dataset, set(system.classes)

    def image_set(positions: list[int]) -> tuple[ImageSet, list[int]]:
        """The embedded images at ``positions`` and the positions that could be read."""
        kept = [p for p in positions if dataset.labels[p] in known]
        embedded = embed_dataset(dataset, encoder, positions=kept, progress=False)
        return ImageSet(embedded.embeddings, list(embedded.labels), prompts), list(embedded.positions)

    train, train_positions = image_set(list(inputs.splits.train))
    val, _ = image_set(list(inputs.splits.val))
    return ReviewData(
        train=train, val=val, train_refs=[dataset.images[p] for p in train_positions], temperature=config.temperature
    )
