"""Evaluation results, unknown labels, the baseline note, and the data -> ImageSet pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.hash_text import HashTextEncoder

from cotclip.scoring.evaluation import (
    EvaluationResult,
    drop_unknown_labels,
    evaluate_baseline,
    evaluate_system,
    prepare_images,
    summarize,
)
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.systems.errors import DataError
from cotclip.systems.model import System

DIM = 16


SYSTEM = System.from_data(
    {
        "classes": ["A", "B", "C"],
        "groups": [{"name": "g", "prompt": "it is {}", "options": ["x", "y", "z"]}],
        "rules": {"A": {"g": 0}, "B": {"g": 1}, "C": {"g": 2}},
    }
)


def image_set(labels: list[str], known: set[str] | None = None, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    return ImageSet(rng.standard_normal((len(labels), DIM)), labels, PromptEmbedder(HashTextEncoder(DIM, known)))


def test_summarize_counts_per_class_and_ranks_confusions() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 2, 1, 0])
    summary = summarize(predicted, truth, ["A", "B", "C", "D"], top=2)
    assert summary.accuracy == pytest.approx(2 / 6)
    assert summary.n == 6
    assert summary.per_class == {"A": pytest.approx(1 / 3), "B": 0.5, "C": 0.0, "D": None}
    assert summary.confusions == [("A", "B", 2), ("B", "C", 1)]
    with pytest.raises(DataError, match="no images"):
        summarize(np.array([], int), np.array([], int), ["A"])


def test_evaluate_system_reports_the_dict_of_the_contract() -> None:
    images = image_set(["A", "B", "C"] * 5)
    result = evaluate_system(SYSTEM, images, cache={"hits": 3, "misses": 1}, skipped={"unreadable": 2})
    data = result.to_dict()
    assert list(data) == [
        "accuracy",
        "n",
        "per_class",
        "confusions",
        "baseline_accuracy",
        "baseline_note",
        "cache",
        "skipped",
    ]
    assert data["accuracy"] == pytest.approx(accuracy(SYSTEM, images))
    assert data["n"] == 15
    assert set(data["per_class"]) == {"A", "B", "C"}
    assert all(set(c) == {"true", "predicted", "count"} for c in data["confusions"])
    assert isinstance(data["baseline_accuracy"], float)
    assert "a photo of {}" in data["baseline_note"]
    assert data["cache"] == {"hits": 3, "misses": 1}
    assert data["skipped"] == {"unreadable": 2, "unknown_label": 0}


def test_temperature_override_reaches_the_scorer() -> None:
    system = SYSTEM.evolve(scoring={"temperature": 1.0, "name_prior_weight": 5.0})
    images = image_set(["A", "B", "C"] * 10, seed=1)
    hot = evaluate_system(system, images, temperature=1.0).accuracy
    cold = evaluate_system(system, images, temperature=0.01).accuracy
    assert hot == pytest.approx(accuracy(system, images, 1.0))
    assert cold == pytest.approx(accuracy(system, images, 0.01))


def test_missing_baseline_prompts_leave_the_system_evaluated_with_a_note() -> None:
    images = image_set(["A", "B", "C"] * 4, known=set(SYSTEM.prompt_texts()))
    result = evaluate_system(SYSTEM, images)
    assert result.accuracy == pytest.approx(accuracy(SYSTEM, images))
    assert result.baseline_accuracy is None
    assert "baseline not computed" in result.baseline_note and "a photo of" in result.baseline_note


def test_unknown_labels_are_an_error_unless_dropped() -> None:
    images = image_set(["A", "B", "Mew", "C", "Mew", "Zapdos"])
    with pytest.raises(DataError, match="'Mew', 'Zapdos'.*--ignore-unknown"):
        evaluate_system(SYSTEM, images)
    kept, dropped = drop_unknown_labels(images, SYSTEM.classes)
    assert dropped == 3 and kept.labels == ["A", "B", "C"]
    assert evaluate_system(SYSTEM, kept).n == 3
    assert drop_unknown_labels(kept, SYSTEM.classes) == (kept, 0)


def test_evaluate_baseline_scores_each_method() -> None:
    images = image_set(["A", "B", "C"] * 4)
    for method in ("name", "descriptors", "waffle"):
        summary = evaluate_baseline(method, SYSTEM.classes, images, system=SYSTEM, n_descriptors=3)
        assert summary.n == 12 and 0.0 <= summary.accuracy <= 1.0


def test_result_is_frozen() -> None:
    result = evaluate_system(SYSTEM, image_set(["A", "B", "C"]))
    assert isinstance(result, EvaluationResult)
    with pytest.raises(AttributeError):
        result.accuracy = 1.0  # type: ignore[misc]


def write_npz(path: Path, per_class: int = 5) -> Path:
    rng = np.random.default_rng(2)
    labels = [c for c in SYSTEM.classes for _ in range(per_class)]
    texts = SYSTEM.prompt_texts()
    text_embeddings = rng.standard_normal((len(texts), DIM)).astype(np.float32)
    images = np.stack(
        [text_embeddings[SYSTEM.classes.index(label)] + 0.1 * rng.standard_normal(DIM) for label in labels]
    )
    np.savez(
        path,
        image_embeddings=images.astype(np.float32),
        labels=np.array(labels),
        texts=np.array(texts),
        text_embeddings=text_embeddings,
    )
    return path


def test_prepare_images_splits_embeds_and_caches(tmp_path: Path) -> None:
    spec = f"precomputed:{write_npz(tmp_path / 'emb.npz')}"
    first = prepare_images(spec, spec, split="test", cache_dir=tmp_path / "cache", progress=False)
    assert len(first.images) == 3 and sorted(first.images.labels) == ["A", "B", "C"]
    assert first.encoder.stats.misses == 3 and first.skipped == []
    again = prepare_images(spec, spec, split="test", cache_dir=tmp_path / "cache", progress=False)
    assert again.encoder.stats.hits == 3 and again.encoder.stats.misses == 0
    everything = prepare_images(spec, spec, split="all", cache_dir=tmp_path / "cache", progress=False)
    assert len(everything.images) == 15
    assert accuracy(SYSTEM, everything.images, temperature=0.01) == 1.0
