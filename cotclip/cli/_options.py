"""Typer options shared by commands that load data and an encoder, and their parsers.

Use the ``Annotated`` aliases as parameter types so every command spells, documents
and validates ``--model``, ``--data``, ``--cache-dir``, ``--split``, ``--seed``,
``--fractions``, ``--crop``, ``--temperature`` and ``--json`` the same way::

    @app.command("thing")
    def thing(model: ModelSpec, data: DataSpec, split: SplitName = "test", as_json: JsonFlag = False): ...

Parsers raise :class:`~cotclip.systems.errors.InputError` (one line, exit 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from cotclip.scoring.encoders.options import EncoderSettings, parse_encoder_options
from cotclip.scoring.similarity import SIMILARITIES
from cotclip.scoring.splits import SPLIT_NAMES, check_fractions
from cotclip.systems.errors import DataError, InputError

__all__ = [
    "ModelSpec",
    "DataSpec",
    "SystemSpec",
    "CacheDir",
    "SplitName",
    "Seed",
    "Fractions",
    "CropBox",
    "Temperature",
    "IgnoreUnknown",
    "ImageColumn",
    "LabelColumn",
    "JsonFlag",
    "EncoderOptionFlag",
    "SimilarityFlag",
    "TrustRemoteCode",
    "encoder_settings",
    "parse_crop",
    "parse_fractions",
    "check_split",
    "check_temperature",
]

ModelSpec = Annotated[
    str,
    typer.Option(
        "--model", help="Encoder spec: hf:<id-or-dir>, precomputed:<file.npz>, open_clip:<arch>/<tag>, synthetic."
    ),
]
DataSpec = Annotated[
    str,
    typer.Option(
        "--data",
        help="Dataset spec: class-folder, manifest .csv/.jsonl, hf:<id>[:split], precomputed:<f.npz>, "
        "synthetic:<world>.",
    ),
]
SystemSpec = Annotated[str, typer.Option("--system", help="System file (canonical JSON/YAML or the seed's format).")]
CacheDir = Annotated[
    Path | None, typer.Option("--cache-dir", help="Embedding cache folder (default: the user cache dir).")
]
SplitName = Annotated[str, typer.Option("--split", help="Which images to use: train, val, test or all.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the stratified train/val/test split.")]
Fractions = Annotated[str, typer.Option("--fractions", help="Train,val,test fractions summing to 1.")]
CropBox = Annotated[
    str | None,
    typer.Option("--crop", help="Crop box left,top,right,bottom as fractions of the image, e.g. 0.08,0.11,0.92,0.55."),
]
Temperature = Annotated[
    float | None,
    typer.Option("--temperature", help="Softmax temperature on cosines (default: the system's scoring.temperature)."),
]
ImageColumn = Annotated[
    str,
    typer.Option(
        "--image-column", help="Image column of a manifest or Hugging Face dataset (manifests fall back to 'path')."
    ),
]
LabelColumn = Annotated[str, typer.Option("--label-column", help="Label column of a manifest or Hugging Face dataset.")]
IgnoreUnknown = Annotated[
    bool,
    typer.Option(
        "--ignore-unknown", help="Drop images whose label is not a class of the system (their count is reported)."
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")]
EncoderOptionFlag = Annotated[
    list[str] | None,
    typer.Option(
        "--encoder-option",
        help="KEY=VALUE for the model's encode calls (text.KEY / image.KEY for one side), "
        "e.g. text.task=retrieval, truncate_dim=512; repeatable. hf: remote-code models only.",
    ),
]
SimilarityFlag = Annotated[
    str,
    typer.Option(
        "--similarity", help="cosine (one vector per image/prompt) or maxsim (multi-vector late interaction)."
    ),
]
TrustRemoteCode = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Run the model folder's own Python code (jina-clip, jina-embeddings-v4)."),
]


def encoder_settings(
    options: list[str] | None, similarity: str = "cosine", trust_remote_code: bool = False
) -> EncoderSettings:
    """The encoder flags as :class:`EncoderSettings`; InputError for a bad option or similarity."""
    parse_encoder_options(options or [])
    if similarity not in SIMILARITIES:
        raise InputError(f"--similarity {similarity!r} is not known; use {' or '.join(SIMILARITIES)}")
    return EncoderSettings(tuple(options or ()), similarity, trust_remote_code)


def _numbers(text: str, count: int, flag: str, example: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise InputError(f"{flag} needs {count} comma-separated numbers, got {text!r}; e.g. {flag} {example}")
    return values


def parse_crop(text: str | None) -> tuple[float, float, float, float] | None:
    """``"l,t,r,b"`` fractions with ``0 <= l < r <= 1`` and ``0 <= t < b <= 1``; None stays None."""
    if text is None:
        return None
    left, top, right, bottom = _numbers(text, 4, "--crop", "0.08,0.11,0.92,0.55")
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise InputError(f"--crop {text!r} must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1")
    return left, top, right, bottom


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``"train,val,test"`` non-negative fractions summing to 1 with train > 0."""
    values = _numbers(text, 3, "--fractions", "0.6,0.2,0.2")
    try:
        return check_fractions(values)
    except DataError as exc:
        raise InputError(f"--fractions: {exc.message}") from None


def check_split(name: str) -> str:
    """``name`` if it is a split name, else InputError listing them."""
    if name not in SPLIT_NAMES:
        raise InputError(f"--split {name!r} is not a split; use one of {', '.join(SPLIT_NAMES)}")
    return name


def check_temperature(value: float | None) -> float | None:
    """A finite temperature > 0 (None = the system's own)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise InputError(f"--temperature must be a number > 0 (got {value}); the seed uses 1.0, CLIP usually 0.01")
    return value
