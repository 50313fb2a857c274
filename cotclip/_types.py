"""Argument checks of the public API: a wrong type is one clear line, never a deep numpy or torch traceback."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cotclip.systems.errors import InputError, WrongTypeError

__all__ = ["need", "need_path", "need_text", "need_fractions", "need_crop", "need_texts", "need_optional_path"]


def _kind(value: Any) -> str:
    return type(value).__name__


def need(value: Any, name: str, types: type | tuple[type, ...], expected: str) -> Any:
    """``value`` when it is an instance of ``types`` (bools are not numbers), else WrongTypeError."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise WrongTypeError(f"{name} must be {expected}, not bool")
    if not isinstance(value, types):
        raise WrongTypeError(f"{name} must be {expected}, not {_kind(value)}")
    return value


def need_text(value: Any, name: str, example: str) -> str:
    """A non-empty string, e.g. a data or model spec."""
    need(value, name, str, f"a string such as {example!r}")
    if not value.strip():
        raise InputError(f"{name} is empty; pass e.g. {example!r}")
    return value


def need_path(value: Any, name: str) -> str | os.PathLike[str]:
    """A ``str`` or ``os.PathLike`` path."""
    return need(value, name, (str, os.PathLike), "a path (str or pathlib.Path)")


def need_optional_path(value: Any, name: str) -> str | None:
    """``None`` or a path, as a string."""
    return None if value is None else os.fspath(need_path(value, name))


def need_texts(value: Any, name: str) -> tuple[str, ...]:
    """A list or tuple of strings (a lone string is refused: it would be read letter by letter)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise WrongTypeError(f"{name} must be a list of strings, not {_kind(value)}")
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        raise WrongTypeError(f"{name} must hold only strings; found {_kind(bad[0])} {bad[0]!r}")
    return tuple(value)


def _numbers(value: Any, name: str, count: int, example: str) -> tuple[float, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or len(value) != count:
        raise WrongTypeError(f"{name} must be a tuple of {count} numbers such as {example}, not {value!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise WrongTypeError(f"{name} must hold {count} finite numbers such as {example}, not {value!r}")
    return tuple(float(v) for v in value)


def need_fractions(value: Any) -> tuple[float, float, float]:
    """Train, val and test fractions (their sum is checked by the split)."""
    train, val, test = _numbers(value, "fractions", 3, "(0.6, 0.2, 0.2)")
    return train, val, test


def need_crop(value: Any) -> tuple[float, float, float, float] | None:
    """``None`` or a crop box ``(left, top, right, bottom)`` in fractions of the image."""
    if value is None:
        return None
    left, top, right, bottom = _numbers(value, "crop", 4, "(0.08, 0.11, 0.92, 0.55)")
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise InputError(f"crop {value!r} must satisfy 0 <= left < right <= 1 and 0 <= top < bottom <= 1")
    return left, top, right, bottom
