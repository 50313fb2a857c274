"""Zero-shot baselines scored on the same :class:`~cotclip.scoring.scorer.ImageSet` as a system.

Every function returns ``[N, C]`` scores whose argmax (ties -> first class) is the
baseline's prediction:

* :func:`name_baseline_scores` (``name``): CLIP's class-name zero-shot. Class ``c``'s text
  embedding is the L2-normalised mean of the embeddings of every template with ``{}``
  replaced by ``c`` (prompt ensembling); the score is the image's cosine with it.
* :func:`descriptor_scores` (``descriptors``, DCLIP style): class ``c`` is described by
  ``"{c}, which has {option}"`` for each option its rules pick; the score is the mean
  cosine over those descriptors. A class whose rules are all null is described by its
  bare name ``"{c}"``.
* :func:`waffle_scores` (``waffle``, WaffleCLIP style): ``n_descriptors`` random
  descriptors (random-letter "words", drawn from ``seed``) shared by all classes; the
  score is the mean cosine over ``"{c}, which has {descriptor}"``.

All texts go through the image set's prompt embedder, so an encoder that cannot embed
them (a precomputed file) raises :class:`~cotclip.systems.errors.MissingTextEmbeddingsError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from cotclip.scoring.scorer import ImageSet
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "BaselineMethod",
    "BASELINE_METHODS",
    "DEFAULT_NAME_TEMPLATES",
    "name_baseline_scores",
    "descriptor_texts",
    "descriptor_scores",
    "waffle_descriptors",
    "waffle_scores",
    "baseline_scores",
]

BaselineMethod = Literal["name", "descriptors", "waffle"]
BASELINE_METHODS: tuple[str, ...] = ("name", "descriptors", "waffle")
DEFAULT_NAME_TEMPLATES: tuple[str, ...] = ("a photo of {}",)
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _fill(template: str, value: str) -> str:
    return template.replace("{}", value, 1)


def name_baseline_scores(
    classes: Sequence[str], images: ImageSet, templates: Sequence[str] = DEFAULT_NAME_TEMPLATES
) -> np.ndarray:
    """``[N, C]`` cosine of each image with each class's template-averaged name embedding."""
    bad = [t for t in templates if t.count("{}") != 1]
    if not templates or bad:
        raise InputError(
            f"name baseline templates need exactly one {{}} each (got {list(templates)!r}); fix the template"
        )
    return images.averaged_similarities([[_fill(t, c) for t in templates] for c in classes])


def _mean_cosines(images: ImageSet, descriptions: list[list[str]]) -> np.ndarray:
    flat = [text for texts in descriptions for text in texts]
    starts = np.cumsum([0] + [len(texts) for texts in descriptions[:-1]])
    sums = np.add.reduceat(images.similarities(flat), starts, axis=1)
    return sums / np.array([len(texts) for texts in descriptions], dtype=np.float32)


def descriptor_texts(system: System) -> list[list[str]]:
    """Per class, ``"{class}, which has {option}"`` for each option its non-null rules pick."""
    texts = []
    for class_name in system.classes:
        options = [
            group.options[index]
            for group in system.groups
            if (index := system.rule(class_name, group.name)) is not None
        ]
        texts.append([f"{class_name}, which has {option}" for option in options] or [class_name])
    return texts


def descriptor_scores(system: System, images: ImageSet) -> np.ndarray:
    """``[N, C]`` DCLIP-style mean cosine over each class's rule descriptors (classes in system order)."""
    return _mean_cosines(images, descriptor_texts(system))


def waffle_descriptors(seed: int, n_descriptors: int = 16) -> list[str]:
    """``n_descriptors`` random descriptors of two random-letter words (3-8 letters), reproducible by seed."""
    if n_descriptors < 1:
        raise InputError(f"waffle needs at least one descriptor, got {n_descriptors}; pass a positive count")
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(_LETTERS, size=int(rng.integers(3, 9)))) for _ in range(2 * n_descriptors)]
    return [f"{words[2 * i]} {words[2 * i + 1]}" for i in range(n_descriptors)]


def waffle_scores(classes: Sequence[str], images: ImageSet, seed: int = 0, n_descriptors: int = 16) -> np.ndarray:
    """``[N, C]`` WaffleCLIP-style mean cosine over random descriptors appended to each class name."""
    descriptors = waffle_descriptors(seed, n_descriptors)
    return _mean_cosines(images, [[f"{c}, which has {d}" for d in descriptors] for c in classes])


def baseline_scores(
    method: str,
    classes: Sequence[str],
    images: ImageSet,
    *,
    system: System | None = None,
    templates: Sequence[str] = DEFAULT_NAME_TEMPLATES,
    seed: int = 0,
    n_descriptors: int = 16,
) -> np.ndarray:
    """Dispatch on ``method`` (``name``, ``descriptors`` needs ``system``, ``waffle``)."""
    if method == "name":
        return name_baseline_scores(classes, images, templates)
    if method == "descriptors":
        if system is None:
            raise InputError("the descriptors baseline needs a system for its rule options; pass --system S")
        return descriptor_scores(system, images)
    if method == "waffle":
        return waffle_scores(classes, images, seed, n_descriptors)
    raise InputError(f"unknown baseline method {method!r}; use one of {', '.join(BASELINE_METHODS)}")
