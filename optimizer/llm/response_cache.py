"""LLM answers cached as JSON files, one per full request (no pickle, atomic writes)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "request_key"]


class ResponseCache:
    """Answers stored as JSON files under ``directory``, one per full request (atomic writes)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry for ``key``, or ``None`` (unreadable entries count as absent)."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` atomically (a reader never sees half a file)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(entry, stream, ensure_ascii=False)
        os.replace(temporary, path)


def request_key(material: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of everything that determines an answer."""
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
