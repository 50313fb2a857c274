"""``review``: apply reviewer edits (rules, options, templates, locks) to a run's version, saved as a new version."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cotclip._export import is_run_dir
from cotclip._types import need, need_optional_path, need_path
from cotclip.optimizer.review.edits import apply_edits, parse_edits
from cotclip.optimizer.review.session import ReviewSession, version_and_why
from cotclip.systems.errors import InputError, WrongTypeError

__all__ = ["ReviewedVersion", "review", "read_edits", "review_session"]


@dataclass(frozen=True)
class ReviewedVersion:
    """The version :func:`review` saved (now the run's current one) and the version it edited."""

    version: str
    path: Path
    val_accuracy: float
    parent: Any
    edited_version: str
    edited_why: str
    current: str

    def to_dict(self) -> dict[str, Any]:
        """What ``cotclip review --apply --json`` prints."""
        return {
            "version": self.version,
            "path": str(self.path),
            "val_accuracy": self.val_accuracy,
            "parent": self.parent,
            "current": self.current,
            "edited": {"version": self.edited_version, "why": self.edited_why},
        }


def read_edits(path: Path) -> object:
    """The YAML edits file's content (parsed, never executed); InputError when unreadable."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read edits file {path} ({exc.strerror}); check the path") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML ({type(exc).__name__}); see `cotclip review --help`") from None


def review_session(run: Path, version: int | None, cache_dir: str | None) -> ReviewSession:
    """A review of the run's ``version`` (default: its current one) with its train/val evidence loaded."""
    from cotclip.optimizer.review.rundata import load_review_data

    record, why = version_and_why(run, version)
    return ReviewSession(run, record, load_review_data(run, record.system, cache_dir=cache_dir), why=why)


def review(
    run: str | os.PathLike[str],
    edits: Mapping[str, Any] | str | os.PathLike[str],
    *,
    version: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ReviewedVersion:
    """Apply ``edits`` to the run's ``version`` (default: its current one) and save the result as a new version.

    ``edits`` is the mapping ``{"edits": [{"op": "set_rule", "class": ..., "group": ...,
    "option": 0}, ...], "notes": [...]}`` (see ``cotclip review --help`` for every op) or a
    YAML file holding it. The edits are checked before anything is encoded; the new
    version is scored on val and becomes the run's current version. Raises
    :class:`InputError` naming the bad edit.
    """
    path = Path(need_path(run, "run"))
    if version is not None:
        need(version, "version", int, "a version number")
    if not isinstance(edits, (Mapping, str, os.PathLike)):
        raise WrongTypeError(
            f"edits must be a mapping with an 'edits' list or a YAML file path, not {type(edits).__name__}"
        )
    if not is_run_dir(path):
        raise InputError(
            f"{path} is not a run dir (no versions/ or run.yaml); pass runs/<name> made by `cotclip optimize`"
        )
    if isinstance(edits, Mapping):
        payload: object = dict(edits)
        source = "edits"
    else:
        payload, source = read_edits(Path(edits)), os.fspath(edits)
    record, why = version_and_why(path, version)
    apply_edits(record.system, parse_edits(payload, source=source))  # fail fast, before any encoding
    saved = review_session(path, version, need_optional_path(cache_dir, "cache_dir")).save(payload)
    return ReviewedVersion(
        saved["version"],
        Path(saved["path"]),
        saved["val_accuracy"],
        saved["parent"],
        record.version_id,
        why,
        saved["current"],
    )
