"""Scorer behaviours that the mutation run of ``scoring/scorer.py`` found untested (TESTING.md)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hash_text import HashTextEncoder

from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy, class_scores
from cotclip.systems.model import System

DIM = 16


def _system(name_prior_weight: float) -> System:
    groups = [
        {"name": "colour", "prompt": "a {} thing", "options": ["red", "blue", "green"]},
        {"name": "size", "prompt": "it is {}", "options": ["small", "large"], "extra_prompts": ["a {} one"]},
    ]
    rules = {"cherry": {"colour": 0, "size": 0}, "whale": {"colour": 1, "size": 1}, "frog": {"colour": 2, "size": 0}}
    scoring = {"name_prior_weight": name_prior_weight, "name_template": "a photo of a {}"}
    return System.from_data({"classes": list(rules), "groups": groups, "rules": rules, "scoring": scoring})


def _images(encoder: HashTextEncoder, n: int = 12) -> ImageSet:
    rng = np.random.default_rng(0)
    labels = [["cherry", "whale", "frog"][i % 3] for i in range(n)]
    return ImageSet(rng.standard_normal((n, DIM)), labels, PromptEmbedder(encoder))


def test_without_a_name_prior_class_names_are_never_embedded() -> None:
    # A precomputed text-embedding file that holds only the system's prompts must be enough
    # when name_prior_weight is 0: the name template's texts are not asked for.
    system = _system(0.0)
    encoder = HashTextEncoder(DIM, known=set(system.prompt_texts()))
    scores = class_scores(system, _images(encoder))
    assert scores.shape == (12, 3)
    assert not any("a photo of" in text for call in encoder.calls for text in call)

    with_prior = _system(0.5)
    recording = HashTextEncoder(DIM)
    class_scores(with_prior, _images(recording))  # the prior on: its texts are embedded
    assert {"a photo of a cherry", "a photo of a whale", "a photo of a frog"} <= {t for c in recording.calls for t in c}


def test_image_embeddings_are_read_only_so_memoised_cosines_cannot_go_stale() -> None:
    raw = np.random.default_rng(1).standard_normal((4, DIM))
    images = ImageSet(raw, ["cherry"] * 4, PromptEmbedder(HashTextEncoder(DIM)))
    before = images.similarities(["a red thing"]).copy()
    with pytest.raises(ValueError, match="read-only"):
        images.embeddings[0] = 0.0
    raw[0] = 0.0  # the caller's array is not the set's
    np.testing.assert_array_equal(images.similarities(["a red thing"]), before)


def test_averaged_similarities_are_cosines_with_each_lists_normalised_mean_embedding() -> None:
    encoder = HashTextEncoder(DIM)
    raw = np.random.default_rng(2).standard_normal((5, DIM)) * 2.0
    images = ImageSet(raw, ["cherry"] * 5, PromptEmbedder(encoder))
    lists = [["a red thing", "red, clearly"], ["a blue thing"], ["one", "two", "three"]]
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    expected = np.empty((5, len(lists)))
    for column, texts in enumerate(lists):
        mean = encoder.encode_texts(texts).astype(np.float64).mean(axis=0)
        expected[:, column] = unit @ (mean / np.linalg.norm(mean))

    got = images.averaged_similarities(lists)

    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert images.averaged_similarities([]).shape == (5, 0)


def test_rescoring_the_same_system_object_skips_its_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    # The optimizer re-scores one system object many times; its fingerprint (a JSON dump and a
    # sha256) costs more than a whole evaluation, so it is computed once per object.
    system = _system(0.0)
    images = _images(HashTextEncoder(DIM))
    calls = []
    original = System.fingerprint

    def counted(self: System) -> str:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(System, "fingerprint", counted)
    first = accuracy(system, images)
    assert len(calls) == 1
    for _ in range(3):
        assert accuracy(system, images) == first
    assert len(calls) == 1
    accuracy(System.from_data(system.to_dict()), images)  # an equal copy: one fingerprint, no new compile
    assert len(calls) == 2 and images.compile_count == 1


def test_a_temperature_that_is_not_positive_is_refused_by_name() -> None:
    system = _system(0.0)
    images = _images(HashTextEncoder(DIM))
    for bad in (0.0, -0.5):
        with pytest.raises(ValueError, match=rf"^temperature must be > 0, got {bad}$"):
            class_scores(system, images, temperature=bad)


def test_accuracy_honours_the_temperature_argument() -> None:
    # With weighted groups the temperature changes which class wins for some images.
    rng = np.random.default_rng(3)
    groups = [
        {"name": f"g{g}", "prompt": f"q{g} {{}}", "options": [f"o{g}{i}" for i in range(4)], "weight": w}
        for g, w in enumerate([0.3, 1.0, 2.5])
    ]
    classes = [f"c{i}" for i in range(8)]
    rules = {c: {f"g{g}": int(rng.integers(4)) for g in range(3)} for c in classes}
    system = System.from_data({"classes": classes, "groups": groups, "rules": rules})
    labels = [classes[i % 8] for i in range(200)]
    images = ImageSet(rng.standard_normal((200, DIM)), labels, PromptEmbedder(HashTextEncoder(DIM)))
    sharp = system.evolve(scoring={"temperature": 0.01})
    assert accuracy(sharp, images) != accuracy(system, images)  # the case is one where T matters

    assert accuracy(system, images, temperature=0.01) == accuracy(sharp, images)
    assert accuracy(sharp, images, temperature=1.0) == accuracy(system, images)


def test_label_indices_are_read_only_integer_positions() -> None:
    system = _system(0.0)
    images = _images(HashTextEncoder(DIM))
    indices = images.label_indices(system.classes)
    assert indices.dtype == np.intp and indices.tolist() == [0, 1, 2] * 4
    assert images.label_indices(["frog", "whale", "cherry"]).tolist() == [2, 1, 0] * 4
    with pytest.raises(ValueError, match="read-only"):
        indices[0] = 1


def test_multi_vector_images_are_read_only_too() -> None:
    from helpers.multivector import HashMultiVectorEncoder, random_multivectors

    patches = random_multivectors(np.random.default_rng(4), 3, DIM)
    images = ImageSet(patches, ["cherry", "whale", "frog"], PromptEmbedder(HashMultiVectorEncoder(DIM)))
    assert images.similarities(["a red thing"]).shape == (3, 1)
    with pytest.raises(ValueError, match="read-only"):
        images.embeddings.vectors[0, 0] = 1.0


def test_the_compiled_system_cache_keeps_max_compiled_most_recently_used_systems() -> None:
    base = _system(0.0)
    variants = [base.evolve(scoring={"temperature": t}) for t in (1.0, 0.5, 0.25)]
    images = ImageSet(
        np.random.default_rng(5).standard_normal((6, DIM)),
        ["cherry"] * 6,
        PromptEmbedder(HashTextEncoder(DIM)),
        max_compiled=2,
    )

    def score(system: System) -> None:
        class_scores(System.from_data(system.to_dict()), images)  # a fresh object: no per-object shortcut

    score(variants[0])
    score(variants[1])
    score(variants[0])  # still cached: two are kept, and it is now the most recent
    assert images.compile_count == 2
    score(variants[2])  # evicts variants[1], the least recently used
    score(variants[0])
    assert images.compile_count == 3
    score(variants[1])
    assert images.compile_count == 4


def test_compiled_structures_of_discarded_systems_are_released() -> None:
    import gc
    import weakref

    images = ImageSet(
        np.random.default_rng(6).standard_normal((6, DIM)),
        ["cherry"] * 6,
        PromptEmbedder(HashTextEncoder(DIM)),
        max_compiled=1,
    )
    system = _system(0.0)
    compiled = weakref.ref(images.compiled(system))
    class_scores(system.evolve(scoring={"temperature": 0.5}), images)  # pushes it out of the LRU cache
    del system
    gc.collect()
    assert compiled() is None  # an optimizer scores thousands of systems: their structures must not pile up


def test_embeddings_and_labels_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match=r"embeddings \(3, 16\) do not match 2 labels"):
        ImageSet(np.zeros((3, DIM)), ["cherry", "whale"], PromptEmbedder(HashTextEncoder(DIM)))
    with pytest.raises(ValueError, match="do not match 3 labels"):
        ImageSet(np.zeros(3), ["cherry"] * 3, PromptEmbedder(HashTextEncoder(DIM)))


@pytest.mark.parametrize("path", ["dense", "tiled"])
def test_equal_group_weights_other_than_one_scale_the_scores(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cotclip.scoring import scorer

    monkeypatch.setattr(scorer, "SCORING_PATH", path)
    plain = _system(0.0)
    doubled = System.from_data({**plain.to_dict(), "groups": [{**g, "weight": 2.0} for g in plain.to_dict()["groups"]]})
    images = _images(HashTextEncoder(DIM))
    np.testing.assert_allclose(class_scores(doubled, images), 2 * class_scores(plain, images), rtol=1e-6)
