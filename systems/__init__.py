"""Classification systems: the format, its validation, import/export and ready systems."""

from cotclip.systems.errors import CotclipError, SystemValidationError
from cotclip.systems.io import dump_system, load_ready_system, load_system, read_system_data, save_system
from cotclip.systems.model import FORMAT_VERSION, Group, Locks, Provenance, ScoringConfig, System
from cotclip.systems.ready_systems import ready_system_names
from cotclip.systems.seed_format import export_seed, import_seed
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
    "load_system",
    "read_system_data",
    "dump_system",
    "save_system",
    "load_ready_system",
    "ready_system_names",
    "import_seed",
    "export_seed",
]
