"""``review``: apply reviewer edits (rules, options, templates, locks) to a run's version, saved as a new version."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cotclip._export import is_run_dir
from cotclip._types import need, need_optional_path, need_path
from cotclip.optimizer.review.edits import apply_edits, parse_edits
from cotclip.optimizer.review.session import ReviewSession, version_and_why
from cotclip.systems.errors import InputError, WrongTypeError

if TYPE_CHECKING:
    from cotclip.optimizer.review.server import ReviewServer

__all__ = ["ReviewedVersion", "ReviewPage", "review", "review_page", "read_edits", "review_session"]


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


@dataclass(frozen=True)
class ReviewPage:
    """The review page of one version of a run, bound to 127.0.0.1 (see :func:`review_page`).

    ``serve_forever()`` blocks until interrupted; ``with page:`` (or ``start()``/``stop()``)
    serves from a background thread instead, e.g. in a notebook.
    """

    run: Path
    version: str
    why: str
    server: ReviewServer

    @property
    def url(self) -> str:
        """The page's address, ``http://127.0.0.1:<port>/``."""
        return self.server.url

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (KeyboardInterrupt propagates); the socket is closed after."""
        try:
            self.server.serve_forever()
        finally:
            self.server.httpd.server_close()

    def start(self) -> ReviewPage:
        """Serve from a background thread; stop with :meth:`stop`."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the background thread :meth:`start` began and close the socket."""
        self.server.stop()

    def __enter__(self) -> ReviewPage:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def to_dict(self) -> dict[str, Any]:
        """``{"run", "version", "why", "url"}``."""
        return {"run": str(self.run), "version": self.version, "why": self.why, "url": self.url}


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


def _run_dir(run: Any) -> Path:
    path = Path(need_path(run, "run"))
    if not is_run_dir(path):
        raise InputError(
            f"{path} is not a run dir (no versions/ or run.yaml); pass runs/<name> made by `cotclip optimize`"
        )
    return path


def review_page(
    run: str | os.PathLike[str],
    *,
    version: int | None = None,
    port: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ReviewPage:
    """The review page of the run's ``version`` (default: its current one), listening on ``127.0.0.1:port``.

    Nothing is served until :meth:`ReviewPage.serve_forever` or :meth:`ReviewPage.start`;
    ``port=0`` picks a free port. The page shows, per rule, the share of the class's train
    images on which the encoder picks the rule's option (embedded through ``cache_dir``,
    default the run's cache); edits and locks made on it are saved as new versions of the
    run. Raises :class:`InputError` for a path that is not a run dir or a port that cannot
    be bound.
    """
    path = _run_dir(run)
    if version is not None:
        need(version, "version", int, "a version number")
    need(port, "port", int, "a port number (0 = any free port)")
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port} is not a port; use 0..65535 (0 = any free port)")
    from cotclip.optimizer.review.server import make_server

    session = review_session(path, version, need_optional_path(cache_dir, "cache_dir"))
    return ReviewPage(path, session.record.version_id, session.why, make_server(session, port))


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
    if version is not None:
        need(version, "version", int, "a version number")
    if not isinstance(edits, (Mapping, str, os.PathLike)):
        raise WrongTypeError(
            f"edits must be a mapping with an 'edits' list or a YAML file path, not {type(edits).__name__}"
        )
    path = _run_dir(run)
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
