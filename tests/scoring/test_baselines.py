"""Zero-shot baselines: class names (template-averaged), DCLIP descriptors, WaffleCLIP random words."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hash_text import HashTextEncoder

from cotclip.scoring.baselines import (
    baseline_scores,
    descriptor_scores,
    descriptor_texts,
    name_baseline_scores,
    waffle_descriptors,
    waffle_scores,
)
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.systems.errors import InputError, MissingTextEmbeddingsError
from cotclip.systems.model import System

DIM = 16


SYSTEM = System.from_data(
    {
        "classes": ["Absol", "Dratini", "Ghost"],
        "groups": [
            {"name": "color", "prompt": "It is mainly {}.", "options": ["white", "light blue"]},
            {"name": "form", "prompt": "It looks like {}.", "options": ["a wolf", "a serpent"]},
        ],
        "rules": {
            "Absol": {"color": 0, "form": 0},
            "Dratini": {"color": 1, "form": None},
            "Ghost": {"color": None, "form": None},
        },
    }
)


@pytest.fixture
def images() -> ImageSet:
    rng = np.random.default_rng(0)
    return ImageSet(
        rng.standard_normal((12, DIM)), ["Absol", "Dratini", "Ghost"] * 4, PromptEmbedder(HashTextEncoder(DIM))
    )


def cosines(images: ImageSet, texts: list[str]) -> np.ndarray:
    return images.embeddings.astype(np.float64) @ HashTextEncoder(DIM).encode_texts(texts).T.astype(np.float64)


def test_name_baseline_is_the_cosine_with_each_class_name_prompt(images: ImageSet) -> None:
    expected = cosines(images, [f"a photo of {c}" for c in SYSTEM.classes])
    np.testing.assert_allclose(name_baseline_scores(SYSTEM.classes, images), expected, rtol=1e-5, atol=1e-6)


def test_name_baseline_averages_normalised_template_embeddings(images: ImageSet) -> None:
    templates = ("a photo of {}", "art of {}, a creature")
    embedder = HashTextEncoder(DIM)
    means = []
    for c in SYSTEM.classes:
        mean = embedder.encode_texts([t.replace("{}", c) for t in templates]).astype(np.float64).mean(axis=0)
        means.append(mean / np.linalg.norm(mean))
    expected = images.embeddings.astype(np.float64) @ np.array(means).T
    np.testing.assert_allclose(name_baseline_scores(SYSTEM.classes, images, templates), expected, rtol=1e-5, atol=1e-6)


def test_descriptors_are_rule_options_and_bare_names_for_all_null_classes() -> None:
    assert descriptor_texts(SYSTEM) == [
        ["Absol, which has white", "Absol, which has a wolf"],
        ["Dratini, which has light blue"],
        ["Ghost"],
    ]


def test_descriptor_scores_are_mean_cosines(images: ImageSet) -> None:
    expected = np.stack([cosines(images, texts).mean(axis=1) for texts in descriptor_texts(SYSTEM)], axis=1)
    np.testing.assert_allclose(descriptor_scores(SYSTEM, images), expected, rtol=1e-5, atol=1e-6)


def test_waffle_descriptors_are_reproducible_random_words() -> None:
    first = waffle_descriptors(seed=3, n_descriptors=5)
    assert first == waffle_descriptors(seed=3, n_descriptors=5)
    assert first != waffle_descriptors(seed=4, n_descriptors=5)
    assert len(first) == 5 and len(set(first)) == 5
    for descriptor in first:
        words = descriptor.split(" ")
        assert len(words) == 2 and all(w.isalpha() and w.islower() and 3 <= len(w) <= 8 for w in words)
    with pytest.raises(InputError):
        waffle_descriptors(seed=0, n_descriptors=0)


def test_waffle_scores_average_random_descriptors_after_the_class_name(images: ImageSet) -> None:
    descriptors = waffle_descriptors(seed=1, n_descriptors=4)
    expected = np.stack(
        [cosines(images, [f"{c}, which has {d}" for d in descriptors]).mean(axis=1) for c in SYSTEM.classes], axis=1
    )
    np.testing.assert_allclose(
        waffle_scores(SYSTEM.classes, images, seed=1, n_descriptors=4), expected, rtol=1e-5, atol=1e-6
    )


def test_dispatch_checks_its_inputs(images: ImageSet) -> None:
    np.testing.assert_array_equal(
        baseline_scores("name", SYSTEM.classes, images), name_baseline_scores(SYSTEM.classes, images)
    )
    with pytest.raises(InputError, match="--system"):
        baseline_scores("descriptors", SYSTEM.classes, images)
    with pytest.raises(InputError, match="name, descriptors, waffle"):
        baseline_scores("clip-magic", SYSTEM.classes, images)
    with pytest.raises(InputError, match="exactly one"):
        name_baseline_scores(SYSTEM.classes, images, ["no placeholder"])


def test_an_encoder_without_the_baseline_texts_raises(images: ImageSet) -> None:
    fixed = ImageSet(
        images.embeddings, images.labels, PromptEmbedder(HashTextEncoder(DIM, known=set(SYSTEM.prompt_texts())))
    )
    with pytest.raises(MissingTextEmbeddingsError, match="a photo of Absol"):
        name_baseline_scores(SYSTEM.classes, fixed)
