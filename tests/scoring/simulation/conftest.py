"""Fixtures for the synthetic world: built presets and a small reference scorer.

The reference scorer is the seed article's formula written directly in NumPy (cosine,
softmax per group at a temperature, sum of the rule options' probabilities), so these
tests measure the world independently of the production scorer.
"""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.simulation.world import World, load_world


def reference_scores(world: World, system, temperature: float, rows=None) -> np.ndarray:
    images = world.image_embeddings.astype(np.float64)
    if rows is not None:
        images = images[rows]
    scores = np.zeros((len(images), len(system.classes)))
    for group in system.groups:
        texts = [group.prompt.replace("{}", option) for option in group.options]
        logits = images @ world.text_model.embed(texts).astype(np.float64).T / temperature
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        for column, class_name in enumerate(system.classes):
            option = system.rules[class_name].get(group.name)
            if option is not None:
                scores[:, column] += probabilities[:, option]
    return scores


def reference_accuracy(world: World, system, temperature: float | None = None) -> float:
    temperature = system.scoring.temperature if temperature is None else temperature
    predicted = np.argmax(reference_scores(world, system, temperature), axis=1)
    truth = np.array([system.classes.index(label) for label in world.labels])
    return float(np.mean(predicted == truth))


def reference_name_accuracy(world: World, template: str = "a photo of {}") -> float:
    texts = [template.replace("{}", name) for name in world.classes]
    similarities = world.image_embeddings.astype(np.float64) @ world.text_model.embed(texts).astype(np.float64).T
    return float(np.mean(np.argmax(similarities, axis=1) == world.label_indices))


@pytest.fixture(scope="session")
def pokemon_world() -> World:
    return load_world("pokemon-like")


@pytest.fixture(scope="session")
def large_world() -> World:
    return load_world("large")


@pytest.fixture(scope="session")
def oracle_accuracy():
    """``f(world, system, temperature=None) -> accuracy`` over all images (reference scorer)."""
    return reference_accuracy


@pytest.fixture(scope="session")
def name_accuracy():
    """``f(world, template="a photo of {}") -> accuracy`` of the class-name baseline."""
    return reference_name_accuracy
