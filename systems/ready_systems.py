"""Access to the systems shipped in ``cotclip.systems.ready`` (package data, any install).

A ready system is named by its file name without the last suffix: ``ready/birds.json``
is ``birds`` and is loaded anywhere a system is accepted as ``ready:birds``.
"""

from __future__ import annotations

from importlib import resources

from cotclip.systems.errors import InputError

__all__ = ["READY_PREFIX", "ready_system_names", "ready_system_text"]

READY_PREFIX = "ready:"
_SUFFIXES = (".json", ".yaml", ".yml")
_PACKAGE = "cotclip.systems.ready"


def _ready_files() -> dict[str, str]:
    """Ready name -> file name, for every system file in the package."""
    files = {}
    for entry in resources.files(_PACKAGE).iterdir():
        for suffix in _SUFFIXES:
            if entry.is_file() and entry.name.endswith(suffix):
                files[entry.name[: -len(suffix)]] = entry.name
    return dict(sorted(files.items()))


def ready_system_names() -> list[str]:
    """Names of the shipped systems, sorted (use them as ``ready:<name>``)."""
    return list(_ready_files())


def ready_system_text(name: str) -> tuple[str, str]:
    """The text of ready system ``name`` and its file name; InputError for unknown names."""
    files = _ready_files()
    if name not in files:
        raise InputError(f"no ready system {name!r}; use one of: {', '.join(READY_PREFIX + n for n in files)}")
    return resources.files(_PACKAGE).joinpath(files[name]).read_text(encoding="utf-8"), files[name]
