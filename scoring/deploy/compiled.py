"""The compiled classifier: a system with its text side precomputed, stored as ``.npz``.

A compiled classifier needs only the *image* encoder at inference: every prompt
(options under all their templates, and the class-name prompts when the name prior
is on) is embedded once at compile time. The file is a plain ``numpy.savez`` archive
of numeric and unicode arrays, read back with ``np.load(..., allow_pickle=False)``,
so an untrusted file is parsed, never executed.

Arrays (``Q`` = total options, ``G`` groups, ``C`` classes, ``d`` embedding width):

=====================  ==================  ==============================================
``format``             str                 :data:`COMPILED_FORMAT`
``encoder_identity``   str                 the encoder the text side was embedded with
``encoder_spec``       str                 how to load that encoder again ("" if unknown)
``class_names``        str ``[C]``         system order (ties resolve to the first)
``group_names``        str ``[G]``
``group_offsets``      int64 ``[G+1]``     group ``g`` owns options ``offsets[g]:offsets[g+1]``
``option_texts``       str ``[Q]``         the option wordings (for explanations)
``option_embeddings``  float32 ``[Q,d]``   normalised mean of the option's template embeddings
``rules``              int64 ``[C,G]``     option index within the group, ``-1`` = no rule
``group_weights``      float32 ``[G]``
``temperature``        float64 scalar      softmax temperature on cosines
``aggregation``        str                 ``prob_sum`` or ``log_prob_sum``
``name_prior_weight``  float64 scalar
``name_embeddings``    float32 ``[C,d]``   class-name prompts (``[0,d]`` when the weight is 0)
``system_json``        str                 the canonical system the file was built from
``adaptive_theta``     float64 ``[C,Q]``   optional: per-class answer distributions of each
                                           group (columns sliced by ``group_offsets``)
``adaptive_sharpness`` float64 scalar      optional: posterior sharpness ``beta``
``adaptive_smoothing`` float64 scalar      optional: smoothing the answer model used
``adaptive_counts``    float64 ``[C]``     optional: train images per class it was fitted on
``similarity``         str                 ``cosine`` or ``maxsim`` (files without it: cosine)
=====================  ==================  ==============================================

Under ``maxsim`` (a multi-vector encoder, :mod:`cotclip.scoring.similarity`) there is no
mean prompt vector: ``option_embeddings`` stacks the token vectors of every template text
of every option (``[tokens, d]``), ``option_token_offsets [T+1]`` cuts them into texts,
``option_template_starts [Q+1]`` groups the texts into options (an option scores the mean
MaxSim of its templates), and ``name_embeddings``/``name_token_offsets [C+1]`` do the same
for the class-name prompts. Images must then be multi-vectors of the same encoder.

The ``adaptive_*`` arrays (all or none) hold the answer model of
:mod:`cotclip.scoring.deploy.adaptive`, fitted on labelled train images, so that the classifier
can question images adaptively; files without them still classify with every group.

This module builds (:func:`compile_system`), writes and reads the file; the classifier itself
and its scoring live in :mod:`cotclip.scoring.deploy.compiled_classifier`, whose names are
re-exported here. Scores follow :func:`cotclip.scoring.scorer.class_scores` exactly (a test pins it).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cotclip.scoring.deploy.compiled_classifier import COMPILED_FORMAT, AdaptiveArrays, CompiledClassifier
from cotclip.scoring.deploy.compiled_maxsim import maxsim_problems, maxsim_prompts, read_maxsim
from cotclip.scoring.encoders import Encoder, l2_normalize
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = [
    "COMPILED_FORMAT",
    "AdaptiveArrays",
    "CompiledClassifier",
    "compile_system",
    "write_compiled",
    "read_compiled",
]


def _option_embeddings(system: System, encoder: Encoder) -> tuple[np.ndarray, list[str]]:
    texts = system.prompt_texts()
    table = dict(zip(texts, l2_normalize(encoder.encode_texts(texts))))
    rows, wordings = [], []
    for group in system.groups:
        for index, option in enumerate(group.options):
            rows.append(np.mean([table[text] for text in group.option_texts(index)], axis=0))
            wordings.append(option)
    return l2_normalize(np.stack(rows)), wordings


def compile_system(system: System, encoder: Encoder, encoder_spec: str = "") -> CompiledClassifier:
    """Embed every prompt of ``system`` with ``encoder`` and pack it for inference."""
    maxsim_fields = maxsim_prompts(system, encoder) if getattr(encoder, "similarity", "cosine") == "maxsim" else {}
    option_embeddings, option_texts = (
        maxsim_fields.pop("option_embeddings", None),
        [o for g in system.groups for o in g.options],
    )
    if option_embeddings is None:
        option_embeddings, option_texts = _option_embeddings(system, encoder)
    sizes = [len(g.options) for g in system.groups]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rules = np.array(
        [
            [-1 if system.rule(c, g.name) is None else system.rule(c, g.name) for g in system.groups]
            for c in system.classes
        ],
        dtype=np.int64,
    ).reshape(len(system.classes), len(system.groups))
    scoring = system.scoring
    if "name_embeddings" in maxsim_fields:
        name_embeddings = maxsim_fields.pop("name_embeddings")
    elif scoring.name_prior_weight > 0:
        names = [scoring.name_template.replace("{}", c, 1) for c in system.classes]
        name_embeddings = l2_normalize(encoder.encode_texts(names))
    else:
        name_embeddings = np.zeros((0, option_embeddings.shape[1]), dtype=np.float32)
    return CompiledClassifier(
        encoder_identity=encoder.identity,
        encoder_spec=encoder_spec,
        class_names=list(system.classes),
        group_names=system.group_names,
        group_offsets=offsets,
        option_texts=option_texts,
        option_embeddings=option_embeddings,
        rules=rules,
        group_weights=np.array([g.weight for g in system.groups], dtype=np.float32),
        temperature=float(scoring.temperature),
        aggregation=scoring.aggregation,
        name_prior_weight=float(scoring.name_prior_weight),
        name_embeddings=name_embeddings,
        system_json=system.to_json(),
        **maxsim_fields,
    )


def write_compiled(compiled: CompiledClassifier, path: str | Path) -> Path:
    """Write ``compiled`` to ``path`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, allow_pickle=False, **compiled.to_arrays())
    partial.replace(path)
    return path


_STRINGS = ("encoder_identity", "encoder_spec", "aggregation", "system_json")
_ARRAYS = ("group_offsets", "option_embeddings", "rules", "group_weights", "name_embeddings")


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError(f"compiled classifier {path} does not exist; build one with `cotclip export ... --format npz`")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{path} is not a readable .npz compiled classifier ({exc}); re-export it") from None


def read_compiled(path: str | Path) -> CompiledClassifier:
    """Parse a compiled classifier file (never unpickles); raises InputError if malformed."""
    path = Path(path)
    arrays = _load_arrays(path)
    found = str(arrays["format"]) if "format" in arrays else "none"
    if found != COMPILED_FORMAT:
        raise InputError(f"{path} has format {found!r}, expected {COMPILED_FORMAT!r}; re-export it with this cotclip")
    missing = [
        k
        for k in (*_STRINGS, *_ARRAYS, "class_names", "group_names", "option_texts", "temperature", "name_prior_weight")
        if k not in arrays
    ]
    if missing:
        raise InputError(f"{path} lacks array(s) {', '.join(missing)}; re-export it with `cotclip export --format npz`")
    _check_kinds(arrays, path)
    compiled = CompiledClassifier(
        encoder_identity=str(arrays["encoder_identity"]),
        encoder_spec=str(arrays["encoder_spec"]),
        aggregation=str(arrays["aggregation"]),
        system_json=str(arrays["system_json"]),
        group_offsets=arrays["group_offsets"],
        option_embeddings=arrays["option_embeddings"],
        rules=arrays["rules"],
        group_weights=arrays["group_weights"],
        name_embeddings=arrays["name_embeddings"],
        class_names=[str(c) for c in arrays["class_names"]],
        group_names=[str(g) for g in arrays["group_names"]],
        option_texts=[str(o) for o in arrays["option_texts"]],
        temperature=float(arrays["temperature"]),
        name_prior_weight=float(arrays["name_prior_weight"]),
        **_read_adaptive(arrays, path),
        **read_maxsim(arrays, path),
    )
    _check_shapes(compiled, path)
    return compiled


_ADAPTIVE = ("adaptive_theta", "adaptive_sharpness", "adaptive_smoothing", "adaptive_counts")
_NUMBERS = ("temperature", "name_prior_weight", "adaptive_sharpness", "adaptive_smoothing")
_NAMES = ("class_names", "group_names", "option_texts")


def _check_kinds(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Numbers are numeric scalars, name lists are 1-D and the other arrays numeric (else InputError)."""
    wrong = [k for k in _NUMBERS if k in arrays and (arrays[k].shape != () or arrays[k].dtype.kind not in "iuf")]
    wrong += [k for k in _NAMES if arrays[k].ndim != 1]
    wrong += [
        k for k in (*_ARRAYS, "adaptive_theta", "adaptive_counts") if k in arrays and arrays[k].dtype.kind not in "iuf"
    ]
    if wrong:
        raise InputError(
            f"{path} has array(s) of the wrong kind ({', '.join(wrong)}); "
            "re-export it with `cotclip export --format npz`"
        )


def _read_adaptive(arrays: dict[str, np.ndarray], path: Path) -> dict[str, Any]:
    present = [k for k in _ADAPTIVE if k in arrays]
    if not present:
        return {}
    if len(present) != len(_ADAPTIVE):
        missing = ", ".join(k for k in _ADAPTIVE if k not in arrays)
        raise InputError(f"{path} has a partial adaptive model (missing {missing}); re-export it")
    return {
        "adaptive_theta": arrays["adaptive_theta"],
        "adaptive_sharpness": float(arrays["adaptive_sharpness"]),
        "adaptive_smoothing": float(arrays["adaptive_smoothing"]),
        "adaptive_counts": arrays["adaptive_counts"],
    }


def _check_shapes(compiled: CompiledClassifier, path: Path) -> None:
    n_options, n_classes, n_groups = compiled.n_options, len(compiled.class_names), len(compiled.group_names)
    problems = []
    if compiled.similarity == "maxsim":
        problems.extend(maxsim_problems(compiled))
    elif compiled.option_embeddings.ndim != 2 or compiled.option_embeddings.shape[0] != n_options:
        problems.append("option_embeddings/option_texts disagree")
    offsets_cover = compiled.group_offsets.shape == (n_groups + 1,) and int(compiled.group_offsets[-1]) == n_options
    if not offsets_cover:
        problems.append("group_offsets do not cover the options")
    if compiled.rules.shape != (n_classes, n_groups) or compiled.group_weights.shape != (n_groups,):
        problems.append("rules/group_weights have the wrong shape")
    elif offsets_cover and (
        np.any(compiled.rules >= np.diff(compiled.group_offsets)[None, :]) or np.any(compiled.rules < -1)
    ):
        problems.append("a rule index is out of range")
    if (
        compiled.similarity == "cosine"
        and compiled.name_prior_weight > 0
        and compiled.name_embeddings.shape != (n_classes, *compiled.option_embeddings.shape[1:])
    ):
        problems.append("name_embeddings do not match the classes")
    if compiled.aggregation not in ("prob_sum", "log_prob_sum") or not compiled.temperature > 0:
        problems.append("aggregation/temperature invalid")
    fit = compiled.adaptive
    if fit is not None and (
        fit.theta.shape != (n_classes, n_options) or fit.counts.shape != (n_classes,) or not fit.sharpness > 0
    ):
        problems.append("the adaptive model does not match the classes/options")
    if problems:
        raise InputError(
            f"{path} is inconsistent ({'; '.join(problems)}); re-export it with `cotclip export --format npz`"
        )
