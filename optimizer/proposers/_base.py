"""The proposer seam: where classification systems come from and how they are revised.

A :class:`Proposer` turns a :class:`ProposalTask` (class names, an optional domain
and per-class notes, size limits, how many candidates) into valid systems, and
revises one system from measured diagnostics and the score history. Contract:

* ``propose`` returns only valid :class:`System` objects (between 1 and
  ``task.n_candidates``); when no candidate can be made it raises
  :class:`ProposerError` (or :class:`BudgetExhaustedError` when the budget ran out
  before the first one). A bad answer never ends a run and is never accepted.
* ``revise`` returns one valid system for the same classes, keeping locked groups
  and rules of its input unchanged, or raises :class:`ProposerError`.
* ``usage`` is the running total of LLM use; ``records`` are JSON-able log lines
  (raw answers, repairs, usage) in call order.

``diagnostics`` is duck-typed: any object with the fields of
``cotclip.scoring.diagnostics.Diagnostics`` (``accuracy``, ``per_class``,
``confusions``, ``group_reliability``, ``disagreeing_rules``,
``identical_signatures``, ``unused_options``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cotclip.optimizer.llm.usage import Usage
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = ["ProposalTask", "ScoredVersion", "Proposer"]


@dataclass(frozen=True)
class ProposalTask:
    """What to propose: classes, context, size limits and the number of diverse candidates."""

    classes: tuple[str, ...]
    domain: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    max_groups: int = 5
    max_options: int = 8
    n_candidates: int = 3

    def __post_init__(self) -> None:
        classes = tuple(str(c) for c in self.classes)  # verbatim: they must match dataset labels exactly
        object.__setattr__(self, "classes", classes)
        if len(classes) < 2 or any(not c.strip() for c in classes):
            raise InputError("the class list needs at least two non-empty class names; pass --classes a,b,c or a file")
        duplicates = sorted({c for c in classes if classes.count(c) > 1})
        if duplicates:
            raise InputError(f"class {duplicates[0]!r} is listed twice; list every class once")
        unknown = sorted(set(self.notes) - set(classes))
        if unknown:
            raise InputError(f"notes name unknown class {unknown[0]!r}; fix the notes file or the class list")
        if self.max_groups < 1 or self.max_options < 2 or self.n_candidates < 1:
            raise InputError("use --max-groups >= 1, --max-options >= 2 and -n >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields."""
        return {
            "classes": list(self.classes),
            "domain": self.domain,
            "notes": dict(self.notes),
            "max_groups": self.max_groups,
            "max_options": self.max_options,
            "n_candidates": self.n_candidates,
        }


@dataclass(frozen=True)
class ScoredVersion:
    """An earlier version of the system with its held-out accuracy and the move that made it."""

    system: System
    val_accuracy: float
    move: str

    def to_dict(self) -> dict[str, Any]:
        """Name, fingerprint, accuracy and move (not the whole system)."""
        return {
            "name": self.system.name,
            "fingerprint": self.system.fingerprint(),
            "val_accuracy": self.val_accuracy,
            "move": self.move,
        }


@runtime_checkable
class Proposer(Protocol):
    """Makes and revises systems; see the module docstring for the contract."""

    @property
    def usage(self) -> Usage:
        """LLM use so far (zero for simulations)."""

    @property
    def records(self) -> list[dict[str, Any]]:
        """Log lines: one per answer (raw text, repairs, error, usage)."""

    def propose(self, task: ProposalTask) -> list[System]:
        """Between 1 and ``task.n_candidates`` valid, diverse systems."""

    def revise(self, system: System, diagnostics: Any, history: list[ScoredVersion]) -> System:
        """One valid improved system (locked items of ``system`` unchanged)."""
