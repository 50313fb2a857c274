"""One review of one run: the reviewed version, its evidence, previews and saves.

The page and ``cotclip review --apply`` both go through :class:`ReviewSession`:

* ``state()`` is everything the page shows (system, per-rule evidence on *train*,
  val accuracy, which version);
* ``preview(payload)`` applies edits in memory and returns the edited system's val
  accuracy (nothing written);
* ``save(payload)`` applies the same edits and stores them as a new version of the
  run (``move = "human-edit"``, parent = the reviewed version, edits and notes in the
  record's details); the session then reviews the new version.

Bad edits raise :class:`~cotclip.optimizer.review.edits.EditError` before anything is
written. Test images are never loaded: evidence uses train, accuracy uses val.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotclip.optimizer.loop.runs import HUMAN_EDIT, RunDir, VersionRecord, current_version, utc_now
from cotclip.optimizer.review.edits import EditBatch, apply_edits, parse_edits
from cotclip.optimizer.review.evidence import rule_evidence
from cotclip.optimizer.review.thumbnails import thumbnail
from cotclip.scoring.encoders import ImageRef
from cotclip.scoring.scorer import ImageSet, accuracy
from cotclip.systems.errors import InputError, RunDirError
from cotclip.systems.model import System

__all__ = ["ReviewData", "ReviewSession", "load_version", "HUMAN_EDIT"]


@dataclass(frozen=True)
class ReviewData:
    """The labelled images a review looks at; ``train_refs[i]`` is row ``i`` of ``train``.

    ``temperature`` is the run's override of every system's temperature (None = none),
    so the review scores exactly as the run did.
    """

    train: ImageSet
    val: ImageSet
    train_refs: list[ImageRef]
    temperature: float | None = None


def load_version(run_path: Path, version: int | None = None) -> VersionRecord:
    """Version ``version`` of the run (default: its current version, see :func:`current_version`)."""
    return _versions_and_pick(run_path, version)[0]


def version_and_why(run_path: Path, version: int | None = None) -> tuple[VersionRecord, str]:
    """Like :func:`load_version`, with why that version: asked for, or why it is the current one."""
    return _versions_and_pick(run_path, version)


def _versions_and_pick(run_path: Path, version: int | None) -> tuple[VersionRecord, str]:
    run = RunDir(Path(run_path))
    if not run.versions_dir.is_dir():
        raise RunDirError(f"{run_path} has no versions/ folder; pass a run dir made by `cotclip optimize`")
    records = run.load_versions()
    if not records:
        raise RunDirError(f"{run_path} has no versions yet; let `cotclip optimize` record at least one")
    if version is not None:
        for record in records:
            if record.number == version:
                return record, f"--version {version}"
        raise InputError(f"{run_path} has no version {version}; pick one of {records[0].number}..{records[-1].number}")
    return current_version(records, run.final_choice())


class ReviewSession:
    """Review state shared by the web server's threads (a lock serialises changes)."""

    def __init__(
        self, run_path: Path, record: VersionRecord, data: ReviewData, *, examples: int = 4, why: str = "asked for"
    ) -> None:
        self.run_path = Path(run_path)
        self.record = record
        self.why = why
        self.data = data
        self.examples = examples
        self._lock = threading.Lock()

    @property
    def system(self) -> System:
        """The system under review."""
        return self.record.system

    def state(self) -> dict[str, Any]:
        """Everything the page renders (JSON-ready)."""
        with self._lock:  # image sets memoise prompt cosines: one scoring call at a time
            record, why = self.record, self.why
            temperature = self.data.temperature
            evidence = rule_evidence(record.system, self.data.train, examples=self.examples, temperature=temperature)
            val_accuracy = accuracy(record.system, self.data.val, temperature)
        return {
            "run": self.run_path.name,
            "run_path": str(self.run_path),
            "version": record.version_id,
            "why": why,
            "move": record.move,
            "parent": record.parent,
            "val_accuracy": val_accuracy,
            "recorded_val_accuracy": record.val_accuracy,
            "val_n": len(self.data.val.labels),
            "train_n": len(self.data.train.labels),
            "system": record.system.to_dict(),
            "evidence": [e.to_dict() for e in evidence],
        }

    def thumbnails(self, positions: list[int]) -> dict[str, Any]:
        """``{position: thumbnail}`` for train rows (unknown positions are an InputError)."""
        refs = self.data.train_refs
        bad = [p for p in positions if not 0 <= p < len(refs)]
        if bad:
            raise InputError(f"train image position {bad[0]} is out of range 0..{len(refs) - 1}")
        return {str(p): thumbnail(refs[p]).to_dict() for p in positions}

    def _edited(self, payload: Any) -> tuple[EditBatch, System]:
        batch = parse_edits(payload, source="edits")
        return batch, apply_edits(self.record.system, batch, parent=self.record.version_id)

    def preview(self, payload: Any) -> dict[str, Any]:
        """Val accuracy of the edited system; writes nothing."""
        with self._lock:
            _, edited = self._edited(payload)
            val_accuracy = accuracy(edited, self.data.val, self.data.temperature)
        return {"val_accuracy": val_accuracy, "val_n": len(self.data.val.labels)}

    def save(self, payload: Any) -> dict[str, Any]:
        """Store the edited system as the run's next version and review it from now on."""
        with self._lock:
            batch, edited = self._edited(payload)
            started = utc_now()
            val_accuracy = accuracy(edited, self.data.val, self.data.temperature)
            val_n = len(self.data.val.labels)
            record = _store_version(self.run_path, self.record, edited, batch, (val_accuracy, val_n), started)
            self.record, self.why = record, "newest human edit"
        return {
            "version": record.version_id,
            "path": str(self.run_path / "versions" / f"{record.version_id}.json"),
            "val_accuracy": val_accuracy,
            "parent": record.parent,
            "current": "this version: the newest human edit is what review, export and --apply use by default",
        }


def _store_version(
    run_path: Path, parent: VersionRecord, system: System, batch: EditBatch, val: tuple[float, int], started: str
) -> VersionRecord:
    run = RunDir(run_path)
    run.acquire_lock()
    try:
        existing = run.load_versions()
        number = max((r.number for r in existing), default=0) + 1
        record = VersionRecord(
            number=number,
            system=system,
            val_accuracy=val[0],
            val_n=val[1],
            move=HUMAN_EDIT,
            parent=parent.version_id,
            round=max((r.round for r in existing), default=parent.round),
            started_at=started,
            finished_at=utc_now(),
            details=batch.to_dict(),
        )
        run.save_version(record)
    finally:
        run.release_lock()
    return record
