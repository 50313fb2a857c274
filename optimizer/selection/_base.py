"""The ``Selector`` seam: choose which questions (groups) a system asks every image.

A *question* is one of the system's groups, either whole or with only the options some
class's rule uses (an option no rule picks still costs a text comparison per image
and only dilutes the softmax; dropping it is a cheaper variant of the same question).
A selector returns a :class:`Selection`: a sub-system asking a subset of questions.

Contract every selector obeys:

* It reads only ``train`` and ``val`` image sets, never test.
* The selected system has the same classes and scoring knobs; its groups are a subset
  of the candidate questions in system order (at most one variant per group), and
  each class's rule in a kept group points to the same option *text* as before.
* Locked groups (``system.locks.groups``) are always kept, whole and unchanged; a
  group with a locked rule is kept whole too.
* ``budget`` bounds the prompts per image (the options of the kept groups; plus one
  per class when the name prior is on). When the locked groups alone exceed it only
  they are kept, and ``stopped_because`` says so.
* It is deterministic for the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cotclip.systems.model import Group, System

if TYPE_CHECKING:
    from cotclip.scoring.scorer import ImageSet

__all__ = ["Question", "SelectionStep", "Selection", "Selector", "candidate_questions", "system_of", "prior_prompts"]


@dataclass(frozen=True)
class Question:
    """A candidate question: a group (maybe with fewer options) and each class's option in it."""

    group: Group
    rules: tuple[int | None, ...]
    """Option index per class of the system (system class order), ``None`` = no rule."""
    pruned: bool = False

    @property
    def name(self) -> str:
        """The group's name (shared by its variants)."""
        return self.group.name

    @property
    def label(self) -> str:
        """Name plus variant, e.g. ``color`` or ``color[used options]``."""
        return f"{self.name}[used options]" if self.pruned else self.name

    @property
    def cost(self) -> int:
        """Prompts per image: the number of options."""
        return len(self.group.options)


def _locked_whole(system: System) -> set[str]:
    return set(system.locks.groups) | {group for _, group in system.locks.rules}


def candidate_questions(system: System, *, prune_options: bool = True) -> list[Question]:
    """Every group of ``system`` as a question, plus its used-options-only variant when cheaper."""
    questions = []
    locked = _locked_whole(system)
    for group in system.groups:
        rules = tuple(system.rule(c, group.name) for c in system.classes)
        questions.append(Question(group, rules))
        used = sorted({r for r in rules if r is not None})
        if prune_options and group.name not in locked and 2 <= len(used) < len(group.options):
            remap = {old: new for new, old in enumerate(used)}
            pruned = group.model_copy(update={"options": [group.options[i] for i in used]})
            questions.append(Question(pruned, tuple(None if r is None else remap[r] for r in rules), pruned=True))
    return questions


def prior_prompts(system: System) -> int:
    """Prompts per image the name prior adds (the class count when its weight is > 0)."""
    return len(system.classes) if system.scoring.name_prior_weight > 0 else 0


def system_of(system: System, questions: Sequence[Question], method: str, details: dict | None = None) -> System:
    """The sub-system asking exactly ``questions`` (kept in the original group order)."""
    order = {name: i for i, name in enumerate(system.group_names)}
    chosen = sorted(questions, key=lambda q: order[q.name])
    data = system.to_dict()
    data["groups"] = [q.group.model_dump(mode="json") for q in chosen]
    data["rules"] = {c: {q.name: q.rules[i] for q in chosen} for i, c in enumerate(system.classes)}
    data["provenance"] = {"parent": system.fingerprint(), "method": method, "details": details or {}}
    return System.from_data(data)


@dataclass(frozen=True)
class SelectionStep:
    """One pick of a greedy selector and why it was picked."""

    question: str
    score: float
    """What the selector maximised (bits for information gain, val accuracy for greedy-by-val)."""
    prompts: int
    """Prompts per image after this pick."""
    details: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"question": self.question, "score": self.score, "prompts": self.prompts, **self.details}


@dataclass(frozen=True)
class Selection:
    """The questions a selector kept, as a ready sub-system, with the path that led there."""

    method: str
    system: System
    questions: tuple[str, ...]
    steps: tuple[SelectionStep, ...]
    prompts: int
    full_prompts: int
    stopped_because: str
    evaluations: int = 0
    """Val evaluations spent choosing (0 for selectors that only read train)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the system as its canonical dict)."""
        return {
            "method": self.method,
            "questions": list(self.questions),
            "prompts": self.prompts,
            "full_prompts": self.full_prompts,
            "stopped_because": self.stopped_because,
            "evaluations": self.evaluations,
            "steps": [s.to_dict() for s in self.steps],
            "system": self.system.to_dict(),
        }


@runtime_checkable
class Selector(Protocol):
    """Chooses the questions a system asks (see the module docstring for the contract)."""

    name: str

    def select(self, system: System, train: ImageSet, val: ImageSet, *, budget: int | None = None) -> Selection:
        """A sub-system of ``system`` within ``budget`` prompts per image (None = no budget)."""
        ...
