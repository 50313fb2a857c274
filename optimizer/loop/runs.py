"""Run-directory storage: atomic files, one writer at a time, versions that survive ``kill -9``.

Layout of ``runs/<name>/``::

    run.yaml            the full run configuration (also accepted by ``--config``)
    environment.json    package versions, encoder identity, seeds
    .lock               PID of the process writing this run (stale when that PID is dead)
    versions/NNNN.json  one evaluated system each: system, val metrics, parent, move, timestamps
    progress.json       rounds completed, convergence history, time spent (rewritten each round)
    encoder_calls.jsonl one line per batch sent to the encoder, written *before* the call
    prompts.jsonl       every distinct prompt string the run asked for (unique inputs)
    proposer_log.jsonl  one line per proposer call (move, outcome, usage, repairs)
    search.journal      Optuna studies of the knob_search move (unless --storage names another)
    pareto.json         the last knob search's Pareto front (val accuracy vs prompts per image)
    proposer_opt.json, prompts/*.md   --optimize-proposer: outcome and the tuned instructions
    best.json, summary.json, report.md, plots/*.png   the final result

Every JSON file is written to a temporary sibling and moved into place with
``os.replace``, so a reader (or a resume after ``kill -9``) sees either the old or
the new content, never half a file. Version files are also fsynced (they survive a
power loss); ``progress.json`` and the append-only logs are only handed to the OS
(they survive ``kill -9``; a torn last log line is ignored when read, and a lost
progress file after a power cut only means a round is re-run, deduplicated).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cotclip.systems.errors import CotclipError, RunDirError
from cotclip.systems.model import System

__all__ = ["VersionRecord", "RunDir", "atomic_write_text", "utc_now", "current_version", "HUMAN_EDIT"]

_LOCK = ".lock"
#: The move of a version a reviewer saved (``cotclip review``).
HUMAN_EDIT = "human-edit"


def utc_now() -> str:
    """ISO-8601 UTC timestamp with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` to ``path`` via a temp file + ``os.replace`` (+ fsync when ``durable``).

    The rename alone is enough against ``kill -9``; fsync adds safety against power loss.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass(frozen=True)
class VersionRecord:
    """One evaluated candidate as stored in ``versions/NNNN.json``."""

    number: int
    system: System
    val_accuracy: float
    val_n: int
    move: str
    parent: str | None
    round: int
    started_at: str
    finished_at: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def version_id(self) -> str:
        """Four-digit id, e.g. ``0007``."""
        return f"{self.number:04d}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the file's content)."""
        return {
            "version": self.version_id,
            "round": self.round,
            "move": self.move,
            "parent": self.parent,
            "val": {"accuracy": self.val_accuracy, "n": self.val_n},
            "fingerprint": self.system.fingerprint(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "details": self.details,
            "system": self.system.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> VersionRecord:
        """Parse a stored record; raises RunDirError naming ``source`` when it is malformed."""
        try:
            return cls(
                number=int(data["version"]),
                system=System.from_data(data["system"], source=source),
                val_accuracy=float(data["val"]["accuracy"]),
                val_n=int(data["val"]["n"]),
                move=str(data["move"]),
                parent=data["parent"],
                round=int(data["round"]),
                started_at=str(data["started_at"]),
                finished_at=str(data["finished_at"]),
                details=dict(data.get("details") or {}),
            )
        except CotclipError as exc:
            raise RunDirError(f"{source} is corrupt ({exc.message}); delete it or start a new run") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(f"{source} is corrupt (bad field {exc}); delete it or start a new run") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    """A run directory, locked for writing by this process while open (see module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.versions_dir = self.path / "versions"
        self._locked = False
        self.replaced = False
        """Set by :meth:`create` when it replaced a run dir whose start never recorded a version."""

    # ----- lifecycle -----------------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> RunDir:
        """A new, empty run dir.

        A run dir that holds a started run (at least one version) is refused with
        RunDirError; one whose start failed before its first version (a bad flag, an
        LLM that was down, ``kill -9``) is not a run: it is emptied and reused, and
        :attr:`replaced` says so. A process still starting in it holds its lock and is
        never disturbed.
        """
        run = cls(Path(path))
        held = (run.path / "run.yaml").exists() or run.versions_dir.exists()
        if held and run.has_versions():
            raise run._started_error()
        run.path.mkdir(parents=True, exist_ok=True)
        run.acquire_lock()
        if held:
            if run.has_versions():  # it recorded one while we took the lock
                run.release_lock()
                raise run._started_error()
            run._empty()
            run.replaced = True
        run.versions_dir.mkdir(exist_ok=True)
        return run

    def _started_error(self) -> RunDirError:
        return RunDirError(
            f"run dir {self.path} already holds a run; resume it with --resume {self.path} or pick another --name"
        )

    def has_versions(self) -> bool:
        """Whether at least one version file is recorded (the run has started)."""
        return self.versions_dir.is_dir() and any(self.versions_dir.glob("[0-9][0-9][0-9][0-9].json"))

    def _empty(self) -> None:
        """Remove everything but our lock (the run dir of a start that recorded no version)."""
        for entry in self.path.iterdir():
            if entry.name == _LOCK:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)

    @classmethod
    def open_existing(cls, path: Path) -> RunDir:
        """An existing run dir for resuming (raises RunDirError when missing or not a run)."""
        path = Path(path)
        if not path.is_dir():
            raise RunDirError(f"run dir {path} does not exist; check the path given to --resume")
        if not (path / "run.yaml").is_file():
            raise RunDirError(f"{path} is not a run dir (no run.yaml); pass the folder `cotclip optimize` created")
        run = cls(path)
        run.acquire_lock()
        run.versions_dir.mkdir(exist_ok=True)
        run._remove_temporaries()
        return run

    def acquire_lock(self) -> None:
        """Take ``.lock`` with our PID; a lock held by a dead PID is stale and replaced."""
        lock = self.path / _LOCK
        for _ in range(2):
            try:
                descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._lock_holder(lock)
                if holder is not None and holder != os.getpid() and _pid_alive(holder):
                    raise RunDirError(
                        f"run dir {self.path} is in use by process {holder}; wait for it to finish "
                        "(or give `cotclip optimize` another --name)"
                    ) from None
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"pid": os.getpid(), "since": utc_now()}, handle)
            self._locked = True
            return
        raise RunDirError(f"could not lock run dir {self.path}; another process keeps taking it, retry later")

    @staticmethod
    def _lock_holder(lock: Path) -> int | None:
        try:
            return int(json.loads(lock.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release_lock(self) -> None:
        """Remove our ``.lock`` (no-op when we do not hold it)."""
        lock = self.path / _LOCK
        if self._locked and self._lock_holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)
        self._locked = False

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release_lock()

    def _remove_temporaries(self) -> None:
        for folder in (self.path, self.versions_dir):
            for temporary in folder.glob(".*.tmp"):
                temporary.unlink(missing_ok=True)

    # ----- files ---------------------------------------------------------------------
    def write_json(self, relative: str, data: Any, *, durable: bool = True) -> Path:
        """Atomically write ``data`` as indented JSON under the run dir (see :func:`atomic_write_text`)."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", durable=durable)
        return target

    def write_text(self, relative: str, text: str) -> Path:
        """Atomically write a text file under the run dir."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
        return target

    def final_choice(self) -> str | None:
        """The version id ``best.json`` names (the run's final choice), or ``None`` before the run's report."""
        best = self.read_json("best.json")
        return str(best["version"]) if isinstance(best, dict) and best.get("version") is not None else None

    def read_json(self, relative: str, default: Any = None) -> Any:
        """Parse a JSON file of the run (``default`` when absent; RunDirError when corrupt)."""
        target = self.path / relative
        if not target.exists():
            return default
        try:
            return json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{target} is corrupt ({type(exc).__name__}); delete it or start a new run") from None

    def append_jsonl(self, relative: str, record: dict[str, Any]) -> None:
        """Append one JSON line (flushed to the OS, which keeps it when the process is killed)."""
        with open(self.path / relative, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def read_jsonl(self, relative: str) -> Iterator[dict[str, Any]]:
        """Records of an append-only log; a torn last line (``kill -9``) is ignored."""
        target = self.path / relative
        if not target.exists():
            return
        for line in target.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                continue

    # ----- versions ------------------------------------------------------------------
    def save_version(self, record: VersionRecord) -> Path:
        """Store a version atomically (never overwrites an existing number)."""
        target = self.versions_dir / f"{record.version_id}.json"
        if target.exists():
            raise RunDirError(f"{target} already exists; two writers in one run dir? remove the stray process")
        return self.write_json(f"versions/{record.version_id}.json", record.to_dict())

    def load_versions(self) -> list[VersionRecord]:
        """Every stored version in number order; raises RunDirError on a corrupt file."""
        records = []
        for file in sorted(self.versions_dir.glob("[0-9][0-9][0-9][0-9].json")):
            data = self.read_json(f"versions/{file.name}")
            if not isinstance(data, dict):
                raise RunDirError(f"{file} is corrupt (not an object); delete it or start a new run")
            record = VersionRecord.from_dict(data, source=str(file))
            if record.version_id != file.stem:
                raise RunDirError(f"{file} is corrupt (it says version {record.version_id}); delete it")
            records.append(record)
        return records


def _descends_from(record: VersionRecord, ancestor: str, parents: dict[str, str | None]) -> bool:
    seen: set[str] = set()
    node: str | None = record.version_id
    while node is not None and node not in seen:
        if node == ancestor:
            return True
        seen.add(node)
        node = parents.get(node)
    return False


def current_version(records: list[VersionRecord], final: str | None = None) -> tuple[VersionRecord, str]:
    """The version a run stands for (what review, export and ``--init RUN_DIR`` use), and why.

    Without human edits that is the run's final choice ``final`` (the version id in
    ``best.json``, chosen by a noise-aware paired comparison on val when the run
    finished) when it is one of ``records``, else the best on val (ties: the earliest;
    a run still going or stopped before its report). Once a reviewer saved
    a ``human-edit`` version, the newest one wins over everything recorded before it: the
    current version is the best on val among it and the versions built on it (ties: the
    edit itself), so a later optimization that improves on the edit carries it forward and
    one that only found other systems never silently replaces it.
    """
    if not records:
        raise RunDirError("the run has no versions yet; let `cotclip optimize` record at least one")
    edits = [r for r in records if r.move == HUMAN_EDIT]
    chosen = next((r for r in records if final is not None and r.version_id == final), None)
    if not edits and chosen is not None:
        return chosen, "the run's final choice on val"
    if not edits:
        best = max(records, key=lambda r: (r.val_accuracy, -r.number))
        return best, "best on val"
    edit = edits[-1]
    parents = {r.version_id: r.parent for r in records}
    lineage = [r for r in records if _descends_from(r, edit.version_id, parents)]
    chosen = max(lineage, key=lambda r: (r.val_accuracy, -r.number))
    if chosen is edit:
        return edit, "newest human edit"
    return chosen, f"best on val among the newest human edit (v{edit.version_id}) and the versions built on it"
