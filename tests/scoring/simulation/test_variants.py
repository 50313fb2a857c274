"""Encoder variants of a synthetic world (a simulation): same world, another encoder."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.simulation.variants import variant_world
from cotclip.scoring.simulation.vocab import VOCABULARIES
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import EncoderError


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic:pokemon-like")


def _images(encoder, data) -> ImageSet:
    return ImageSet(encoder.encode_images(data.images).embeddings, data.labels, PromptEmbedder(encoder))


def test_a_variant_keeps_the_world_and_redraws_the_encoder(data) -> None:
    world = load_world("pokemon-like")
    variant = variant_world(world, 1)
    assert variant.classes == world.classes and variant.labels == world.labels and variant.hash == world.hash
    np.testing.assert_array_equal(variant.signatures, world.signatures)
    assert [g.values for g in variant.groups] == [g.values for g in world.groups]
    assert [g.visibility for g in variant.groups] != [g.visibility for g in world.groups]
    assert all(0.05 <= g.visibility <= 1.0 for g in variant.groups)
    for group in variant.groups:
        rows = {row[0]: row for row in VOCABULARIES[group.name].values}
        for value, forms in zip(group.values, group.surface_forms):
            assert 1 <= len(forms) < len(rows[value]) and set(forms) <= set(rows[value])
    base, other = load_encoder("synthetic", dataset=data), load_encoder("synthetic:variant:1", dataset=data)
    assert other.identity == f"synthetic:{world.hash}:variant:1" != base.identity
    assert not np.allclose(
        base.encode_images(data.images[:3]).embeddings, other.encode_images(data.images[:3]).embeddings
    )
    assert world.image_embeddings.shape == variant.image_embeddings.shape  # the base world is left as it was


def test_variants_are_deterministic_and_distinct(data) -> None:
    first = load_encoder("synthetic:variant:2", dataset=data).encode_texts(["a photo of a red lizard"])
    again = load_encoder("synthetic:variant:2:pokemon-like").encode_texts(["a photo of a red lizard"])
    other = load_encoder("synthetic:variant:3", dataset=data).encode_texts(["a photo of a red lizard"])
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_the_oracle_of_one_encoder_is_not_the_oracle_of_another(data) -> None:
    oracle = load_world("pokemon-like").oracle_system()
    scores = [
        accuracy(oracle, _images(load_encoder(spec, dataset=data), data))
        for spec in ("synthetic", "synthetic:variant:1", "synthetic:variant:2")
    ]
    assert len(set(scores)) == 3 and scores[0] == pytest.approx(0.8333, abs=1e-3)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("synthetic:variant:x", "'x' is not an integer"),
        ("synthetic:variant:-1", "negative"),
        ("synthetic:variant:1:no-such-world", "unknown synthetic world"),
    ],
)
def test_bad_variant_specs_are_one_line_errors(data, spec, fragment) -> None:
    with pytest.raises(EncoderError, match=fragment):
        load_encoder(spec, dataset=data)


def test_a_variant_refuses_another_worlds_images() -> None:
    encoder = load_encoder("synthetic:variant:1:pokemon-like")
    with pytest.raises(EncoderError, match="is not from synthetic world"):
        encoder.encode_images(load_dataset("synthetic:large").images[:1])
