"""What ``cotclip world describe`` reports: a world's structure and its two reference accuracies.

The accuracies go through the ordinary scorer on the ordinary splits, exactly as
``cotclip evaluate`` computes them: the class-name baseline (``a photo of {class}``)
and the oracle system, on train, val, test and all images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cotclip.scoring.baselines import name_baseline_scores
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import World
from cotclip.scoring.splits import select, split_dataset

__all__ = ["SplitAccuracy", "WorldReport", "describe_world", "SPLIT_NAMES"]

SPLIT_NAMES = ("train", "val", "test", "all")


@dataclass(frozen=True)
class SplitAccuracy:
    """Reference accuracies on one split."""

    split: str
    n: int
    name_baseline: float
    oracle: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"split": self.split, "n": self.n, "name_baseline": self.name_baseline, "oracle": self.oracle}


@dataclass(frozen=True)
class WorldReport:
    """A world's description plus its reference accuracies per split."""

    world: dict[str, Any]
    temperature: float
    split_seed: int
    accuracies: list[SplitAccuracy] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the world's own ``to_dict`` under ``world``)."""
        return {
            "world": self.world,
            "temperature": self.temperature,
            "split_seed": self.split_seed,
            "accuracies": {a.split: a.to_dict() for a in self.accuracies},
        }


def describe_world(world: World, temperature: float | None = None, split_seed: int = 0) -> WorldReport:
    """Describe ``world`` and score the name baseline and the oracle on every split."""
    oracle = world.oracle_system()
    temperature = oracle.scoring.temperature if temperature is None else temperature
    prompts = PromptEmbedder(SyntheticEncoder(world))
    splits = split_dataset(list(world.labels), seed=split_seed)
    accuracies = []
    for split in SPLIT_NAMES:
        positions = select(splits, split)
        images = ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], prompts)
        names = name_baseline_scores(world.classes, images, templates=(oracle.scoring.name_template,))
        name_accuracy = float(np.mean(np.argmax(names, axis=1) == images.label_indices(world.classes)))
        accuracies.append(
            SplitAccuracy(
                split, len(positions), name_accuracy, float(accuracy(oracle, images, temperature=temperature))
            )
        )
    return WorldReport(world=world.to_dict(), temperature=temperature, split_seed=split_seed, accuracies=accuracies)
