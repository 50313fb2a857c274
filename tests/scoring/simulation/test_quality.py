"""The world is a fair benchmark: names are weak, the oracle strong, and worse systems score worse.

Numbers measured on the presets (all images, oracle at its temperature 0.05):
pokemon-like name baseline 26.4%, oracle 83.3%; large name baseline 4.3%, oracle 78.3%.
On pokemon-like, shifting every class's color rule drops the oracle to 56.2%, unknown
phrasings for color and form to 37.5%, the least apt synonyms everywhere to 63.9%, and
options the encoder never learned, in every group, to 5.6% (chance is 6.25%).
The assertions keep a margin around these.
"""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.systems.model import System


def _images(world) -> ImageSet:
    return ImageSet(world.image_embeddings, world.labels, PromptEmbedder(SyntheticEncoder(world)))


def _with_shifted_rules(system: System, group_name: str) -> System:
    data = system.to_dict()
    size = len(system.group(group_name).options)
    for rule in data["rules"].values():
        rule[group_name] = (rule[group_name] + 1) % size
    return System.from_data(data)


def _with_options(system: System, replace) -> System:
    data = system.to_dict()
    for position, group in enumerate(data["groups"]):
        group["options"] = replace(position, group)
    return System.from_data(data)


def test_pokemon_like_names_are_weak_and_the_oracle_strong(pokemon_world, oracle_accuracy, name_accuracy):
    names = name_accuracy(pokemon_world)
    oracle = oracle_accuracy(pokemon_world, pokemon_world.oracle_system())
    assert 0.15 <= names <= 0.35  # measured 0.264
    assert oracle >= 0.75  # measured 0.833
    assert oracle - names >= 0.45


def test_large_keeps_the_gap_at_scale(large_world, oracle_accuracy, name_accuracy):
    assert name_accuracy(large_world) <= 0.10  # measured 0.043 over 400 classes
    assert oracle_accuracy(large_world, large_world.oracle_system()) >= 0.70  # measured 0.783


def test_the_production_scorer_agrees_with_the_reference(pokemon_world, oracle_accuracy):
    oracle = pokemon_world.oracle_system()
    images = _images(pokemon_world)
    for temperature in (0.01, 0.05, 1.0):
        assert accuracy(oracle, images, temperature) == pytest.approx(
            oracle_accuracy(pokemon_world, oracle, temperature), abs=1e-9
        )


@pytest.mark.parametrize(("group_name", "at_most"), [("color", 0.68), ("form", 0.74)])
def test_wrong_rules_score_measurably_worse(pokemon_world, group_name, at_most):
    images = _images(pokemon_world)
    oracle = pokemon_world.oracle_system()
    assert accuracy(oracle, images) >= 0.75
    assert accuracy(_with_shifted_rules(oracle, group_name), images) <= at_most  # measured 0.562 / 0.625


def test_unknown_phrasings_score_measurably_worse(pokemon_world):
    images = _images(pokemon_world)
    oracle = pokemon_world.oracle_system()

    def unknown_color_and_form(_, group):
        if group["name"] in ("color", "form"):
            return [f"glorbish {i}" for i in range(len(group["options"]))]
        return group["options"]

    assert accuracy(_with_options(oracle, unknown_color_and_form), images) <= 0.50  # measured 0.375
    never_learned = _with_options(oracle, lambda _, g: [f"zqx{i}" for i in range(len(g["options"]))])
    assert accuracy(never_learned, images) <= 0.15  # measured 0.056, chance 0.0625


def test_worse_synonyms_score_worse_than_the_canonical_phrases(pokemon_world):
    images = _images(pokemon_world)
    synonyms = _with_options(
        pokemon_world.oracle_system(),
        lambda position, _: [forms[-1] for forms in pokemon_world.groups[position].surface_forms],
    )
    assert accuracy(synonyms, images) <= accuracy(pokemon_world.oracle_system(), images) - 0.10  # measured 0.639


def test_per_image_nuisance_and_noise_make_images_of_a_class_differ(pokemon_world):
    rows = pokemon_world.image_embeddings[pokemon_world.label_indices == 0].astype(np.float64)
    similarity = rows @ rows.T
    off_diagonal = similarity[~np.eye(len(rows), dtype=bool)]
    assert off_diagonal.max() < 0.9 and off_diagonal.mean() > 0.0
