"""``Classifier``: use a classification system on new images.

Load a compiled ``.npz`` (:mod:`cotclip.scoring.deploy.compiled`) or compile a
:class:`~cotclip.systems.model.System` on the fly, then ``predict`` labels,
``predict_proba`` class probabilities or ``explain`` one image::

    clf = Classifier.load("pokemon.npz", encoder="hf:./my-clip")
    clf.predict(["a.png", "b.jpg"])            # -> ["Absol", "Dratini"]

``images`` may be image file paths, :class:`~cotclip.scoring.encoders._base.ImageRef` s,
or an ``[N, d]`` array of L2-normalised image embeddings from the same encoder.

Adaptive mode (:mod:`cotclip.scoring.deploy.adaptive`): ``clf.fit_adaptive(train_images, labels)``
(or an ``.npz`` exported from a run dir, which carries the model fitted on the run's
train split) then ``clf.predict_adaptive(images, threshold=0.9, budget=None)`` asks the
most informative groups first and stops once the class is clear (``stop="margin"``: once
the unasked groups cannot change :meth:`Classifier.predict`'s label; ``stop="flip"``: once
that is unlikely, below ``epsilon``).

``predict_proba`` is a softmax over the class scores. With ``log_prob_sum`` the scores
are log-likelihoods under independent group answers, so this is the naive-Bayes
posterior with a uniform class prior; with ``prob_sum`` (the seed's sum of matched
probabilities, in ``[0, sum of weights]``) it is a monotone normalisation. Either way
its argmax is ``predict``'s label (ties -> the first class in system order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cotclip.scoring.data.local import check_crop, file_ref
from cotclip.scoring.deploy.compiled import CompiledClassifier, compile_system, read_compiled
from cotclip.scoring.encoders import Encoder, ImageRef
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.similarity import Embeddings, MultiVectors
from cotclip.systems.errors import DataError, EncoderError, InputError
from cotclip.systems.model import System

if TYPE_CHECKING:
    from cotclip.scoring.deploy.adaptive import AdaptiveResult

__all__ = ["Classifier", "GroupAnswer", "ClassVote", "Explanation", "image_refs_from_paths"]

Images = Sequence[str | Path | ImageRef] | np.ndarray | MultiVectors
Crop = tuple[float, float, float, float]
_NO_ANSWER_MODEL = (
    "this classifier has no adaptive answer model; call .fit_adaptive(train_images, labels) "
    "or export the npz from a run dir, which fits it on the run's train split"
)


@dataclass(frozen=True)
class GroupAnswer:
    """The encoder's answer to one group's question for one image."""

    group: str
    option: str
    option_index: int
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "group": self.group,
            "option": self.option,
            "option_index": self.option_index,
            "probabilities": dict(self.probabilities),
        }


@dataclass(frozen=True)
class ClassVote:
    """One top class: its score, probability and the rules that contributed."""

    class_name: str
    score: float
    probability: float
    agreeing_groups: list[str]
    votes: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``votes``: group -> probability of the class's rule option)."""
        return {
            "class": self.class_name,
            "score": self.score,
            "probability": self.probability,
            "agreeing_groups": list(self.agreeing_groups),
            "votes": dict(self.votes),
        }


@dataclass(frozen=True)
class Explanation:
    """Why one image got its label: per-group answers and the top classes' votes."""

    label: str
    answers: list[GroupAnswer]
    top_classes: list[ClassVote]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "label": self.label,
            "answers": [a.to_dict() for a in self.answers],
            "top_classes": [v.to_dict() for v in self.top_classes],
        }


def image_refs_from_paths(paths: Sequence[str | Path], crop: Crop | None = None) -> list[ImageRef]:
    """Content-addressed refs for image files, cropped (fractions left, top, right, bottom) if asked."""
    box = check_crop(crop)
    return [file_ref(Path(p), box) for p in paths]


class Classifier:
    """A compiled system plus the image encoder it was compiled for."""

    def __init__(self, compiled: CompiledClassifier, encoder: Encoder | None = None) -> None:
        if encoder is not None and encoder.identity != compiled.encoder_identity:
            raise EncoderError(
                f"this classifier was compiled for encoder {compiled.encoder_identity!r} but got {encoder.identity!r}; "
                "use the same --model or re-export the system with `cotclip export --format npz --model ...`"
            )
        self.compiled = compiled
        self.encoder = encoder

    @classmethod
    def load(
        cls,
        source: str | Path | System,
        encoder: Encoder | str | None = None,
        encoder_settings: EncoderSettings | None = None,
    ) -> Classifier:
        """From a compiled ``.npz`` path or a :class:`System` (then ``encoder`` is required).

        ``encoder`` may be an :class:`Encoder` or a model spec string; for an ``.npz``
        it defaults to the spec stored in the file. ``encoder_settings`` (options,
        similarity, remote-code trust) apply when a spec string is loaded; for an ``.npz``
        the similarity is the file's. A mismatching encoder identity raises :class:`EncoderError`.
        """
        spec = encoder if isinstance(encoder, str) else ""
        if isinstance(source, System):
            if encoder is None:
                raise InputError("compiling a system needs an encoder; pass encoder=<Encoder or model spec>")
            encoder_obj = _resolve_encoder(encoder, encoder_settings)
            return cls(compile_system(source, encoder_obj, encoder_spec=spec), encoder_obj)
        compiled = read_compiled(source)
        if encoder is None and compiled.encoder_spec:
            encoder = compiled.encoder_spec
        if encoder_settings is not None and encoder_settings.similarity not in ("cosine", compiled.similarity):
            raise InputError(
                f"{source} was compiled for {compiled.similarity} similarity; drop --similarity "
                f"{encoder_settings.similarity}"
            )
        settings = replace(encoder_settings or EncoderSettings(), similarity=compiled.similarity)
        return cls(compiled, _resolve_encoder(encoder, settings) if encoder is not None else None)

    @property
    def classes(self) -> list[str]:
        """Class names in system order."""
        return list(self.compiled.class_names)

    @cached_property
    def system(self) -> System:
        """The system this classifier scores."""
        return self.compiled.system

    def embed(self, images: Images) -> tuple[Embeddings, list[int], list[tuple[int, str]]]:
        """Image embeddings ``[n_ok, d]`` (multi-vectors under MaxSim), the positions embedded, and
        ``(position, reason)`` failures."""
        if isinstance(images, MultiVectors):
            return images, list(range(len(images))), []
        if isinstance(images, np.ndarray):
            return np.asarray(images, dtype=np.float32), list(range(len(images))), []
        if self.encoder is None:
            raise InputError("this classifier has no image encoder; pass encoder=... to Classifier.load")
        refs = [img if isinstance(img, ImageRef) else file_ref(Path(img), None) for img in images]
        encoding = self.encoder.encode_images(refs)
        return encoding.embeddings, list(encoding.ok_positions), list(encoding.failures)

    def _embed_all(self, images: Images) -> Embeddings:
        embeddings, _, failures = self.embed(images)
        if failures:
            names = [_source(images[p]) for p, _ in failures]
            raise DataError(
                f"{len(failures)} image(s) could not be read, first: {names[0]} ({failures[0][1]}); remove or fix them"
            )
        return embeddings

    def class_scores(self, images: Images, temperature: float | None = None) -> np.ndarray:
        """Raw ``[N, C]`` class scores (the scorer's formula)."""
        return self.compiled.class_scores(self._embed_all(images), temperature)

    def predict(self, images: Images) -> list[str]:
        """The best class per image."""
        scores = self.class_scores(images)
        return [self.compiled.class_names[i] for i in np.argmax(scores, axis=1)]

    def predict_proba(self, images: Images) -> np.ndarray:
        """``[N, C]`` softmax of the class scores (see the module docstring)."""
        return _softmax_rows(self.class_scores(images))

    def fit_adaptive(self, images: Images, labels: Sequence[str], *, smoothing: float = 0.5) -> Classifier:
        """A copy that can question adaptively, its answer model fitted on labelled (train) images.

        See :mod:`cotclip.scoring.deploy.adaptive` for the model; ``smoothing`` is its additive
        smoothing. Fit on train images only, never on the images you evaluate on.
        """
        from cotclip.scoring.deploy.adaptive import answer_model_from_probabilities, fit_sharpness

        embeddings = self._embed_all(images)
        if len(labels) != len(embeddings):
            raise InputError(f"got {len(labels)} labels for {len(embeddings)} images; pass one label per image")
        position = {name: i for i, name in enumerate(self.compiled.class_names)}
        unknown = sorted({label for label in labels if label not in position})
        if unknown:
            raise DataError(f"labels {unknown[:3]} are not classes of this classifier; drop those images")
        truth = np.array([position[label] for label in labels], dtype=np.int64)
        compiled = self.compiled
        model = answer_model_from_probabilities(
            compiled.group_probabilities(embeddings), truth, compiled.class_names, compiled.group_names, smoothing
        )
        fitted = replace(
            compiled,
            adaptive_theta=np.concatenate(model.theta, axis=1),
            adaptive_sharpness=fit_sharpness(compiled.class_scores(embeddings), truth),
            adaptive_smoothing=float(smoothing),
            adaptive_counts=model.class_counts,
        )
        return Classifier(fitted, self.encoder)

    def adaptive_refusal(self, stop: str | None = None) -> str | None:
        """Why :meth:`predict_adaptive` cannot run with ``stop`` (one line with the fix), or None.

        Callers can ask before embedding any image.
        """
        if not self.compiled.has_adaptive:
            return _NO_ANSWER_MODEL
        if stop == "accuracy":
            return (
                "stop='accuracy' resamples train images' answers, which a compiled classifier does not keep; "
                "use AdaptiveClassifier.fit(system, train) or stop='flip'"
            )
        return None

    def predict_adaptive(
        self,
        images: Images,
        *,
        threshold: float | None = 0.9,
        budget: int | None = None,
        rank: str | None = None,
        stop: str | None = None,
        epsilon: float | None = None,
    ) -> AdaptiveResult:
        """Ask groups one image at a time, most informative first, until the stopping rule or ``budget`` prompts.

        Returns :class:`~cotclip.scoring.deploy.adaptive.AdaptiveResult` (``.labels``, ``.prompts`` per
        image, ``.asked`` groups). With ``threshold=None`` and no budget every group is asked
        and the labels equal :meth:`predict`'s. ``rank`` (``gain``, ``gain_per_prompt`` or
        ``margin_per_prompt``), ``stop`` (``posterior`` uses ``threshold``; ``margin`` gives
        :meth:`predict`'s labels; ``flip`` uses ``epsilon``, ``prob_sum`` only; ``accuracy`` is
        refused: it resamples train answers that a compiled classifier does not keep, use
        ``AdaptiveClassifier``) and ``epsilon`` default to the adaptive module's defaults (see
        ``AdaptiveClassifier.run``).
        """
        from cotclip.scoring.deploy.adaptive import AdaptiveClassifier, AnswerModel
        from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy

        compiled = self.compiled
        refusal, fit = self.adaptive_refusal(stop), compiled.adaptive
        if refusal or fit is None:
            raise InputError(refusal or _NO_ANSWER_MODEL)
        embeddings = self._embed_all(images)
        thetas = tuple(fit.theta[:, compiled.group_slice(g)] for g in range(len(compiled.group_names)))
        model = AnswerModel(tuple(compiled.class_names), tuple(compiled.group_names), thetas, fit.smoothing, fit.counts)
        adaptive = AdaptiveClassifier(self.system, model, fit.sharpness)
        scores = compiled.class_scores(embeddings)
        defaults = AdaptivePolicy()
        policy = AdaptivePolicy(
            threshold,
            budget,
            defaults.rank if rank is None else rank,
            defaults.stop if stop is None else stop,
            defaults.epsilon if epsilon is None else epsilon,
        )
        return adaptive.run_policy(compiled.group_probabilities(embeddings), scores, policy, np.argmax(scores, axis=1))

    def explain(self, image: str | Path | ImageRef | np.ndarray, top_k: int = 3) -> Explanation:
        """Per-group answers for one image and, for the ``top_k`` classes, which rules voted."""
        batch = np.asarray(image, dtype=np.float32).reshape(1, -1) if isinstance(image, np.ndarray) else [image]
        embedding = self._embed_all(batch)
        compiled = self.compiled
        probabilities = [p[0] for p in compiled.group_probabilities(embedding)]
        answers = []
        for g, name in enumerate(compiled.group_names):
            texts = compiled.option_texts[compiled.group_slice(g)]
            best = int(np.argmax(probabilities[g]))
            answers.append(GroupAnswer(name, texts[best], best, {t: float(p) for t, p in zip(texts, probabilities[g])}))
        scores = compiled.class_scores(embedding)[0]
        proba = _softmax_rows(scores[None, :])[0]
        order = sorted(range(len(scores)), key=lambda c: (-scores[c], c))[:top_k]
        return Explanation(
            label=compiled.class_names[order[0]],
            answers=answers,
            top_classes=[self._votes(c, float(scores[c]), float(proba[c]), answers, probabilities) for c in order],
        )

    def _votes(
        self, c: int, score: float, probability: float, answers: list[GroupAnswer], probabilities: list[np.ndarray]
    ) -> ClassVote:
        votes, agreeing = {}, []
        for g, name in enumerate(self.compiled.group_names):
            rule = int(self.compiled.rules[c, g])
            if rule < 0:
                continue
            votes[name] = float(probabilities[g][rule])
            if answers[g].option_index == rule:
                agreeing.append(name)
        return ClassVote(self.compiled.class_names[c], score, probability, agreeing, votes)


def _source(image: object) -> str:
    """How a message names an image the encoder could not read."""
    return image.source if isinstance(image, ImageRef) else str(image)


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _resolve_encoder(encoder: Encoder | str, settings: EncoderSettings | None = None) -> Encoder:
    if isinstance(encoder, str):
        from cotclip.scoring.registry import load_encoder

        return load_encoder(encoder, **(settings or EncoderSettings()).loader_kwargs())
    return encoder
