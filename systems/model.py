"""The classification system: attribute groups, options, per-class rules, scoring knobs.

A :class:`System` is always valid: constructing one runs every semantic check of
:mod:`cotclip.systems._checks` and raises :class:`SystemValidationError` otherwise.
Use :func:`cotclip.systems.validate.validate_data` to *report* problems of raw data
without raising.

Canonical form (``to_dict``/``to_json``)::

    {"format": "cotclip.system/1", "name": ..., "classes": [...],
     "groups": [{"name", "prompt", "options", "weight", "extra_prompts"}],
     "rules": {class: {group: option_index | null}},
     "scoring": {"temperature", "aggregation", "name_prior_weight", "name_template"},
     "provenance": {...}, "locks": {"groups": [...], "rules": [[class, group]]},
     "notes": [...]}

A rule of ``null`` (or a group missing from a class's rule) means "this group says
nothing about this class": it adds nothing to that class's score.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cotclip.systems.errors import SystemValidationError

__all__ = [
    "FORMAT_VERSION",
    "Aggregation",
    "Group",
    "ScoringConfig",
    "Provenance",
    "Locks",
    "SystemFields",
    "System",
]

FORMAT_VERSION: Final = "cotclip.system/1"
Aggregation = Literal["prob_sum", "log_prob_sum"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Group(_Frozen):
    """One question asked of the encoder: a template with one ``{}`` and its options."""

    name: str
    prompt: str
    options: list[str]
    weight: float = Field(default=1.0, ge=0.0)
    extra_prompts: list[str] = Field(
        default_factory=list,
        description="Template variants; an option's text embedding is the mean over all templates.",
    )

    @property
    def templates(self) -> list[str]:
        """The main template followed by its variants."""
        return [self.prompt, *self.extra_prompts]

    def option_texts(self, option_index: int) -> list[str]:
        """Every prompt string whose embeddings are averaged for one option."""
        option = self.options[option_index]
        return [template.replace("{}", option, 1) for template in self.templates]


class ScoringConfig(_Frozen):
    """How group answers become class scores (the seed article's defaults)."""

    temperature: float = Field(default=1.0, gt=0.0)
    aggregation: Aggregation = "prob_sum"
    name_prior_weight: float = Field(default=0.0, ge=0.0)
    name_template: str = "a photo of {}"


class Provenance(_Frozen):
    """Where a system came from: its parent version and the move that made it."""

    parent: str | None = None
    method: str = "hand"
    details: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None


class Locks(_Frozen):
    """Items a human fixed: optimization never changes a locked group or rule."""

    groups: list[str] = Field(default_factory=list)
    rules: list[tuple[str, str]] = Field(default_factory=list)

    def rule_locked(self, class_name: str, group_name: str) -> bool:
        """Whether the (class, group) rule may not be changed by optimization."""
        return group_name in self.groups or (class_name, group_name) in self.rules


class SystemFields(_Frozen):
    """The typed fields of a system, before semantic checks (see :class:`System`)."""

    format: Literal["cotclip.system/1"] = FORMAT_VERSION
    name: str = "system"
    classes: list[str]
    groups: list[Group]
    rules: dict[str, dict[str, int | None]]
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    provenance: Provenance = Field(default_factory=Provenance)
    locks: Locks = Field(default_factory=Locks)
    notes: list[str] = Field(default_factory=list)


class System(SystemFields):
    """A valid classification system; construction raises on any semantic error.

    After validation ``rules`` holds every (class, group) pair: a group a class had no rule
    for becomes an explicit null, so two systems that mean the same compare equal.
    """

    @model_validator(mode="after")
    def _semantic_checks(self) -> System:
        from cotclip.systems._checks import semantic_errors

        errors = semantic_errors(self)
        if errors:
            raise SystemValidationError(errors)
        # Every rule explicit (a missing group becomes null), so equal meaning means equal systems.
        explicit = {c: {g.name: self.rules[c].get(g.name) for g in self.groups} for c in self.classes}
        object.__setattr__(self, "rules", explicit)  # the model is frozen; this runs once, during validation
        return self

    @classmethod
    def from_data(cls, data: Any, source: str | None = None) -> System:
        """Build from a canonical dict, raising :class:`SystemValidationError` with all problems."""
        from cotclip.systems.validate import validate_data

        report = validate_data(data)
        if report.errors:
            raise SystemValidationError(report.errors, source=source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:  # pragma: no cover - validate_data already caught these
            raise SystemValidationError([str(exc).splitlines()[0]], source=source) from None

    # ----- lookups -------------------------------------------------------------------
    @property
    def group_names(self) -> list[str]:
        """Group names in system order."""
        return [g.name for g in self.groups]

    def group(self, name: str) -> Group:
        """The group called ``name`` (KeyError if absent)."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def rule(self, class_name: str, group_name: str) -> int | None:
        """The option index class ``class_name`` picks in ``group_name`` (None = no rule)."""
        return self.rules.get(class_name, {}).get(group_name)

    def signature(self, class_name: str) -> tuple[int | None, ...]:
        """The class's rule indices over all groups, in group order."""
        return tuple(self.rule(class_name, g.name) for g in self.groups)

    def prompt_texts(self) -> list[str]:
        """Every unique prompt string the scorer must embed, in a stable order."""
        seen: dict[str, None] = {}
        for group in self.groups:
            for index in range(len(group.options)):
                for text in group.option_texts(index):
                    seen.setdefault(text, None)
        return list(seen)

    # ----- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Canonical dict with every rule explicit (nulls included)."""
        data = self.model_dump(mode="json")
        data["rules"] = {c: {g.name: self.rule(c, g.name) for g in self.groups} for c in self.classes}
        data["locks"]["rules"] = [list(pair) for pair in self.locks.rules]
        return data

    def to_json(self) -> str:
        """Canonical JSON text (stable key order as defined by the model, UTF-8)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def fingerprint(self) -> str:
        """sha256 of everything that affects scoring (not name, provenance, notes or locks)."""
        data = self.to_dict()
        content = {k: data[k] for k in ("classes", "groups", "rules", "scoring")}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def evolve(self, **changes: Any) -> System:
        """A new validated system with some top-level fields replaced."""
        data = self.to_dict()
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        return System.from_data(data)
