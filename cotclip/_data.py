"""Datasets and encoders from specs (``--data``/``--model`` strings), or from objects Python users already hold."""

from __future__ import annotations

import sys
from typing import Any

from cotclip._types import need, need_crop, need_text, need_texts
from cotclip.scoring.data import Dataset
from cotclip.scoring.encoders.options import EncoderSettings, parse_encoder_options
from cotclip.scoring.similarity import SIMILARITIES
from cotclip.systems.errors import InputError, WrongTypeError

__all__ = ["DataLike", "load_dataset", "load_encoder", "encoder_settings", "is_hf_dataset"]

#: a spec string (folder, manifest, ``hf:<id>[:split]``, ``precomputed:<f.npz>``, ``synthetic:<world>``),
#: a ``datasets.Dataset`` or a loaded :class:`~cotclip.scoring.data.Dataset`
DataLike = Any

_DATA_EXAMPLE = "synthetic:pokemon-like"


def is_hf_dataset(value: Any) -> bool:
    """Whether ``value`` is a ``datasets.Dataset`` (without importing ``datasets`` when nobody has)."""
    module = sys.modules.get("datasets")
    return module is not None and isinstance(value, module.Dataset)


def load_dataset(
    data: DataLike,
    *,
    image_column: str = "image",
    label_column: str = "label",
    crop: tuple[float, float, float, float] | None = None,
) -> Dataset:
    """Labelled images from a spec string or a ``datasets.Dataset`` (one split, e.g. ``load_dataset(...)["train"]``).

    ``image_column``/``label_column`` name the columns of a manifest or a Hugging Face table
    (a ``ClassLabel`` column gives its names); ``crop`` is ``(left, top, right, bottom)`` in
    fractions of each image. Raises :class:`DataError` for unusable data.
    """
    need(image_column, "image_column", str, "a column name")
    need(label_column, "label_column", str, "a column name")
    box = need_crop(crop)
    if isinstance(data, Dataset):
        return data
    if is_hf_dataset(data):
        from cotclip.scoring.data.hf import from_hf_dataset

        name = getattr(getattr(data, "info", None), "dataset_name", None) or "datasets.Dataset"
        return from_hf_dataset(
            data, f"{name}({len(data)} rows)", crop=box, image_column=image_column, label_column=label_column
        )
    if type(data).__name__ == "DatasetDict":
        raise WrongTypeError(f"data is a DatasetDict with splits {list(data)}; pass one split, e.g. data['train']")
    if not isinstance(data, str):
        raise WrongTypeError(
            f"data must be a spec string such as {_DATA_EXAMPLE!r} or a datasets.Dataset, not {type(data).__name__}"
        )
    from cotclip.scoring.registry import load_dataset as load_spec

    return load_spec(
        need_text(data, "data", _DATA_EXAMPLE), crop=box, image_column=image_column, label_column=label_column
    )


def encoder_settings(options: Any = (), similarity: str = "cosine", trust_remote_code: bool = False) -> EncoderSettings:
    """Checked :class:`EncoderSettings`: ``KEY=VALUE`` encode options, ``cosine``/``maxsim``, remote-code trust."""
    texts = need_texts(list(options or ()), "encoder_options")
    need(similarity, "similarity", str, f"{' or '.join(SIMILARITIES)}")
    need(trust_remote_code, "trust_remote_code", bool, "True or False")
    parse_encoder_options(list(texts))
    if similarity not in SIMILARITIES:
        raise InputError(f"--similarity {similarity!r} is not known; use {' or '.join(SIMILARITIES)}")
    return EncoderSettings(texts, similarity, trust_remote_code)


def load_encoder(model: str, *, encoder: EncoderSettings | None = None, dataset: Dataset | None = None) -> Any:
    """The frozen encoder a spec names.

    ``model`` is ``hf:<id-or-dir>``, ``open_clip:<arch>/<tag>``, ``precomputed:<f.npz>`` or ``synthetic``.

    ``encoder`` carries encode options, similarity and remote-code trust (see
    :func:`encoder_settings`); ``synthetic`` needs the synthetic ``dataset`` it encodes.
    Nothing is downloaded. Raises :class:`EncoderError` when the model cannot be loaded.
    """
    from cotclip.scoring.registry import load_encoder as load_spec

    spec = need_text(model, "model", "hf:openai/clip-vit-base-patch32")
    settings = need(encoder or EncoderSettings(), "encoder", EncoderSettings, "EncoderSettings (see encoder_settings)")
    if dataset is not None:
        need(dataset, "dataset", Dataset, "a Dataset from cotclip.load_dataset")
    return load_spec(spec, dataset=dataset, **settings.loader_kwargs())
