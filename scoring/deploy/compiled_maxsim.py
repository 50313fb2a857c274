"""The multi-vector (``maxsim``) half of a compiled classifier: packing, reading, checking.

See :mod:`cotclip.scoring.deploy.compiled` for the array layout. Every template text of every
option is embedded once as a token matrix; the matrices are stacked in option order with
``option_token_offsets`` (text boundaries) and ``option_template_starts`` (option
boundaries over the texts), the class-name prompts likewise with ``name_token_offsets``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cotclip.scoring.deploy.compiled_classifier import MAXSIM_OFFSETS, CompiledClassifier
from cotclip.scoring.encoders import Encoder
from cotclip.scoring.similarity import MultiVectors, normalize_embeddings
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = ["maxsim_prompts", "read_maxsim", "maxsim_problems"]


def _encode(encoder: Encoder, texts: list[str]) -> MultiVectors:
    encoded = normalize_embeddings(encoder.encode_texts(texts))
    if not isinstance(encoded, MultiVectors):
        raise InputError(
            f"encoder {encoder.identity} says maxsim but returned single vectors; reload it with --similarity maxsim"
        )
    return encoded


def maxsim_prompts(system: System, encoder: Encoder) -> dict[str, Any]:
    """The prompt arrays of ``system`` under MaxSim, keyed by :class:`CompiledClassifier` field."""
    texts_per_option = [group.option_texts(i) for group in system.groups for i in range(len(group.options))]
    flat = [text for texts in texts_per_option for text in texts]
    options = _encode(encoder, flat)
    starts = np.concatenate([[0], np.cumsum([len(texts) for texts in texts_per_option])]).astype(np.int64)
    fields: dict[str, Any] = {
        "similarity": "maxsim",
        "option_embeddings": options.vectors,
        "option_token_offsets": options.offsets,
        "option_template_starts": starts,
    }
    scoring = system.scoring
    if scoring.name_prior_weight > 0:
        names = _encode(encoder, [scoring.name_template.replace("{}", c, 1) for c in system.classes])
        fields["name_embeddings"], fields["name_token_offsets"] = names.vectors, names.offsets
    else:
        fields["name_embeddings"], fields["name_token_offsets"] = (
            np.zeros((0, options.dim), np.float32),
            np.zeros(1, np.int64),
        )
    return fields


def read_maxsim(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    """``similarity`` and, under MaxSim, the offset arrays of a loaded ``.npz`` (InputError when incomplete)."""
    similarity = str(arrays["similarity"]) if "similarity" in arrays else "cosine"  # written before MaxSim existed
    if similarity == "cosine":
        return {}
    if similarity != "maxsim":
        raise InputError(f"{path} needs similarity {similarity!r}, which this cotclip does not know; re-export it")
    missing = [k for k in MAXSIM_OFFSETS if k not in arrays]
    if missing:
        raise InputError(f"{path} is a maxsim classifier without {', '.join(missing)}; re-export it")
    return {"similarity": similarity, **{k: arrays[k].astype(np.int64) for k in MAXSIM_OFFSETS}}


def _valid_offsets(offsets: np.ndarray, total: int) -> bool:
    return (
        offsets.ndim == 1
        and len(offsets) >= 1
        and offsets[0] == 0
        and offsets[-1] == total
        and bool(np.all(np.diff(offsets) > 0))
    )


def maxsim_problems(compiled: CompiledClassifier) -> list[str]:
    """What is inconsistent in the MaxSim arrays of ``compiled`` (empty when nothing)."""
    problems = []
    tokens, (texts, templates, name_offsets) = compiled.option_embeddings, compiled.maxsim_offsets
    if tokens.ndim != 2 or not _valid_offsets(texts, tokens.shape[0]):
        problems.append("option_token_offsets do not cut option_embeddings into texts")
    elif not _valid_offsets(templates, len(texts) - 1) or len(templates) != compiled.n_options + 1:
        problems.append("option_template_starts do not group the texts into the options")
    names = compiled.name_embeddings
    if compiled.name_prior_weight > 0 and (
        names.ndim != 2
        or names.shape[1:] != tokens.shape[1:]
        or not _valid_offsets(name_offsets, names.shape[0])
        or len(name_offsets) != len(compiled.class_names) + 1
    ):
        problems.append("name_embeddings/name_token_offsets do not match the classes")
    return problems
