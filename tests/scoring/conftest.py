"""Shared scoring fixtures: a tiny random CLIP on disk, a small image folder, the pokemon-like world's splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.tiny_clip import build_image_folder, build_tiny_clip, build_tiny_siglip

from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.scoring.splits import select, split_dataset


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP saved with save_pretrained; load it as ``hf:<dir>``. Do not modify it."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random SigLIP saved with save_pretrained (texts padded to 16 tokens). Do not modify it."""
    return build_tiny_siglip(tmp_path_factory.mktemp("tiny_siglip"))


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """``<tmp>/images/{cat,dog}/*.png``: 3 random 32x24 PNGs per class (yours to modify)."""
    return build_image_folder(tmp_path / "images")


@pytest.fixture(scope="session")
def tiny_clip_encoder(tiny_clip_dir: Path):
    """The tiny CLIP loaded once through ``hf:<dir>`` (encoders are stateless, so sharing is safe)."""
    from cotclip.scoring.registry import load_encoder

    return load_encoder(f"hf:{tiny_clip_dir}")


@pytest.fixture(scope="module")
def world_sets():
    """The pokemon-like world's oracle system, its train images and its val+test images (split seed 0)."""
    world = load_world("pokemon-like")
    prompts = PromptEmbedder(SyntheticEncoder(world))
    splits = split_dataset(list(world.labels), seed=0)

    def image_set(*names):
        positions = [p for name in names for p in select(splits, name)]
        return ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], prompts)

    return world.oracle_system(), image_set("train"), image_set("val", "test")
