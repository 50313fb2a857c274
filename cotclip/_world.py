"""The synthetic planted-attribute world (a SIMULATION): ``describe_world``, ``world_oracle`` and ``world_notes``.

A world is named by a preset (``pokemon-like``, ``large``), ``random:<seed>`` or a world
YAML file; a leading ``synthetic:`` is accepted, so the string given as ``data`` works here
too. A loaded :class:`~cotclip.scoring.simulation.World` is accepted as well.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from cotclip._systems import FORMATS, convert_system
from cotclip._types import need, need_path, need_text
from cotclip.scoring.simulation import World, load_world
from cotclip.scoring.simulation.report import WorldReport
from cotclip.systems.errors import InputError
from cotclip.systems.model import System

__all__ = ["WorldLike", "WorldDescription", "open_world", "describe_world", "world_oracle", "world_notes"]

#: a world spec (``pokemon-like``, ``synthetic:large``, ``random:7``, ``world.yaml``) or a loaded :class:`World`
WorldLike = str | World

_EXAMPLE = "pokemon-like"


@dataclass(frozen=True)
class WorldDescription:
    """What :func:`describe_world` found: the world itself and its reference accuracies per split."""

    world: World
    report: WorldReport

    @property
    def temperature(self) -> float:
        """The scoring temperature the accuracies were measured at."""
        return self.report.temperature

    def to_dict(self) -> dict[str, Any]:
        """What ``cotclip world describe --json`` prints: the world, the temperature, the split seed, accuracies."""
        return self.report.to_dict()


def open_world(world: WorldLike) -> World:
    """The world ``world`` names (a loaded :class:`World` is returned as it is); DataError for an unknown one."""
    if isinstance(world, World):
        return world
    spec = need_text(world, "world", _EXAMPLE)
    return load_world(spec.strip().removeprefix("synthetic:"))


def describe_world(world: WorldLike, *, temperature: float | None = None, split_seed: int = 0) -> WorldDescription:
    """Describe ``world`` and score its class-name baseline and its oracle on every split (train, val, test, all).

    ``temperature`` is the scoring temperature (default: the oracle's); ``split_seed`` seeds
    the stratified train/val/test split. Raises :class:`InputError` for a temperature that
    is not a finite number > 0 and :class:`DataError` for an unknown world.
    """
    if temperature is not None:
        need(temperature, "temperature", (int, float), "a number > 0")
        if not (math.isfinite(temperature) and temperature > 0):
            raise InputError(f"--temperature must be positive (got {temperature}); try 0.05")
    need(split_seed, "split_seed", int, "an int")
    built = open_world(world)
    from cotclip.scoring.simulation.report import describe_world as measure  # loads the scorer

    return WorldDescription(built, measure(built, temperature=temperature, split_seed=split_seed))


def world_oracle(world: WorldLike, out: str | os.PathLike[str], fmt: str = "json") -> System:
    """Write the world's oracle system (true groups, best phrasings, true rules) as ``fmt`` to ``out``; return it.

    ``fmt`` is one of :data:`cotclip._systems.FORMATS` (``json``, ``yaml``, ``seed-json``);
    the file is written atomically. Raises :class:`InputError` for an unknown format,
    before the world is built.
    """
    need_path(out, "out")
    need(fmt, "fmt", str, f"a format name: {', '.join(FORMATS)}")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use --format with one of: {', '.join(FORMATS)}")
    return convert_system(open_world(world).oracle_system(), out, fmt=fmt)


def world_notes(world: WorldLike, *, omit_rate: float = 0.0, error_rate: float = 0.0, seed: int = 0) -> dict[str, str]:
    """Per-class field notes (``{class: note}``) built from the world's true attributes.

    Each attribute clause is left out with probability ``omit_rate`` and, when kept, names
    a wrong value with probability ``error_rate`` (both in [0, 1]); ``seed`` seeds both.
    The same arguments always give the same notes. Raises :class:`InputError` for a rate
    outside [0, 1].
    """
    for name, rate in (("omit_rate", omit_rate), ("error_rate", error_rate)):
        need(rate, name, (int, float), "a probability in [0, 1]")
    need(seed, "seed", int, "an int")
    return open_world(world).field_notes(omit_rate=omit_rate, error_rate=error_rate, seed=seed)
