"""Shared optimizer fixtures: the pokemon-like planted-attribute world split into train / val / test image sets."""

from __future__ import annotations

import pytest

from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.scoring.splits import select, split_dataset


@pytest.fixture(scope="module")
def pokemon():
    """``(oracle system, train, val, test)`` of the ``pokemon-like`` world, split seed 0."""
    world = load_world("pokemon-like")
    prompts = PromptEmbedder(SyntheticEncoder(world))
    splits = split_dataset(list(world.labels), seed=0)

    def image_set(name):
        positions = select(splits, name)
        return ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], prompts)

    return world.oracle_system(), image_set("train"), image_set("val"), image_set("test")
