"""Encoder options: keyword arguments for a model's own ``encode_image`` / ``encode_text``.

``--encoder-option KEY=VALUE`` (repeatable; ``encoder_options`` in ``run.yaml``; the
``encoder_options=`` argument of :func:`cotclip.scoring.registry.load_encoder`):

* ``text.KEY=VALUE`` goes to ``encode_text`` only, ``image.KEY=VALUE`` to ``encode_image``
  only, a bare ``KEY=VALUE`` to both (e.g. ``truncate_dim=512``);
* ``VALUE`` is read as a YAML scalar: ``512`` is an int, ``true`` a bool, ``null`` None,
  anything else a string (``retrieval.query``).

Known model families get defaults, which explicit options override (sources in the README):

===================  ==================================================  ==========================================
family               recognised by                                       defaults
===================  ==================================================  ==========================================
jina-clip-v1         ``model_type: jina_clip``, ``encode_text`` without  none (its encode calls take no options)
                     ``task``
jina-clip-v2         ``model_type: jina_clip``,                          ``text.task=retrieval.query``
                     ``encode_text(task=...)``
jina-embeddings-v4   ``model_type: jina-embeddings-v4``                  ``task=retrieval``, ``text.prompt_name=query``
===================  ==================================================  ==========================================

The effective options (defaults included) are part of the encoder's identity, and so of
every cache key: embeddings made with another adapter, prompt or dimension never mix.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from cotclip.systems.errors import EncoderError, InputError

__all__ = [
    "EncoderOptions",
    "EncoderSettings",
    "parse_encoder_options",
    "family_defaults",
    "accepts",
    "check_accepted",
    "RESERVED",
]

_SIDES = ("image", "text")
RESERVED = {
    "images": "the inputs",
    "sentences": "the inputs",
    "texts": "the inputs",
    "batch_size": "cotclip's batching",
    "device": "cotclip's device choice",
    "show_progress_bar": "cotclip's progress bar",
    "convert_to_numpy": "cotclip",
    "convert_to_tensor": "cotclip",
    "return_numpy": "cotclip",
    "normalize_embeddings": "cotclip (it always normalises)",
    "return_multivector": "--similarity maxsim",
}
"""Parameters cotclip sets itself, and the flag that controls each instead."""


@dataclass(frozen=True)
class EncoderOptions:
    """Keyword arguments for ``encode_image`` (``image``) and ``encode_text`` (``text``)."""

    image: Mapping[str, Any] = field(default_factory=dict)
    text: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.image or self.text)

    def merged_over(self, defaults: EncoderOptions) -> EncoderOptions:
        """These options, with ``defaults`` filling in the keys they do not set."""
        return EncoderOptions({**defaults.image, **self.image}, {**defaults.text, **self.text})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{"image": {...}, "text": {...}}`` with sorted keys."""
        return {"image": dict(sorted(self.image.items())), "text": dict(sorted(self.text.items()))}

    def identity(self) -> str:
        """Canonical JSON of the options (empty string when there are none)."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str) if self else ""

    def as_flags(self) -> list[str]:
        """The options as ``side.KEY=VALUE`` strings (what ``--encoder-option`` takes)."""
        return [
            f"{side}.{key}={json.dumps(value) if not isinstance(value, str) else value}"
            for side in _SIDES
            for key, value in sorted(getattr(self, side).items())
        ]


@dataclass(frozen=True)
class EncoderSettings:
    """How to load an encoder beyond its spec: encode options, similarity, remote-code trust.

    ``options`` are ``--encoder-option`` strings (parsed by the loader); ``similarity`` is
    ``cosine`` or ``maxsim``; ``trust_remote_code`` allows a model folder's own Python code.
    """

    options: tuple[str, ...] = ()
    similarity: str = "cosine"
    trust_remote_code: bool = False

    def loader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`cotclip.scoring.registry.load_encoder`."""
        kwargs: dict[str, Any] = {"encoder_options": list(self.options), "similarity": self.similarity}
        if self.trust_remote_code:
            kwargs["trust_remote_code"] = True
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        """``{"options", "similarity", "trust_remote_code"}``."""
        return {
            "options": list(self.options),
            "similarity": self.similarity,
            "trust_remote_code": self.trust_remote_code,
        }


def _value(text: str) -> Any:
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def parse_encoder_options(items: Sequence[str] | Mapping[str, Any] | EncoderOptions | None) -> EncoderOptions:
    """``["text.task=retrieval", "truncate_dim=512"]`` (or a mapping of the same keys) -> EncoderOptions.

    Raises InputError (one line) for an item without ``=``, an empty key or a side other
    than ``image``/``text``.
    """
    if isinstance(items, EncoderOptions):
        return items
    pairs = list(items.items()) if isinstance(items, Mapping) else []
    for item in [] if items is None or isinstance(items, Mapping) else items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise InputError(f"--encoder-option {item!r} is not KEY=VALUE; e.g. --encoder-option text.task=retrieval")
        pairs.append((key.strip(), _value(raw.strip())))
    sides: dict[str, dict[str, Any]] = {"image": {}, "text": {}}
    for key, value in pairs:
        side, dot, name = key.rpartition(".")
        targets = [side] if dot else list(_SIDES)
        if dot and (side not in _SIDES or not name):
            raise InputError(f"encoder option {key!r} must be KEY, image.KEY or text.KEY; e.g. text.task=retrieval")
        for target in targets:
            sides[target][name] = value
    return EncoderOptions(sides["image"], sides["text"])


def _config_value(config: Any, name: str) -> Any:
    return getattr(config, name, None) if config is not None else None


def family_defaults(model: Any, text_fn: Callable) -> tuple[str | None, EncoderOptions]:
    """The known family of ``model`` (or None) and its default options (see the module table)."""
    config = getattr(model, "config", None)
    model_type = str(_config_value(config, "model_type") or "")
    if model_type == "jina-embeddings-v4":
        return "jina-embeddings-v4", EncoderOptions(
            {"task": "retrieval"}, {"task": "retrieval", "prompt_name": "query"}
        )
    if model_type == "jina_clip":
        if "task" in _parameters(text_fn):
            return "jina-clip-v2", EncoderOptions({}, {"task": "retrieval.query"})
        return "jina-clip-v1", EncoderOptions()
    return None, EncoderOptions()


def _parameters(function: Callable) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return {}


def accepts(function: Callable, name: str) -> bool:
    """Whether ``function`` has a named parameter ``name`` (a ``**kwargs`` catch-all does not count)."""
    parameter = _parameters(function).get(name)
    return parameter is not None and parameter.kind not in (
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    )


def check_accepted(options: EncoderOptions, image_fn: Callable, text_fn: Callable, where: str) -> None:
    """EncoderError naming the first option that ``encode_image``/``encode_text`` has no parameter for.

    Only named parameters count: jina-clip's ``encode_text(**tokenizer_kwargs)`` would hand an
    unknown key to the tokenizer, which fails late or not at all.
    """
    for side, function in (("image", image_fn), ("text", text_fn)):
        method = f"encode_{side}"
        for name in getattr(options, side):
            if name in RESERVED:
                raise EncoderError(
                    f"encoder option {side}.{name} is set by {RESERVED[name]}, not by --encoder-option; drop it"
                )
            if not accepts(function, name):
                named = [p for p in _parameters(function) if p not in RESERVED and accepts(function, p)]
                raise EncoderError(
                    f"{where}'s {method} does not accept option {side}.{name}; "
                    f"it takes {', '.join(named) if named else 'no options'}"
                )
