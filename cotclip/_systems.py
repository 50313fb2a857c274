"""System files in and out: load, validate, convert (what ``cotclip validate``/``import``/``export`` do for files)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cotclip._types import need, need_path
from cotclip.systems.errors import InputError, WrongTypeError
from cotclip.systems.io import SYSTEM_DUMPERS, save_system, validate_system_source
from cotclip.systems.io import load_system as _load
from cotclip.systems.model import System
from cotclip.systems.ready_systems import READY_PREFIX
from cotclip.systems.validate import ValidationReport

__all__ = ["SystemLike", "load_system", "validate_system", "convert_system", "FORMATS"]

#: a system, a mapping in the canonical or the seed format, a file path, ``ready:<name>`` or the file's text
SystemLike = System | Mapping[str, Any] | str | os.PathLike[str]
#: formats :func:`convert_system` writes (``npz`` is :func:`cotclip.export`'s)
FORMATS: tuple[str, ...] = tuple(SYSTEM_DUMPERS)


def load_system(source: SystemLike, *, version: int | None = None) -> System:
    """A valid :class:`System` from a system, a mapping, a file (canonical JSON/YAML or the seed format),
    ``ready:<name>`` or a run dir.

    A run dir (``runs/<name>``) gives its current version (the newest human edit, else the
    run's final choice, ``best.json``) or ``version``. Raises :class:`InputError` for an unreadable file and
    :class:`SystemValidationError` (a :class:`CotclipError`) naming the first problem of an
    invalid system.
    """
    if version is not None:
        need(version, "version", int, "a version number")
    if isinstance(source, System) and version is None:
        return source
    if not isinstance(source, (Mapping, str, os.PathLike)):
        raise WrongTypeError(
            f"system must be a System, a mapping, a path or 'ready:<name>', not {type(source).__name__}"
        )
    if isinstance(source, (str, os.PathLike)):
        from cotclip._export import load_system_or_run

        return load_system_or_run(os.fspath(source), version)[0]
    if version is not None:
        raise InputError("--version applies to run dirs only; drop --version")
    return _load(source)


def validate_system(source: SystemLike) -> ValidationReport:
    """Every error and warning of a system source; ``report.valid`` says whether it is usable.

    Invalid content is reported, not raised; an unreadable file raises :class:`InputError`.
    """
    if isinstance(source, System):
        source = source.to_dict()
    if not isinstance(source, (Mapping, str, os.PathLike)):
        raise WrongTypeError(
            f"system must be a System, a mapping, a path or 'ready:<name>', not {type(source).__name__}"
        )
    return validate_system_source(source)


def same_file(source: SystemLike, out: str | os.PathLike[str]) -> bool:
    """Whether writing ``out`` would overwrite the system file ``source`` itself."""
    if not isinstance(source, (str, os.PathLike)) or str(source).startswith(READY_PREFIX):
        return False
    path, target = Path(source), Path(out)
    if path.exists() and target.exists():
        return os.path.samefile(path, target)
    return path.resolve() == target.resolve()


def convert_system(source: SystemLike, out: str | os.PathLike[str], fmt: str = "json") -> System:
    """Write the system in ``fmt`` (one of :data:`FORMATS`, e.g. ``json`` or ``seed-json``) to ``out``, atomically.

    Returns the system written. Refuses to overwrite the input file and unknown formats
    (:class:`InputError`); ``out``'s folder must exist.
    """
    need_path(out, "out")
    need(fmt, "fmt", str, f"a format name: {', '.join(FORMATS)}")
    if fmt not in SYSTEM_DUMPERS:
        raise InputError(f"unknown export format {fmt!r}; use --format with one of: {', '.join(SYSTEM_DUMPERS)}")
    if same_file(source, out):
        raise InputError(f"--out {out} is the input file itself; write to a different path")
    system = load_system(source)
    save_system(system, out, fmt=fmt)
    return system
