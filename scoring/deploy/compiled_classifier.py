"""The compiled classifier in memory: a system's prompts already embedded, scored with numpy only.

:class:`CompiledClassifier` holds the arrays that :mod:`cotclip.scoring.deploy.compiled` builds
(:func:`~cotclip.scoring.deploy.compiled.compile_system`) and stores as ``.npz`` (its module
docstring lists them); here it scores image embeddings exactly as
:func:`cotclip.scoring.scorer.class_scores` does (a test pins it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from cotclip.scoring.encoders import l2_normalize
from cotclip.scoring.similarity import (
    Embeddings,
    MultiVectors,
    averaged_maxsim,
    maxsim,
    normalize_embeddings,
    similarity_of,
)
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = ["COMPILED_FORMAT", "CompiledClassifier", "AdaptiveArrays"]

COMPILED_FORMAT = "cotclip.compiled/1"
MAXSIM_OFFSETS = ("option_token_offsets", "option_template_starts", "name_token_offsets")
_LOG_FLOOR = 1e-12  # the scorer's floor under log(probability)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class AdaptiveArrays:
    """The answer model for adaptive questioning that a compiled classifier carries (all four, or none)."""

    theta: np.ndarray  # float64 [C, Q]: per-class answer distributions, columns sliced by group_offsets
    sharpness: float  # posterior sharpness beta
    smoothing: float  # the answer model's additive smoothing
    counts: np.ndarray  # float64 [C]: train images per class it was fitted on


@dataclass(frozen=True, eq=False)
class CompiledClassifier:
    """A system whose prompts are already embedded; scores image embeddings with numpy only."""

    encoder_identity: str
    encoder_spec: str
    class_names: list[str]
    group_names: list[str]
    group_offsets: np.ndarray
    option_texts: list[str]
    option_embeddings: np.ndarray
    rules: np.ndarray
    group_weights: np.ndarray
    temperature: float
    aggregation: str
    name_prior_weight: float
    name_embeddings: np.ndarray
    system_json: str
    adaptive_theta: np.ndarray | None = None
    adaptive_sharpness: float | None = None
    adaptive_smoothing: float | None = None
    adaptive_counts: np.ndarray | None = None
    similarity: str = "cosine"
    option_token_offsets: np.ndarray | None = None
    option_template_starts: np.ndarray | None = None
    name_token_offsets: np.ndarray | None = None

    def __post_init__(self) -> None:
        given = [value is not None for value in self._adaptive_fields()]
        if any(given) and not all(given):
            raise ValueError("adaptive_theta, _sharpness, _smoothing and _counts go together: pass all four or none")

    def _adaptive_fields(self) -> tuple[Any, ...]:
        return self.adaptive_theta, self.adaptive_sharpness, self.adaptive_smoothing, self.adaptive_counts

    @property
    def n_options(self) -> int:
        """Number of options over all groups."""
        return len(self.option_texts)

    @property
    def has_adaptive(self) -> bool:
        """Whether an answer model for adaptive questioning is included."""
        return self.adaptive is not None

    @property
    def adaptive(self) -> AdaptiveArrays | None:
        """The answer model for adaptive questioning, or None when the classifier carries none."""
        theta, sharpness, smoothing, counts = self._adaptive_fields()
        if theta is None or sharpness is None or smoothing is None or counts is None:
            return None
        return AdaptiveArrays(theta, sharpness, smoothing, counts)

    @property
    def maxsim_offsets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(option_token_offsets, option_template_starts, name_token_offsets)`` of a MaxSim classifier."""
        texts, templates, names = self.option_token_offsets, self.option_template_starts, self.name_token_offsets
        if texts is None or templates is None or names is None:
            raise InputError(
                f"this {self.similarity} classifier has no token offsets; compile it with a maxsim encoder to score "
                "multi-vector images"
            )
        return texts, templates, names

    @property
    def system(self) -> System:
        """The system this classifier was compiled from."""
        return System.from_data(json.loads(self.system_json))

    @property
    def dim(self) -> int:
        """Embedding width the image encoder must produce."""
        return int(self.option_embeddings.shape[1])

    def group_slice(self, group_index: int) -> slice:
        """The columns of ``option_embeddings`` that belong to one group."""
        return slice(int(self.group_offsets[group_index]), int(self.group_offsets[group_index + 1]))

    def _checked(self, image_embeddings: Embeddings) -> Embeddings:
        if self.similarity == "maxsim" or isinstance(image_embeddings, MultiVectors):
            if (
                not isinstance(image_embeddings, MultiVectors)
                or self.similarity != "maxsim"
                or image_embeddings.dim != self.dim
            ):
                raise InputError(
                    f"this classifier needs {self.similarity} image embeddings of width {self.dim}, got "
                    f"{similarity_of(image_embeddings)} "
                    f"ones of shape {image_embeddings.shape}; embed the images with the encoder (and --similarity) it "
                    "was compiled for"
                )
            return normalize_embeddings(image_embeddings)
        image_embeddings = np.asarray(image_embeddings, dtype=np.float32)
        if image_embeddings.ndim != 2 or image_embeddings.shape[1] != self.dim:
            raise InputError(
                f"image embeddings have shape {image_embeddings.shape} but this classifier needs [N, {self.dim}]; "
                "embed the images with the encoder it was compiled for"
            )
        return l2_normalize(image_embeddings)  # as ImageSet does on entry

    def _option_probabilities(self, images: Embeddings, temperature: float | None) -> np.ndarray:
        """``[Q, N]`` per-group softmax, option-major (rows contiguous, as the scorer lays it out).

        ``images`` come from :meth:`_checked`: multi-vectors exactly when the classifier is MaxSim.
        """
        temp = self.temperature if temperature is None else temperature
        if isinstance(images, MultiVectors):
            texts, templates, _ = self.maxsim_offsets
            logits = averaged_maxsim(self.option_embeddings, texts, templates, images)
        else:
            logits = self.option_embeddings @ images.T
        logits *= np.float32(1.0 / temp)
        starts = self.group_offsets[:-1]
        group_of = np.repeat(np.arange(len(starts)), np.diff(self.group_offsets))
        logits -= np.take(np.maximum.reduceat(logits, starts, axis=0), group_of, axis=0)
        np.exp(logits, out=logits)
        logits /= np.take(np.add.reduceat(logits, starts, axis=0), group_of, axis=0)
        return logits

    def group_probabilities(self, image_embeddings: Embeddings, temperature: float | None = None) -> list[np.ndarray]:
        """One ``[N, k_g]`` softmax over each group's option cosines divided by the temperature."""
        probabilities = self._option_probabilities(self._checked(image_embeddings), temperature).T
        return [probabilities[:, self.group_slice(g)] for g in range(len(self.group_names))]

    @cached_property
    def rule_matrix(self) -> np.ndarray:
        """``[Q, C]``: the group weight where class ``c``'s rule picks option ``q``, else 0."""
        matrix = np.zeros((self.n_options, len(self.class_names)), dtype=np.float32)
        classes, groups = np.nonzero(self.rules >= 0)
        matrix[self.group_offsets[groups] + self.rules[classes, groups], classes] = self.group_weights[groups]
        return matrix

    def class_scores(self, image_embeddings: Embeddings, temperature: float | None = None) -> np.ndarray:
        """``[N, C]`` class scores of L2-normalised image embeddings (see the scorer's formula)."""
        images = self._checked(image_embeddings)
        probabilities = self._option_probabilities(images, temperature)
        if self.aggregation == "log_prob_sum":
            np.log(np.maximum(probabilities, _LOG_FLOOR, out=probabilities), out=probabilities)
        scores = probabilities.T @ self.rule_matrix
        if self.name_prior_weight > 0:
            temp = self.temperature if temperature is None else temperature
            if isinstance(images, MultiVectors):
                names = maxsim(MultiVectors(self.name_embeddings, self.maxsim_offsets[2]), images).T
            else:
                names = images @ self.name_embeddings.T
            prior = _softmax(names * np.float32(1.0 / temp))
            if self.aggregation == "log_prob_sum":
                prior = np.log(np.maximum(prior, _LOG_FLOOR))
            scores += np.float32(self.name_prior_weight) * prior
        return scores

    def predict_indices(self, image_embeddings: Embeddings, temperature: float | None = None) -> np.ndarray:
        """Index of the best class per image (ties resolve to the first class in system order)."""
        return np.argmax(self.class_scores(image_embeddings, temperature), axis=1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to the ``.npz`` file (see the module docstring)."""
        return {
            "format": np.array(COMPILED_FORMAT),
            "encoder_identity": np.array(self.encoder_identity),
            "encoder_spec": np.array(self.encoder_spec),
            "class_names": np.array(self.class_names, dtype=str),
            "group_names": np.array(self.group_names, dtype=str),
            "group_offsets": np.asarray(self.group_offsets, dtype=np.int64),
            "option_texts": np.array(self.option_texts, dtype=str),
            "option_embeddings": np.asarray(self.option_embeddings, dtype=np.float32),
            "rules": np.asarray(self.rules, dtype=np.int64),
            "group_weights": np.asarray(self.group_weights, dtype=np.float32),
            "temperature": np.array(self.temperature, dtype=np.float64),
            "aggregation": np.array(self.aggregation),
            "name_prior_weight": np.array(self.name_prior_weight, dtype=np.float64),
            "name_embeddings": np.asarray(self.name_embeddings, dtype=np.float32),
            "system_json": np.array(self.system_json),
            "similarity": np.array(self.similarity),
            **self._adaptive_arrays(),
            **{k: np.asarray(getattr(self, k), dtype=np.int64) for k in MAXSIM_OFFSETS if getattr(self, k) is not None},
        }

    def _adaptive_arrays(self) -> dict[str, np.ndarray]:
        fit = self.adaptive
        if fit is None:
            return {}
        return {
            "adaptive_theta": np.asarray(fit.theta, dtype=np.float64),
            "adaptive_sharpness": np.array(fit.sharpness, dtype=np.float64),
            "adaptive_smoothing": np.array(fit.smoothing, dtype=np.float64),
            "adaptive_counts": np.asarray(fit.counts, dtype=np.float64),
        }

    def to_dict(self) -> dict[str, Any]:
        """Summary of the classifier (no arrays): identity, sizes and scoring knobs."""
        return {
            "format": COMPILED_FORMAT,
            "encoder_identity": self.encoder_identity,
            "encoder_spec": self.encoder_spec,
            "classes": list(self.class_names),
            "groups": list(self.group_names),
            "n_options": self.n_options,
            "similarity": self.similarity,
            "dim": self.dim,
            "temperature": self.temperature,
            "aggregation": self.aggregation,
            "name_prior_weight": self.name_prior_weight,
            "adaptive": self.has_adaptive,
        }
