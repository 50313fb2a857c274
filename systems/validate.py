"""Report every problem of raw system data without raising (``cotclip validate``)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cotclip.systems._checks import semantic_errors, semantic_warnings
from cotclip.systems.model import SystemFields

__all__ = ["ValidationReport", "validate_data", "format_pydantic_error"]


@dataclass(frozen=True)
class ValidationReport:
    """Errors make a system unusable; warnings point at weaknesses."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """``{"valid", "errors", "warnings"}`` as printed by ``cotclip validate --json``."""
        return {"valid": self.valid, "errors": list(self.errors), "warnings": list(self.warnings)}


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic location with names instead of list positions where possible."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node):
            entry = node[item]
            label = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"[{item}]" + (f"({label!r})" if label else ""))
            node = entry
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


_FIX_HINTS = {
    "missing": "; add it",
    "extra_forbidden": "; remove it or correct the field name",
}


def format_pydantic_error(exc: ValidationError, data: Any, skip: frozenset[tuple[Any, ...]] = frozenset()) -> list[str]:
    """One line per type error, e.g. ``groups[0]('color').options: Input should be a valid list``.

    Errors located at a path in ``skip`` are left out (already reported more precisely).
    """
    lines = []
    for err in exc.errors():
        if tuple(err["loc"]) in skip:
            continue
        where = _location(tuple(err["loc"]), data) or "system"
        got = err.get("input")
        got_text = f" (got {type(got).__name__} {got!r:.60})" if err["type"] != "missing" else ""
        lines.append(f"{where}: {err['msg']}{got_text}{_FIX_HINTS.get(err['type'], '')}")
    return lines


def _rule_index_type_errors(data: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    """Rule values that are not integers or null (pydantic alone would coerce ``"1"``, ``true``, ``1.0``)."""
    rules = data.get("rules")
    errors: dict[tuple[Any, ...], str] = {}
    if not isinstance(rules, dict):
        return errors
    for class_name, rule in rules.items():
        for group_name, index in rule.items() if isinstance(rule, dict) else ():
            if index is not None and (isinstance(index, bool) or not isinstance(index, numbers.Integral)):
                errors[("rules", class_name, group_name)] = (
                    f"rule {class_name!r}/{group_name!r} = {index!r} is a {type(index).__name__}, "
                    "not an option index; write an integer option index (0 = first option) or null"
                )
    return errors


def validate_data(data: Any) -> ValidationReport:
    """Type-check then semantically check canonical system data; never raises on bad data."""
    if not isinstance(data, dict):
        return ValidationReport(
            errors=[
                f"a system must be a mapping at the top level, got {type(data).__name__}; "
                "write an object with classes, groups and rules (or the seed format)"
            ]
        )
    index_errors = _rule_index_type_errors(data)
    try:
        fields = SystemFields.model_validate(data)
    except ValidationError as exc:
        skip = frozenset(index_errors)
        return ValidationReport(errors=list(index_errors.values()) + format_pydantic_error(exc, data, skip))
    if index_errors:
        return ValidationReport(errors=list(index_errors.values()))
    errors = semantic_errors(fields)
    warnings = [] if errors else semantic_warnings(fields)
    return ValidationReport(errors=errors, warnings=warnings)
