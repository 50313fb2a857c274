"""Classification systems: the format, its validation, import/export and ready systems."""

from cotclip.systems.errors import CotclipError, SystemValidationError
from cotclip.systems.model import FORMAT_VERSION, Group, Locks, Provenance, ScoringConfig, System
from cotclip.systems.validate import ValidationReport, validate_data

__all__ = [
    "CotclipError",
    "SystemValidationError",
    "FORMAT_VERSION",
    "Group",
    "Locks",
    "Provenance",
    "ScoringConfig",
    "System",
    "ValidationReport",
    "validate_data",
]
