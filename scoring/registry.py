"""Turn ``--model`` and ``--data`` spec strings into encoders and datasets.

Encoder specs: ``hf:<hub-id-or-dir>``, ``precomputed:<file.npz>``,
``open_clip:<arch>/<pretrained>``, ``synthetic[:<world>]``.
Dataset specs: a folder of class subfolders, a ``.csv``/``.jsonl`` manifest, a
``datasets.save_to_disk`` folder, ``hf:<id>[:split]``, ``precomputed:<file.npz>``,
``synthetic:<world.yaml|preset>``.

Each scheme lives in its own module exposing ``load_encoder(rest, **options)`` or
``load_dataset(rest, **options)``; modules are imported only when their scheme is used
so that, e.g., ``hf:`` does not pay for the synthetic world and vice versa.
"""

from __future__ import annotations

import importlib
from typing import Any

from cotclip.scoring.data import Dataset
from cotclip.scoring.encoders import Encoder
from cotclip.systems.errors import DataError, EncoderError

__all__ = ["load_encoder", "load_dataset", "ENCODER_SCHEMES", "DATASET_SCHEMES"]

ENCODER_SCHEMES = {
    "hf": "cotclip.scoring.encoders.hf",
    "precomputed": "cotclip.scoring.encoders.precomputed",
    "open_clip": "cotclip.scoring.encoders.open_clip",
    "synthetic": "cotclip.scoring.simulation.encoder",
}
DATASET_SCHEMES = {
    "hf": "cotclip.scoring.data.hf",
    "precomputed": "cotclip.scoring.data.precomputed",
    "synthetic": "cotclip.scoring.simulation.dataset",
    "local": "cotclip.scoring.data.local",
}


def _split_spec(spec: str) -> tuple[str, str]:
    scheme, sep, rest = spec.partition(":")
    if not sep:
        return spec, ""
    return scheme, rest


def load_encoder(spec: str, **options: Any) -> Encoder:
    """The encoder named by ``spec`` (see module docstring); raises EncoderError if unknown."""
    scheme, rest = _split_spec(spec.strip())
    module_name = ENCODER_SCHEMES.get(scheme)
    if module_name is None:
        raise EncoderError(
            f"unknown model spec {spec!r}; use one of hf:<id-or-dir>, precomputed:<file.npz>, "
            "open_clip:<arch>/<pretrained>, synthetic"
        )
    if scheme != "hf" and (
        options.get("encoder_options") or options.get("similarity", "cosine") not in (None, "cosine")
    ):
        asked = "--encoder-option" if options.get("encoder_options") else f"--similarity {options['similarity']}"
        raise EncoderError(f"{asked} applies to hf: models only, not to {scheme}:; drop it for --model {spec}")
    return importlib.import_module(module_name).load_encoder(rest, **options)


def load_dataset(spec: str, **options: Any) -> Dataset:
    """The dataset named by ``spec`` (see module docstring); raises DataError if unusable."""
    scheme, rest = _split_spec(spec.strip())
    module_name = DATASET_SCHEMES.get(scheme) if scheme != "local" else None
    if module_name is None:
        if not spec.strip():
            raise DataError(
                "empty data spec; pass --data <folder|manifest.csv|hf:id|precomputed:f.npz|synthetic:world>"
            )
        module_name, rest = DATASET_SCHEMES["local"], spec.strip()
    return importlib.import_module(module_name).load_dataset(rest, **options)
