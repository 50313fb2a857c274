"""The ``Move`` seam: how the loop turns one recorded version into new candidates.

A move is anything with a ``name`` and a ``propose(parent, context)`` method:

* ``parent`` is a valid :class:`~cotclip.systems.model.System` already evaluated on val.
* ``context`` (:class:`MoveContext`) carries the ONLY data a move may look at: the
  train and val :class:`~cotclip.scoring.scorer.ImageSet` s, the parent's train
  :class:`~cotclip.scoring.diagnostics.Diagnostics`, the score history and a seed.
  The test split is never reachable from here; that is how "test is never seen by
  any search step" is enforced structurally.
* It returns zero or more candidate systems (zero = nothing worth trying). The loop
  evaluates every candidate on val, records it as a version with ``parent`` and
  ``move`` set, and keeps the best. A move never writes run files and never records
  versions itself (reports go through ``MoveResult.artifacts``; the one exception is
  the knob search's Optuna study, which lives in its own storage, by default
  ``<run dir>/search.journal``).
* A move may change anything *except* what ``parent.locks`` fixes. The loop checks
  every candidate against its parent in one place (:func:`lock_violations`) and
  rejects violators, so a buggy move cannot silently edit a human's locked rule.
* Moves that spend evaluations internally (knob search) report them through
  ``MoveResult.evaluations`` so the loop's evaluation budget stays honest; the loop
  passes the remaining budget as ``context.evaluation_budget``.
* Expected failures of an external component (an LLM answering nonsense) are caught
  inside the move and reported through ``MoveResult.errors``; only user-caused
  configuration problems raise :class:`~cotclip.systems.errors.CotclipError`.

Search and selection functions (``cotclip.optimizer.search`` / ``.selection``) plug in
as plain functions with the :class:`SearchFunction` shape, wrapped by
:class:`~cotclip.optimizer.loop.moves.FunctionMove`; a move named in the run config
whose function cannot be imported is a configuration error, never skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cotclip.systems.model import System

if TYPE_CHECKING:
    from cotclip.scoring.diagnostics import Diagnostics
    from cotclip.scoring.scorer import ImageSet

__all__ = ["MoveContext", "MoveResult", "Move", "SearchFunction", "lock_violations"]


@dataclass(frozen=True)
class MoveContext:
    """What a move may look at: train/val data, the parent's train diagnostics, history."""

    train: ImageSet
    val: ImageSet
    diagnostics: Diagnostics
    history: list[Any]
    """Earlier versions as ``ScoredVersion`` (system, val_accuracy, move), best first."""
    seed: int
    evaluation_budget: int | None = None
    """Evaluations the move may spend internally (None = unlimited)."""


@dataclass(frozen=True)
class MoveResult:
    """Candidates produced by one application of a move."""

    candidates: list[System]
    evaluations: int = 0
    """Val evaluations spent inside the move (e.g. search trials), besides the candidates."""
    errors: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Recorded in each candidate's version record (e.g. how many rules changed)."""
    llm_seconds: float = 0.0
    """Wall time spent waiting for an LLM (retries and timeouts included); excluded from loop overhead."""
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """JSON documents for the run dir by relative path (e.g. the knob search's ``pareto.json``); the loop
    writes them atomically, adding ``parent`` (version id) and ``round``, so a move never writes files."""


@runtime_checkable
class Move(Protocol):
    """One way of improving a system (see the module docstring for the contract)."""

    name: str

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """New candidate systems derived from ``parent``; never edits locked items."""
        ...


class SearchFunction(Protocol):
    """Shape of a search/selection function the loop wraps as a move.

    ``fn(system, train, val, *, seed, budget) -> System | list[System]``: improve
    ``system`` using only ``train``/``val``, spending at most ``budget`` val
    evaluations (None = the function's own default); return the improved system(s).
    Locks must be respected.
    """

    def __call__(
        self, system: System, train: ImageSet, val: ImageSet, *, seed: int, budget: int | None
    ) -> System | list[System]: ...


def lock_violations(parent: System, child: System) -> list[str]:
    """Every locked group or rule of ``parent`` that ``child`` changed (empty = fine)."""
    problems: list[str] = []
    child_groups = {g.name: g for g in child.groups}
    for group_name in parent.locks.groups:
        if child_groups.get(group_name) != parent.group(group_name):
            problems.append(f"locked group {group_name!r} was changed or removed")
    locked_rules = set(parent.locks.rules)
    locked_rules |= {(c, g) for g in parent.locks.groups for c in parent.classes}
    for class_name, group_name in sorted(locked_rules):
        if group_name not in child_groups or class_name not in child.classes:
            problems.append(f"locked rule ({class_name!r}, {group_name!r}) was removed")
            continue
        before = parent.group(group_name)
        after = child_groups[group_name]
        old, new = parent.rule(class_name, group_name), child.rule(class_name, group_name)
        old_text = None if old is None else before.options[old]
        new_text = None if new is None else after.options[new]
        if old_text != new_text:
            problems.append(f"locked rule ({class_name!r}, {group_name!r}) changed from {old_text!r} to {new_text!r}")
    if set(parent.locks.groups) - set(child.locks.groups) or set(parent.locks.rules) - set(child.locks.rules):
        problems.append("locks were removed")
    return problems
