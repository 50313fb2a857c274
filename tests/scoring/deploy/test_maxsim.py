"""MaxSim (late interaction): the similarity itself, and everything after the similarity matrix on multi-vectors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.multivector import HashMultiVectorEncoder, image_refs, random_multivectors

import cotclip.scoring.similarity as similarity_module
from cotclip.optimizer.search import KnobEvaluator, Knobs, SearchSpace
from cotclip.optimizer.selection.functions import select_groups
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data import Dataset
from cotclip.scoring.deploy.adaptive import AdaptiveClassifier
from cotclip.scoring.deploy.classifier import Classifier
from cotclip.scoring.deploy.compiled import compile_system, read_compiled, write_compiled
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, class_scores, option_similarities, predict
from cotclip.scoring.similarity import MultiVectors, maxsim, maxsim_reference, similarity_matrix
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

CLASSES = ("cat", "dog", "fox")
SYSTEM = System.from_data(
    {
        "name": "pets",
        "classes": list(CLASSES),
        "groups": [
            {
                "name": "kind",
                "prompt": "a photo of a {}",
                "options": ["cat", "dog", "fox"],
                "extra_prompts": ["it is a {} here"],
            },
            {"name": "noise", "prompt": "something {}", "options": ["red", "blue"]},
        ],
        "rules": {"cat": {"kind": 0, "noise": 0}, "dog": {"kind": 1, "noise": 1}, "fox": {"kind": 2, "noise": 0}},
        "scoring": {"temperature": 0.05, "name_prior_weight": 0.3, "name_template": "{}"},
    }
)


@pytest.fixture
def images() -> ImageSet:
    encoder = HashMultiVectorEncoder()
    refs, labels = image_refs(CLASSES, 6)
    return ImageSet(encoder.encode_images(refs).embeddings, labels, PromptEmbedder(encoder))


def test_maxsim_matches_the_slow_reference_on_random_ragged_multivectors(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    texts, pictures = random_multivectors(rng, 7, 12, 1, 9), random_multivectors(rng, 11, 12, 1, 20)
    expected = maxsim_reference(texts, pictures)
    np.testing.assert_allclose(maxsim(texts, pictures), expected, atol=1e-5)
    monkeypatch.setattr(similarity_module, "_CHUNK_FLOATS", 40)  # many small image chunks
    np.testing.assert_allclose(maxsim(texts, pictures), expected, atol=1e-5)
    assert np.all(np.abs(expected) <= 1.0 + 1e-6)  # a mean of cosines: the scale the softmax/temperature expect


def test_one_token_one_patch_maxsim_is_the_cosine() -> None:
    rng = np.random.default_rng(1)
    texts, pictures = random_multivectors(rng, 4, 8, 1, 2), random_multivectors(rng, 5, 8, 1, 2)
    np.testing.assert_allclose(maxsim(texts, pictures), texts.vectors @ pictures.vectors.T, atol=1e-6)


def test_multivectors_take_pad_and_refuse_a_mixed_comparison() -> None:
    rng = np.random.default_rng(2)
    items = random_multivectors(rng, 5, 4, 1, 5)
    picked = items[[3, 0]]
    np.testing.assert_array_equal(picked.item(0), items.item(3))
    padded = items.padded()
    assert padded.shape == (5, int(items.counts.max()), 4)
    np.testing.assert_array_equal(
        padded[1, items.counts[1] :], np.repeat(items.item(1)[:1], padded.shape[1] - items.counts[1], axis=0)
    )
    with pytest.raises(ValueError, match="same encoder"):
        similarity_matrix(items, rng.standard_normal((3, 4)))


def test_scorer_option_similarities_are_the_mean_maxsim_over_templates(images: ImageSet) -> None:
    encoder = images.prompts.encoder
    group = SYSTEM.groups[0]
    columns = []
    for index in range(len(group.options)):
        texts = encoder.encode_texts(group.option_texts(index))
        columns.append(maxsim_reference(texts, images.embeddings).mean(axis=0))
    np.testing.assert_allclose(option_similarities(SYSTEM, images)[:, :3], np.stack(columns, axis=1), atol=1e-5)
    assert float(np.mean(predict(SYSTEM, images) == images.label_indices(SYSTEM.classes))) > 0.9
    subset = images.subset([0, 7])
    np.testing.assert_allclose(class_scores(SYSTEM, subset), class_scores(SYSTEM, images)[[0, 7]], atol=1e-6)


def test_compiled_npz_records_maxsim_and_scores_like_the_scorer(images: ImageSet, tmp_path) -> None:
    compiled = compile_system(SYSTEM, images.prompts.encoder)
    assert compiled.similarity == "maxsim"
    np.testing.assert_allclose(compiled.class_scores(images.embeddings), class_scores(SYSTEM, images), atol=1e-5)
    loaded = read_compiled(write_compiled(compiled, tmp_path / "pets.npz"))
    assert loaded.similarity == "maxsim" and loaded.to_dict()["similarity"] == "maxsim"
    np.testing.assert_allclose(loaded.class_scores(images.embeddings), class_scores(SYSTEM, images), atol=1e-5)
    with np.load(tmp_path / "pets.npz") as archive:
        assert str(archive["similarity"]) == "maxsim"
    with pytest.raises(InputError, match="needs maxsim image embeddings"):
        loaded.class_scores(np.ones((2, images.embeddings.dim), np.float32))
    classifier = Classifier(loaded).fit_adaptive(images.embeddings, images.labels)
    assert classifier.predict(images.embeddings) == [SYSTEM.classes[i] for i in predict(SYSTEM, images)]


def test_knob_search_and_selection_run_on_the_maxsim_matrix(images: ImageSet) -> None:
    space = SearchSpace(template_pool={"noise": ("the colour is {}",)})
    evaluator = KnobEvaluator(SYSTEM, images, space)
    knobs = Knobs(
        0.1,
        "prob_sum",
        0.3,
        {"kind": 1.0, "noise": 0.5},
        {"kind": ("it is a {} here",), "noise": ("the colour is {}",)},
    )
    materialised = evaluator.to_system(knobs)
    np.testing.assert_allclose(evaluator.scores(knobs), class_scores(materialised, images), rtol=2e-4, atol=2e-5)
    chosen = select_groups(SYSTEM, images, images, budget=4)
    assert chosen and all(isinstance(s, System) for s in chosen)


def test_adaptive_margin_stop_keeps_the_full_systems_decisions(images: ImageSet) -> None:
    result = AdaptiveClassifier.fit(SYSTEM, images).run(images, stop="margin")
    full = [SYSTEM.classes[i] for i in predict(SYSTEM, images)]
    assert list(result.labels) == full


def test_the_cache_stores_float16_matrices_and_serves_the_same_numbers_cold_and_warm(tmp_path) -> None:
    encoder = HashMultiVectorEncoder()
    refs, labels = image_refs(CLASSES, 2)
    dataset = Dataset(source="test", identity="test", images=refs, labels=labels)
    cold = embed_dataset(dataset, CachedEncoder(encoder, EmbeddingCache(tmp_path)), progress=False).embeddings
    warm_encoder = CachedEncoder(encoder, EmbeddingCache(tmp_path))
    warm = embed_dataset(dataset, warm_encoder, progress=False).embeddings
    assert (
        isinstance(warm, MultiVectors)
        and warm_encoder.stats.hits == len(refs)
        and warm_encoder.stats.encoder_calls == 0
    )
    np.testing.assert_array_equal(cold.vectors, warm.vectors)
    np.testing.assert_allclose(warm.vectors, encoder.encode_images(refs).embeddings.vectors, atol=1e-3)
    sizes = sorted(p.stat().st_size for p in tmp_path.rglob("*.row"))
    assert sizes == sorted(12 + 2 * int(c) * encoder.dim + 16 for c in warm.counts)
    texts = warm_encoder.encode_texts(["a cat", "a big dog"])
    assert isinstance(texts, MultiVectors) and list(texts.counts) == [2, 3]
