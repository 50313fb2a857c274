"""``evaluate`` (a system on a split, beside the class-name baseline) and ``baseline`` (zero-shot baselines)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cotclip._data import DataLike, load_dataset
from cotclip._systems import SystemLike, load_system
from cotclip._types import need, need_crop, need_fractions, need_optional_path, need_text, need_texts
from cotclip.scoring.baselines import BASELINE_METHODS, DEFAULT_NAME_TEMPLATES
from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.evaluation import (
    BaselineResult,
    EvaluationResult,
    PreparedImages,
    drop_unknown_labels,
    evaluate_baseline,
    evaluate_system,
    prepare_images,
)
from cotclip.scoring.splits import SPLIT_NAMES, check_fractions
from cotclip.systems.errors import DataError, InputError
from cotclip.systems.model import System

if TYPE_CHECKING:
    from cotclip.scoring.deploy.adaptive import AdaptiveResult

__all__ = ["Evaluation", "DataOptions", "evaluate", "baseline", "check_templates"]


@dataclass(frozen=True)
class DataOptions:
    """Which images to score and how to embed them (the flags ``evaluate`` and ``baseline`` share)."""

    data: Any
    model: str
    split: str = "test"
    seed: int = 0
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    crop: tuple[float, float, float, float] | None = None
    cache_dir: str | None = None
    image_column: str = "image"
    label_column: str = "label"
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    ignore_unknown: bool = False
    progress: bool = False

    def __post_init__(self) -> None:
        need_text(self.model, "model", "hf:openai/clip-vit-base-patch32")
        need(self.split, "split", str, f"one of {', '.join(SPLIT_NAMES)}")
        if self.split not in SPLIT_NAMES:
            raise InputError(f"--split {self.split!r} is not a split; use one of {', '.join(SPLIT_NAMES)}")
        need(self.seed, "seed", int, "an int")
        try:
            fractions = check_fractions(need_fractions(self.fractions))
        except DataError as exc:
            raise InputError(f"--fractions: {exc.message}") from None
        object.__setattr__(self, "fractions", fractions)
        object.__setattr__(self, "crop", need_crop(self.crop))
        object.__setattr__(self, "cache_dir", need_optional_path(self.cache_dir, "cache_dir"))
        need(self.encoder, "encoder", EncoderSettings, "EncoderSettings (see cotclip._data.encoder_settings)")
        need(self.ignore_unknown, "ignore_unknown", bool, "True or False")

    def prepare(self, split: str | None = None, only_classes: Sequence[str] | None = None) -> PreparedImages:
        """Load, split and embed the images (``split`` overrides this options' split)."""
        data = (
            self.data
            if isinstance(self.data, str)
            else load_dataset(self.data, image_column=self.image_column, label_column=self.label_column, crop=self.crop)
        )
        return prepare_images(
            data,
            self.model,
            split=split or self.split,
            seed=self.seed,
            fractions=self.fractions,
            crop=self.crop,
            cache_dir=self.cache_dir,
            progress=self.progress,
            image_column=self.image_column,
            label_column=self.label_column,
            encoder_settings=self.encoder,
            only_classes=only_classes,
            drop_unknown=self.ignore_unknown,
        )


#: the result an :class:`Evaluation` holds: :class:`EvaluationResult` (evaluate) or :class:`BaselineResult` (baseline)
R = TypeVar("R", EvaluationResult, BaselineResult)


@dataclass(frozen=True)
class Evaluation(Generic[R]):
    """What :func:`evaluate` or :func:`baseline` measured; ``to_dict()`` is the command's ``--json`` document.

    ``result`` is an :class:`EvaluationResult` from :func:`evaluate` and a
    :class:`BaselineResult` from :func:`baseline` (``Evaluation[EvaluationResult]`` and
    ``Evaluation[BaselineResult]`` to a type checker).
    """

    result: R
    label_counts: dict[str, int]
    title: str
    adaptive: AdaptiveResult | None = None
    policy: AdaptivePolicy | None = None

    @property
    def accuracy(self) -> float:
        """Share of the images classified correctly."""
        return self.result.accuracy if isinstance(self.result, EvaluationResult) else self.result.summary.accuracy

    def to_dict(self) -> dict[str, Any]:
        """The result's dict, plus ``adaptive`` (with its ``rank``) when adaptive questioning ran."""
        payload = self.result.to_dict()
        if self.adaptive is not None and self.policy is not None:
            payload["adaptive"] = {**self.adaptive.to_dict(), "rank": self.policy.rank}
        return payload


def check_templates(templates: Sequence[str] | None) -> tuple[str, ...]:
    """The class-name templates (default ``a photo of {}``), each with exactly one ``{}``."""
    chosen = need_texts(templates, "templates") if templates else DEFAULT_NAME_TEMPLATES
    for template in chosen:
        if template.count("{}") != 1:
            raise InputError(f"--template {template!r} must contain exactly one {{}} for the class name")
    return chosen


def _options(data: Any, model: str, settings: dict[str, Any]) -> DataOptions:
    if isinstance(data, DataOptions):
        return data
    return DataOptions(data, model, **settings)


def _known(prepared: PreparedImages, classes: Sequence[str], ignore_unknown: bool) -> tuple[Any, dict[str, int]]:
    """The images with labels among ``classes`` and the skipped counts (unknown labels name themselves otherwise)."""
    images, dropped = prepared.images, 0
    if ignore_unknown:
        images, dropped = drop_unknown_labels(images, classes)
    else:
        images.label_indices(classes)
    return images, {"unreadable": len(prepared.skipped), "unknown_label": dropped + prepared.unknown_dropped}


def _cache_stats(prepared: PreparedImages) -> dict[str, int]:
    stats = prepared.encoder.stats.to_dict()
    return {"hits": stats["hits"], "misses": stats["misses"]}


def evaluate(
    system: SystemLike,
    data: DataLike,
    model: str = "",
    *,
    temperature: float | None = None,
    templates: Sequence[str] | None = None,
    adaptive: AdaptivePolicy | None = None,
    **options: Any,
) -> Evaluation[EvaluationResult]:
    """Accuracy of ``system`` on a split of ``data`` embedded by ``model``, beside the class-name baseline.

    ``data`` is a spec string, a ``datasets.Dataset`` or a :class:`DataOptions` (then
    ``model`` and ``options`` come from it); ``options`` are :class:`DataOptions`' fields
    (``split="test"``, ``seed``, ``fractions``, ``crop``, ``cache_dir``, ``ignore_unknown``, ...).
    ``temperature`` overrides the system's; ``adaptive`` also fits adaptive questioning on
    the train split and runs it on the evaluated one. Images are embedded through the
    embedding cache. Raises :class:`CotclipError` subclasses with the CLI's messages.
    """
    loaded = load_system(system)
    if temperature is not None:
        need(temperature, "temperature", (int, float), "a number > 0")
        if not temperature > 0:
            raise InputError(
                f"--temperature must be a number > 0 (got {temperature}); the seed uses 1.0, CLIP usually 0.01"
            )
    chosen = check_templates(templates)
    if adaptive is not None:
        need(adaptive, "adaptive", AdaptivePolicy, "an AdaptivePolicy").check(loaded.scoring.aggregation)
    settings = _options(data, model, options)
    prepared = settings.prepare(only_classes=loaded.classes)
    images, skipped = _known(prepared, loaded.classes, settings.ignore_unknown)
    result = evaluate_system(loaded, images, temperature=temperature, baseline_templates=chosen, skipped=skipped)
    result = dataclasses.replace(result, cache=_cache_stats(prepared))  # texts are embedded during scoring
    ran = None
    if adaptive is not None:
        ran = _adaptive(loaded, settings.prepare("train", loaded.classes), images, temperature, adaptive)
    title = f"{loaded.name} on {settings.split} ({result.n} images)"
    return Evaluation(result, dict(Counter(images.labels)), title, ran, adaptive)


def _adaptive(
    system: System, train: PreparedImages, images: Any, temperature: float | None, policy: AdaptivePolicy
) -> AdaptiveResult:
    """Fit adaptive questioning on the ``train`` split, then run it on ``images`` under ``policy``."""
    from cotclip.scoring.deploy.adaptive import AdaptiveClassifier

    train_images, _ = drop_unknown_labels(train.images, system.classes)
    classifier = AdaptiveClassifier.fit(system, train_images, temperature=temperature)
    return classifier.run(
        images,
        threshold=policy.threshold,
        budget=policy.budget,
        rank=policy.rank,  # type: ignore[arg-type]  # AdaptivePolicy validated it against the same names
        stop=policy.stop,  # type: ignore[arg-type]
        epsilon=policy.epsilon,
    )


def baseline(
    data: DataLike,
    model: str = "",
    *,
    method: str = "name",
    system: SystemLike | None = None,
    templates: Sequence[str] | None = None,
    waffle_seed: int = 0,
    waffle_count: int = 16,
    **options: Any,
) -> Evaluation[BaselineResult]:
    """Zero-shot accuracy of a baseline on a split: ``name`` (class names), ``descriptors`` or ``waffle``.

    ``descriptors`` describes each class by a ``system``'s rule options (required then);
    ``waffle`` uses ``waffle_count`` random descriptors per class drawn with ``waffle_seed``.
    Without ``system`` the classes are the dataset's labels. ``data``/``model``/``options``
    as for :func:`evaluate`.
    """
    need(method, "method", str, f"one of {', '.join(BASELINE_METHODS)}")
    if method not in BASELINE_METHODS:
        raise InputError(f"--method {method!r} is not a baseline; use one of {', '.join(BASELINE_METHODS)}")
    if method == "descriptors" and system is None:
        raise InputError("--method descriptors describes classes by their rule options; pass --system S")
    chosen = check_templates(templates)
    need(waffle_seed, "waffle_seed", int, "an int")
    need(waffle_count, "waffle_count", int, "an int >= 1")
    loaded = load_system(system) if system is not None else None
    settings = _options(data, model, options)
    prepared = settings.prepare(only_classes=loaded.classes if loaded is not None else None)
    classes = list(loaded.classes) if loaded is not None else prepared.dataset.class_names
    images, skipped = _known(prepared, classes, settings.ignore_unknown)
    summary = evaluate_baseline(
        method, classes, images, system=loaded, templates=chosen, seed=waffle_seed, n_descriptors=waffle_count
    )
    result = BaselineResult(method, summary, cache=_cache_stats(prepared), skipped=skipped)
    title = f"{method} baseline on {settings.split} ({summary.n} images)"
    return Evaluation(result, dict(Counter(images.labels)), title)
