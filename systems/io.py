"""Reading and writing systems: canonical JSON/YAML and the seed article's format.

A *system source* is a file path, ``ready:<name>`` (a shipped system), literal JSON/YAML
text, or already-parsed data. The format is detected from the content: data with a
``classification_cot``/``classification_groups`` key is the seed format (see
:mod:`cotclip.systems.seed_format`); anything else is read as the canonical format.
Files are parsed, never executed: JSON via :mod:`json`, YAML via ``yaml.safe_load``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from cotclip.systems.errors import InputError, SystemValidationError
from cotclip.systems.model import System
from cotclip.systems.ready_systems import READY_PREFIX, ready_system_names, ready_system_text
from cotclip.systems.seed_format import export_seed, is_seed_data, seed_to_canonical
from cotclip.systems.validate import ValidationReport, validate_data

__all__ = [
    "SYSTEM_DUMPERS",
    "SystemSource",
    "parse_system_text",
    "read_system_data",
    "canonical_data",
    "load_system",
    "load_ready_system",
    "validate_system_source",
    "dump_system",
    "save_system",
    "write_text_atomic",
]

SystemSource = str | os.PathLike[str] | Mapping[str, Any]


class _DuplicateKey(Exception):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _yaml_duplicate_key(text: str) -> str | None:
    """The first key repeated within one YAML mapping (safe_load would keep only the last)."""
    pending = [yaml.compose(text, Loader=yaml.SafeLoader)]  # nodes only: nothing is constructed
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if (key.tag, key.value) in seen:
                        return f"{key.value!r} (line {key.start_mark.line + 1})"
                    seen.add((key.tag, key.value))
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value
    return None


def _duplicate_error(key: str, source: str) -> SystemValidationError:
    return SystemValidationError([f"key {key} appears twice in one object; keep only one of them"], source=source)


def _parse_yaml(text: str, source: str, json_error: json.JSONDecodeError) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        if text.lstrip().startswith(("{", "[")):
            where = f"line {json_error.lineno}, column {json_error.colno}"
            message = f"not valid JSON: {json_error.msg} at {where}; fix the syntax"
        else:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            message = f"neither valid JSON nor YAML: {getattr(exc, 'problem', None) or exc}{where}; fix the syntax"
        raise SystemValidationError([message], source=source) from None
    duplicate = _yaml_duplicate_key(text)
    if duplicate:
        raise _duplicate_error(duplicate, source)
    return data


def parse_system_text(text: str, source: str, suffix: str = "") -> tuple[Any, str]:
    """Parse JSON (tried first) or YAML text into data; returns ``(data, "json" | "yaml")``.

    ``suffix`` is the file's suffix: a ``.json`` file is never re-read as YAML, so its
    syntax errors are reported as JSON errors.
    """
    if not text.strip():
        raise SystemValidationError(["the file is empty; write a system as JSON or YAML"], source=source)
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates), "json"
    except _DuplicateKey as exc:
        raise _duplicate_error(repr(exc.args[0]), source) from None
    except json.JSONDecodeError as exc:
        if suffix.lower() == ".json":
            message = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}; fix the syntax"
            raise SystemValidationError([message], source=source) from None
        data = _parse_yaml(text, source, exc)
    if data is None:
        raise SystemValidationError(["the file holds no data; write a system as JSON or YAML"], source=source)
    return data, "yaml"


def _looks_like_text(value: str) -> bool:
    """Literal JSON/YAML text rather than a path (an existing file always counts as a path)."""
    if "\n" in value:
        return True
    return value.lstrip().startswith(("{", "[")) and not os.path.exists(value)


def _read_path(path: Path) -> str:
    hint = f"pass a JSON/YAML system file or ready:<name> ({', '.join(ready_system_names())})"
    if not path.exists():
        raise InputError(f"system file {path} does not exist; {hint}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a system file; {hint}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save the system as UTF-8 JSON or YAML") from None
    except OSError as exc:
        message = f"cannot read system file {path}: {exc.strerror}; check the path and its permissions"
        raise InputError(message) from None


def read_system_data(path_or_text: str | os.PathLike[str], source: str | None = None) -> tuple[Any, str]:
    """Read and parse a system source; returns ``(data, detected_format)``.

    ``detected_format`` is ``json`` or ``yaml`` (canonical) or ``seed-json``/``seed-yaml``.
    Unreadable files raise :class:`InputError`; unparsable text raises
    :class:`SystemValidationError`. The data itself is not validated here.
    """
    suffix = ""
    if isinstance(path_or_text, str) and path_or_text.startswith(READY_PREFIX):
        text, file_name = ready_system_text(path_or_text[len(READY_PREFIX) :])
        label, suffix = source or path_or_text, Path(file_name).suffix
    elif isinstance(path_or_text, str) and _looks_like_text(path_or_text):
        text, label = path_or_text, source or "<system data>"
    else:
        path = Path(path_or_text)
        text, label, suffix = _read_path(path), source or str(path), path.suffix
    data, syntax = parse_system_text(text, label, suffix)
    return data, f"seed-{syntax}" if is_seed_data(data) else syntax


def canonical_data(data: Any, source: str | None = None) -> Any:
    """Canonical system data from parsed data of either format (seed data is converted)."""
    return seed_to_canonical(data, source=source) if is_seed_data(data) else data


def _label(source_spec: SystemSource, source: str | None) -> str:
    if source:
        return source
    if isinstance(source_spec, Mapping) or (isinstance(source_spec, str) and _looks_like_text(source_spec)):
        return "<system data>"
    return str(source_spec)


def load_system(path_or_text: SystemSource, source: str | None = None) -> System:
    """Load a valid :class:`System` from any system source (format detected).

    Raises :class:`InputError` for unreadable files and :class:`SystemValidationError`
    (naming ``source`` or the path) for unparsable or invalid systems.
    """
    label = _label(path_or_text, source)
    if isinstance(path_or_text, Mapping):
        data: Any = dict(path_or_text)
    else:
        data, _ = read_system_data(path_or_text, source=label)
    return System.from_data(canonical_data(data, source=label), source=label)


def load_ready_system(name: str) -> System:
    """A shipped system by name (see :func:`~cotclip.systems.ready_systems.ready_system_names`)."""
    return load_system(READY_PREFIX + name)


def validate_system_source(path_or_text: SystemSource, source: str | None = None) -> ValidationReport:
    """Every error and warning of a system source; parse errors become report errors.

    Unreadable files still raise :class:`InputError`: there is nothing to validate.
    """
    label = _label(path_or_text, source)
    try:
        data = dict(path_or_text) if isinstance(path_or_text, Mapping) else read_system_data(path_or_text, label)[0]
        return validate_data(canonical_data(data, source=label))
    except SystemValidationError as exc:
        return ValidationReport(errors=exc.errors)


def _dump_yaml(system: System) -> str:
    return yaml.safe_dump(system.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False)


def _dump_seed_json(system: System) -> str:
    return json.dumps(export_seed(system), indent=2, ensure_ascii=False) + "\n"


SYSTEM_DUMPERS: dict[str, Callable[[System], str]] = {
    "json": System.to_json,
    "yaml": _dump_yaml,
    "seed-json": _dump_seed_json,
}


def dump_system(system: System, fmt: str = "json") -> str:
    """The system as text in ``fmt`` (a key of :data:`SYSTEM_DUMPERS`)."""
    if fmt not in SYSTEM_DUMPERS:
        raise InputError(f"unknown system format {fmt!r}; use one of: {', '.join(SYSTEM_DUMPERS)}")
    return SYSTEM_DUMPERS[fmt](system)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` via a temporary file and ``os.replace``: readers never see half a file."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target} is a directory; give a file path to write to")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}; choose a writable location") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o644)  # mkstemp's 0o600 would hide the file from other readers
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror}; choose a writable location") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def save_system(system: System, path: str | os.PathLike[str], fmt: str = "json") -> Path:
    """Write the system to ``path`` in ``fmt`` atomically; returns the path written."""
    return write_text_atomic(path, dump_system(system, fmt))
