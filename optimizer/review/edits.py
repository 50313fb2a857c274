"""Reviewer edits: parse, validate and apply them to a system.

The same edits come from the review page (JSON) and from ``cotclip review --apply
edits.yaml``. The YAML schema::

    edits:                                   # applied in order
      - {op: set_rule, class: Absol, group: dominant_color, option: 0}     # option: index or null
      - {op: set_option, group: dominant_color, index: 1, text: grey}      # reword an option
      - {op: set_template, group: dominant_color, template: "It is {}."}   # index: 0 main, 1.. variants
      - {op: lock_rule, class: Absol, group: dominant_color}               # also unlock_rule
      - {op: lock_group, group: background_scene}                          # also unlock_group
    notes:                                   # free text kept with the new version
      - "Absol's background is a battlefield in most cards"

Locks bind optimization only: a reviewer may edit a locked item. Every problem
raises :class:`EditError` (one line naming the edit) and nothing is applied.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cotclip.systems.errors import InputError, SystemValidationError
from cotclip.systems.model import System

__all__ = ["EditError", "Edit", "EditBatch", "parse_edits", "apply_edits"]


class EditError(InputError):
    """A reviewer edit names something that does not exist or would break the system."""


class _Edit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The edit as written in YAML (``class`` rather than ``class_name``)."""
        return self.model_dump(by_alias=True)


class SetRule(_Edit):
    """Class ``class_name`` picks ``option`` (an index, or None for no rule) in ``group``."""

    op: Literal["set_rule"]
    class_name: str = Field(alias="class")
    group: str
    option: int | None


class SetOption(_Edit):
    """Reword option ``index`` of ``group``."""

    op: Literal["set_option"]
    group: str
    index: int
    text: str


class SetTemplate(_Edit):
    """Replace template ``index`` of ``group`` (0 = the main prompt, 1.. = its variants)."""

    op: Literal["set_template"]
    group: str
    template: str
    index: int = 0


class LockRule(_Edit):
    """Lock or unlock one (class, group) rule against optimization."""

    op: Literal["lock_rule", "unlock_rule"]
    class_name: str = Field(alias="class")
    group: str


class LockGroup(_Edit):
    """Lock or unlock a whole group (its wording and every rule in it)."""

    op: Literal["lock_group", "unlock_group"]
    group: str


Edit = Annotated[SetRule | SetOption | SetTemplate | LockRule | LockGroup, Field(discriminator="op")]


class EditBatch(BaseModel):
    """Edits applied in order plus the reviewer's notes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    edits: list[Edit] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"edits": [...], "notes": [...]}`` in the YAML schema."""
        return {"edits": [e.to_dict() for e in self.edits], "notes": list(self.notes)}


_BATCH = TypeAdapter(EditBatch)


def parse_edits(data: Any, source: str = "edits") -> EditBatch:
    """Type-check raw edit data (the YAML schema above); raises :class:`EditError`."""
    if not isinstance(data, dict):
        raise EditError(f"{source}: expected a mapping with `edits` and optional `notes`, got {type(data).__name__}")
    try:
        batch = _BATCH.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise EditError(f"{source}: {where}: {first['msg']}; see `cotclip review --help` for the edit schema") from None
    if not batch.edits and not any(note.strip() for note in batch.notes):
        raise EditError(f"{source}: no edits and no notes; nothing to save")
    return batch


def _group_index(data: dict[str, Any], name: str, where: str) -> int:
    for index, group in enumerate(data["groups"]):
        if group["name"] == name:
            return index
    known = ", ".join(g["name"] for g in data["groups"])
    raise EditError(f"{where}: unknown group {name!r}; known groups: {known}")


def _check_class(data: dict[str, Any], name: str, where: str) -> None:
    if name not in data["classes"]:
        raise EditError(f"{where}: unknown class {name!r}; use one of the system's classes")


def _in_range(index: int, size: int, what: str, group: str, where: str) -> None:
    if not 0 <= index < size:
        raise EditError(f"{where}: {what} {index} of group {group!r} is out of range; use 0..{size - 1}")


def _apply_one(data: dict[str, Any], edit: Edit, where: str) -> None:
    group = data["groups"][_group_index(data, edit.group, where)]
    if isinstance(edit, SetRule):
        _check_class(data, edit.class_name, where)
        if edit.option is not None:
            _in_range(edit.option, len(group["options"]), "option", edit.group, where)
        data["rules"][edit.class_name][edit.group] = edit.option
    elif isinstance(edit, SetOption):
        _in_range(edit.index, len(group["options"]), "option", edit.group, where)
        if not edit.text.strip():
            raise EditError(f"{where}: option text is empty; write the option or keep the old wording")
        group["options"][edit.index] = edit.text.strip()
    elif isinstance(edit, SetTemplate):
        _in_range(edit.index, 1 + len(group["extra_prompts"]), "template", edit.group, where)
        if edit.template.count("{}") != 1:
            raise EditError(f"{where}: template {edit.template!r} must contain exactly one {{}} placeholder")
        if edit.index == 0:
            group["prompt"] = edit.template
        else:
            group["extra_prompts"][edit.index - 1] = edit.template
    elif isinstance(edit, LockRule):
        _check_class(data, edit.class_name, where)
        pair = [edit.class_name, edit.group]
        rules = [r for r in data["locks"]["rules"] if list(r) != pair]
        data["locks"]["rules"] = rules + [pair] if edit.op == "lock_rule" else rules
    else:
        groups = [g for g in data["locks"]["groups"] if g != edit.group]
        data["locks"]["groups"] = groups + [edit.group] if edit.op == "lock_group" else groups


def apply_edits(system: System, batch: EditBatch, parent: str | None = None) -> System:
    """A new system with ``batch`` applied, provenance ``human-edit`` and the notes appended.

    Raises :class:`EditError` for the first bad edit (nothing is applied).
    """
    data = system.to_dict()
    for number, edit in enumerate(batch.edits, start=1):
        _apply_one(data, edit, f"edit {number} ({edit.op})")
    notes = [note.strip() for note in batch.notes if note.strip()]
    data["notes"] = list(data.get("notes", [])) + notes
    data["provenance"] = {
        "parent": parent if parent is not None else system.provenance.parent,
        "method": "human-edit",
        "details": {"edits": [e.to_dict() for e in batch.edits], "notes": notes},
        "created_at": None,
    }
    try:
        return System.from_data(data)
    except SystemValidationError as exc:
        raise EditError(f"the edited system is invalid: {exc.errors[0]}") from None
