"""Report every problem of raw system data without raising (``cotclip validate``)."""

from __future__ import annotations

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


def format_pydantic_error(exc: ValidationError, data: Any) -> list[str]:
    """One line per type error, e.g. ``groups[0]('color').options: Input should be a valid list``."""
    lines = []
    for err in exc.errors():
        where = _location(tuple(err["loc"]), data) or "system"
        got = err.get("input")
        got_text = f" (got {type(got).__name__} {got!r:.60})" if err["type"] != "missing" else ""
        lines.append(f"{where}: {err['msg']}{got_text}")
    return lines


def validate_data(data: Any) -> ValidationReport:
    """Type-check then semantically check canonical system data; never raises on bad data."""
    if not isinstance(data, dict):
        return ValidationReport(errors=[f"a system must be a mapping at the top level, got {type(data).__name__}"])
    try:
        fields = SystemFields.model_validate(data)
    except ValidationError as exc:
        return ValidationReport(errors=format_pydantic_error(exc, data))
    errors = semantic_errors(fields)
    warnings = [] if errors else semantic_warnings(fields)
    return ValidationReport(errors=errors, warnings=warnings)
