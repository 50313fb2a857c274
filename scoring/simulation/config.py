"""The world file: a validated description of a planted-attribute world, and its presets.

A world YAML (read with ``yaml.safe_load``) looks like::

    seed: 7
    dim: 128
    classes: 16                 # a count (made-up names) or a list of names
    groups:                     # names are built-in vocabularies: color, form, trait,
      - {name: color, values: 9, visibility: 0.9}   # shape, background, texture, size,
      - {name: trait, values: 12, visibility: 0.4}  # pattern, pose
    images_per_class: 9
    noise: 0.6                  # expected length of the per-image noise vector
    nuisance: {count: 6, strength: 0.5}   # per-image styles/backgrounds
    name_alignment: 0.1         # 0 = class names mean nothing to the encoder (OOD)
    surface_forms: 3            # phrasings per value the encoder knows (1..3)
    confusable_fraction: 0.25   # share of classes in pairs differing in one group

Unknown keys, negative counts, visibilities outside [0, 1] and groups with too few
values to give every class its own attribute signature are errors (one line, with the fix).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cotclip.scoring.simulation.text import normalize_text
from cotclip.scoring.simulation.vocab import VOCABULARIES
from cotclip.systems.errors import DataError

__all__ = ["GroupConfig", "NuisanceConfig", "WorldConfig", "PRESETS", "parse_world_config", "read_world_config"]

MAX_SURFACE_FORMS = min(len(row) for v in VOCABULARIES.values() for row in v.values)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupConfig(_Strict):
    """One attribute group: a built-in vocabulary, how many of its values, how visible."""

    name: str
    values: int = Field(ge=2)
    visibility: float = Field(ge=0.0, le=1.0)


class NuisanceConfig(_Strict):
    """Per-image styles: ``count`` style vectors, one drawn per image, at ``strength``."""

    count: int = Field(default=4, ge=0)
    strength: float = Field(default=0.5, ge=0.0)


class WorldConfig(_Strict):
    """A planted-attribute world; see the module docstring for the meaning of each field."""

    seed: int = Field(default=0, ge=0)
    dim: int = Field(default=128, ge=8, le=4096)
    classes: Annotated[int, Field(ge=2)] | Annotated[list[str], Field(min_length=2)]
    groups: list[GroupConfig] = Field(min_length=1)
    images_per_class: int = Field(default=9, ge=1)
    noise: float = Field(default=0.5, ge=0.0)
    nuisance: NuisanceConfig = Field(default_factory=NuisanceConfig)
    name_alignment: float = Field(default=0.1, ge=0.0, le=1.0)
    surface_forms: int = Field(default=2, ge=1, le=MAX_SURFACE_FORMS)
    confusable_fraction: float = Field(default=0.25, ge=0.0, le=1.0)
    identity_strength: float = Field(default=0.3, ge=0.0, description="Weight of the class-identity vector.")
    template_strength: float = Field(default=0.3, ge=0.0, description="Weight of a prompt template's offset.")
    synonym_spread: float = Field(default=0.3, ge=0.0, description="How far the k-th surface form strays.")
    oracle_temperature: float = Field(default=0.05, gt=0.0, description="Temperature in the oracle's scoring.")

    @property
    def class_count(self) -> int:
        """Number of classes, whether given as a count or as names."""
        return self.classes if isinstance(self.classes, int) else len(self.classes)

    @model_validator(mode="after")
    def _check_groups_and_names(self) -> WorldConfig:
        seen: set[str] = set()
        for group in self.groups:
            vocab = VOCABULARIES.get(group.name)
            if vocab is None:
                raise ValueError(
                    f"group {group.name!r} has no built-in vocabulary; use one of {', '.join(VOCABULARIES)}"
                )
            if group.name in seen:
                raise ValueError(f"group {group.name!r} is listed twice; list each vocabulary once")
            seen.add(group.name)
            if group.values > len(vocab.values):
                raise ValueError(
                    f"group {group.name!r} asks for {group.values} values; its vocabulary has {len(vocab.values)}"
                )
        signatures = math.prod(group.values for group in self.groups)
        if signatures < self.class_count:
            raise ValueError(
                f"the groups give only {signatures} distinct attribute signatures for {self.class_count} classes; "
                "add values or groups so that every class can differ"
            )
        if isinstance(self.classes, list):
            _check_class_names(self.classes)
        return self


def _check_class_names(names: list[str]) -> None:
    known_forms = {normalize_text(form) for v in VOCABULARIES.values() for row in v.values for form in row}
    seen: set[str] = set()
    for name in names:
        key = normalize_text(name)
        if not key:
            raise ValueError("a class name is empty; give every class a name")
        if key in seen:
            raise ValueError(f"class {name!r} is listed twice; class names must be unique")
        if key in known_forms:
            raise ValueError(f"class {name!r} is also an attribute phrase; rename the class")
        seen.add(key)


_POKEMON_LIKE: dict[str, Any] = {
    "seed": 5,
    "dim": 128,
    "classes": 16,
    "groups": [
        {"name": "color", "values": 9, "visibility": 0.9},
        {"name": "form", "values": 12, "visibility": 0.75},
        {"name": "trait", "values": 12, "visibility": 0.45},
        {"name": "shape", "values": 10, "visibility": 0.6},
        {"name": "background", "values": 8, "visibility": 0.5},
    ],
    "images_per_class": 9,
    "noise": 4.0,
    "nuisance": {"count": 6, "strength": 1.0},
    "name_alignment": 0.4,
    "identity_strength": 1.0,
    "surface_forms": 3,
    "confusable_fraction": 0.25,
}

PRESETS: dict[str, dict[str, Any]] = {
    "pokemon-like": _POKEMON_LIKE,
    # pokemon-like with enough test images for +-5-point 95% intervals (384 test images at 0.2): the demo's world
    "pokemon-like-xl": {**_POKEMON_LIKE, "images_per_class": 120},
    # a second benchmark world for the proposers: 32 classes, 6 groups, 384 test images at 0.2
    "menagerie": {
        "seed": 23,
        "dim": 160,
        "classes": 32,
        "groups": [
            {"name": "color", "values": 14, "visibility": 0.85},
            {"name": "form", "values": 16, "visibility": 0.7},
            {"name": "trait", "values": 16, "visibility": 0.5},
            {"name": "shape", "values": 12, "visibility": 0.55},
            {"name": "background", "values": 12, "visibility": 0.5},
            {"name": "texture", "values": 10, "visibility": 0.6},
        ],
        "images_per_class": 60,
        "noise": 4.0,
        "nuisance": {"count": 8, "strength": 1.0},
        "name_alignment": 0.4,
        "identity_strength": 1.0,
        "surface_forms": 3,
        "confusable_fraction": 0.25,
    },
    "large": {
        "seed": 11,
        "dim": 256,
        "classes": 400,
        "groups": [
            {"name": "color", "values": 24, "visibility": 0.9},
            {"name": "form", "values": 32, "visibility": 0.8},
            {"name": "trait", "values": 30, "visibility": 0.5},
            {"name": "shape", "values": 16, "visibility": 0.6},
            {"name": "background", "values": 24, "visibility": 0.5},
            {"name": "texture", "values": 14, "visibility": 0.6},
            {"name": "pattern", "values": 12, "visibility": 0.4},
        ],
        "images_per_class": 15,
        "noise": 5.0,
        "nuisance": {"count": 12, "strength": 1.0},
        "name_alignment": 0.4,
        "identity_strength": 1.0,
        "surface_forms": 3,
        "confusable_fraction": 0.25,
    },
}


def _one_line(exc: ValidationError) -> str:
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    first = errors[0]
    parts = [str(part) for part in first["loc"]]
    where = ".".join(part for part in parts if not part.startswith(("constrained-", "list[")) and part != "int")
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(WorldConfig.model_fields)
        return f"unknown key {where!r}; allowed keys: {allowed} (a group has name, values, visibility){more}"
    if parts and parts[0] == "classes":
        return "classes must be a count of at least 2 or a list of at least 2 names"
    bound = _BOUNDS.get(first["type"])
    if bound is not None:
        limit = (first.get("ctx") or {}).get(bound[1])
        return f"{where} is {first.get('input')!r} but must be {bound[0]} {limit}; fix it in the world file{more}"
    if first["type"] in _KINDS:
        return f"{where} is {first.get('input')!r} but must be {_KINDS[first['type']]}; fix it in the world file{more}"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where + ': ' if where else ''}{message}{more}"


#: pydantic error types of a numeric bound -> (comparison, the ctx key that holds the limit)
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_KINDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def parse_world_config(data: Any, source: str) -> WorldConfig:
    """Validate raw data as a :class:`WorldConfig`; raises DataError naming ``source``."""
    if not isinstance(data, dict):
        raise DataError(
            f"world {source}: expected a mapping of settings (seed, dim, classes, groups, ...); got "
            f"{type(data).__name__}"
        )
    try:
        return WorldConfig.model_validate(data)
    except ValidationError as exc:
        raise DataError(f"world {source}: {_one_line(exc)}") from None


def read_world_config(spec: str) -> tuple[str, WorldConfig]:
    """``(name, config)`` for a preset name, ``random:<seed>[,key=value...]`` or a world YAML/JSON file path."""
    if spec in PRESETS:
        return spec, parse_world_config(PRESETS[spec], spec)
    from cotclip.scoring.simulation.random_world import is_random_spec, random_world_config

    if is_random_spec(spec):
        return spec, parse_world_config(random_world_config(spec), spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise DataError(
            f"unknown synthetic world {spec!r}: not a preset ({', '.join(PRESETS)}), not random:<seed> and no such "
            "file; "
            "pass a preset name, random:<seed> or the path of a world .yaml"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())[:160]
        raise DataError(f"world {spec}: cannot read it as YAML ({reason}); fix the file") from None
    return path.stem, parse_world_config(data, spec)
