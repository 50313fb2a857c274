"""Evaluate a system (or a baseline) on labelled images, and the pipeline that gets them.

:func:`prepare_images` turns ``--data``/``--model`` specs into an :class:`ImageSet`:
load the dataset (optionally cropped), wrap the encoder in the on-disk embedding cache,
take the requested split (deterministic, stratified), embed the images (unreadable ones
are skipped and counted). :func:`evaluate_system` scores a system on it together with
the class-name baseline on the very same images; :func:`evaluate_baseline` scores one
baseline alone. Labels that are not classes of the system are a
:class:`~cotclip.systems.errors.DataError` unless dropped with :func:`drop_unknown_labels`
(``--ignore-unknown``), which reports how many images went.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cotclip.scoring.baselines import DEFAULT_NAME_TEMPLATES, baseline_scores
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data import Dataset
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.labels import check_labels
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, predict
from cotclip.scoring.splits import select, split_dataset
from cotclip.systems.errors import DataError, MissingTextEmbeddingsError
from cotclip.systems.model import System

__all__ = [
    "PreparedImages",
    "ClassificationSummary",
    "EvaluationResult",
    "BaselineResult",
    "prepare_images",
    "drop_unknown_labels",
    "summarize",
    "evaluate_system",
    "evaluate_baseline",
]


@dataclass(frozen=True)
class PreparedImages:
    """Embedded images of one split, the cached encoder that made them, and what was skipped."""

    images: ImageSet
    encoder: CachedEncoder
    dataset: Dataset
    positions: list[int]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unknown_dropped: int = 0
    """Images left out before the split because their label is not one of ``only_classes``."""


@dataclass(frozen=True)
class ClassificationSummary:
    """Accuracy, per-class accuracy (None for classes without images) and top confusions."""

    accuracy: float
    n: int
    per_class: dict[str, float | None]
    confusions: list[tuple[str, str, int]]

    def to_dict(self) -> dict[str, Any]:
        """``{"accuracy", "n", "per_class", "confusions": [{"true", "predicted", "count"}]}``."""
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class": dict(self.per_class),
            "confusions": [{"true": t, "predicted": p, "count": n} for t, p, n in self.confusions],
        }


@dataclass(frozen=True)
class EvaluationResult:
    """A system's accuracy on one split and the class-name baseline on the same images.

    ``baseline_accuracy`` is None when the baseline could not be computed; ``baseline_note``
    then says why (otherwise it names the templates used). ``cache`` holds the embedding
    cache's ``hits``/``misses`` (None without a cache); ``skipped`` counts images left out:
    ``unreadable`` files and ``unknown_label`` images dropped by ``--ignore-unknown``.
    """

    accuracy: float
    n: int
    per_class: dict[str, float | None]
    confusions: list[tuple[str, str, int]]
    baseline_accuracy: float | None
    baseline_note: str | None
    cache: dict[str, int] | None = None
    skipped: dict[str, int] = field(default_factory=lambda: {"unreadable": 0, "unknown_label": 0})

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``cotclip evaluate --json`` prints."""
        summary = ClassificationSummary(self.accuracy, self.n, self.per_class, self.confusions).to_dict()
        return {
            **summary,
            "baseline_accuracy": self.baseline_accuracy,
            "baseline_note": self.baseline_note,
            "cache": None if self.cache is None else dict(self.cache),
            "skipped": dict(self.skipped),
        }


@dataclass(frozen=True)
class BaselineResult:
    """One baseline's accuracy on one split (``cotclip baseline``)."""

    method: str
    summary: ClassificationSummary
    cache: dict[str, int] | None = None
    skipped: dict[str, int] = field(default_factory=lambda: {"unreadable": 0, "unknown_label": 0})

    def to_dict(self) -> dict[str, Any]:
        """``{"method", "accuracy", "n", "per_class", "confusions", "cache", "skipped"}``."""
        return {
            "method": self.method,
            **self.summary.to_dict(),
            "cache": None if self.cache is None else dict(self.cache),
            "skipped": dict(self.skipped),
        }


def prepare_images(
    data: str | Dataset,
    model: str,
    *,
    split: str = "test",
    seed: int = 0,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    crop: tuple[float, float, float, float] | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    image_column: str = "image",
    label_column: str = "label",
    encoder_settings: EncoderSettings | None = None,
    only_classes: Sequence[str] | None = None,
    drop_unknown: bool = True,
) -> PreparedImages:
    """Load, split and embed ``data`` (a spec or a loaded :class:`Dataset`) with ``model`` through the embedding cache.

    ``encoder_settings`` carries ``--encoder-option``, ``--similarity`` and ``--trust-remote-code``.
    With ``only_classes`` (a system's classes), images of other labels are checked *before*
    the split: dropped when ``drop_unknown`` (``--ignore-unknown``; a class the system does
    not know may then be too small to split), else a DataError naming them. Splits are
    stratified with one seed per class, so the known classes' splits do not change.
    """
    if isinstance(data, Dataset):  # already loaded (the Python API's datasets.Dataset, for one)
        dataset, data = data, data.source
    else:
        dataset = load_dataset(data, crop=crop, image_column=image_column, label_column=label_column)
    loader = (encoder_settings or EncoderSettings()).loader_kwargs()
    encoder = CachedEncoder(load_encoder(model, dataset=dataset, **loader), EmbeddingCache(cache_dir))
    unknown = 0
    if only_classes is not None:
        known = set(only_classes)
        kept = [i for i, label in enumerate(dataset.labels) if label in known]
        unknown = len(dataset) - len(kept)
        if unknown and not drop_unknown:
            check_labels(dataset.labels, only_classes)  # names them and --ignore-unknown
        dataset = dataset.subset(kept) if unknown else dataset
    if split == "all":
        positions = list(range(len(dataset)))
    else:
        positions = select(split_dataset(list(dataset.labels), fractions, seed), split)
    if not positions:
        raise DataError(f"split {split!r} of {data} has no images; use another split or change --fractions")
    embedded = embed_dataset(dataset, encoder, positions, progress=progress)
    images = ImageSet(embedded.embeddings, embedded.labels, PromptEmbedder(encoder))
    return PreparedImages(images, encoder, dataset, list(embedded.positions), list(embedded.skipped), unknown)


def drop_unknown_labels(images: ImageSet, classes: Sequence[str]) -> tuple[ImageSet, int]:
    """The images whose label is one of ``classes`` and how many were dropped."""
    known = set(classes)
    keep = [i for i, label in enumerate(images.labels) if label in known]
    if len(keep) == len(images):
        return images, 0
    return images.subset(keep), len(images) - len(keep)


def summarize(predicted: np.ndarray, truth: np.ndarray, classes: Sequence[str], top: int = 10) -> ClassificationSummary:
    """Accuracy, per-class accuracy and the ``top`` most frequent (true, predicted) confusions."""
    if len(truth) == 0:
        raise DataError("no images to evaluate on; check the data spec, the split and the labels")
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    correct = predicted == truth
    per_class: dict[str, float | None] = {}
    for index, name in enumerate(classes):
        mask = truth == index
        per_class[name] = float(correct[mask].mean()) if mask.any() else None
    pairs = Counter(zip(truth[~correct].tolist(), predicted[~correct].tolist()))
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:top]
    confusions = [(classes[t], classes[p], count) for (t, p), count in ranked]
    return ClassificationSummary(float(correct.mean()), int(len(truth)), per_class, confusions)


def _name_baseline(system: System, images: ImageSet, templates: Sequence[str]) -> tuple[float | None, str]:
    try:
        scores = baseline_scores("name", system.classes, images, templates=templates)
    except MissingTextEmbeddingsError as exc:
        return None, f"class-name baseline not computed: {exc.message}"
    truth = images.label_indices(system.classes)
    accuracy = float(np.mean(np.argmax(scores, axis=1) == truth))
    return accuracy, f"class-name zero-shot with template(s) {', '.join(repr(t) for t in templates)}"


def evaluate_system(
    system: System,
    images: ImageSet,
    *,
    temperature: float | None = None,
    baseline_templates: Sequence[str] = DEFAULT_NAME_TEMPLATES,
    top_confusions: int = 10,
    cache: dict[str, int] | None = None,
    skipped: dict[str, int] | None = None,
) -> EvaluationResult:
    """Score ``system`` on ``images`` and the class-name baseline on the same images."""
    truth = images.label_indices(system.classes)
    summary = summarize(predict(system, images, temperature), truth, system.classes, top_confusions)
    baseline, note = _name_baseline(system, images, baseline_templates)
    return EvaluationResult(
        accuracy=summary.accuracy,
        n=summary.n,
        per_class=summary.per_class,
        confusions=summary.confusions,
        baseline_accuracy=baseline,
        baseline_note=note,
        cache=cache,
        skipped={"unreadable": 0, "unknown_label": 0, **(skipped or {})},
    )


def evaluate_baseline(
    method: str,
    classes: Sequence[str],
    images: ImageSet,
    *,
    system: System | None = None,
    templates: Sequence[str] = DEFAULT_NAME_TEMPLATES,
    seed: int = 0,
    n_descriptors: int = 16,
    top_confusions: int = 10,
) -> ClassificationSummary:
    """Accuracy of one baseline (``name``, ``descriptors``, ``waffle``) over ``classes`` on ``images``."""
    truth = images.label_indices(classes)
    scores = baseline_scores(
        method, classes, images, system=system, templates=templates, seed=seed, n_descriptors=n_descriptors
    )
    return summarize(np.argmax(scores, axis=1), truth, classes, top_confusions)
