"""Random planted-attribute worlds for benchmarking: ``synthetic:random:<seed>[,key=value...]``.

A seeded distribution over world configurations, so that anyone can rebuild a benchmark
world from its seed alone (the numbers are SIMULATED, as for every synthetic world):

==========================  =====================================================
classes                     10..60 (uniform integer)
groups                      4..8 of the built-in vocabularies (distinct, random)
values per group            3..min(16, vocabulary size), enough for distinct signatures
visibility per group        0.2..0.9
images_per_class            8..30
noise                       2.0..5.0 (expected length of the per-image noise)
nuisance                    count 2..12, strength 0.5..1.5
name_alignment              0.1..0.6
identity_strength           0.5..1.5
confusable_fraction         0.0..0.5
surface_forms               3 (every phrasing level is in play)
==========================  =====================================================

A spec may pin the integer settings inside their ranges, e.g.
``random:7,classes=30,groups=6,images_per_class=10``; everything else is drawn from the
seed. A spec outside the ranges, or malformed, is a :class:`DataError` naming the bad
value and the range.
"""

from __future__ import annotations

import math
from typing import Any

from cotclip.scoring.simulation.geometry import seeded_rng
from cotclip.scoring.simulation.vocab import VOCABULARIES
from cotclip.systems.errors import DataError

__all__ = ["RANDOM_PREFIX", "RANGES", "is_random_spec", "random_world_config"]

RANDOM_PREFIX = "random:"
MAX_SEED = 2**32 - 1

#: (low, high) of every drawn setting, both ends included.
RANGES: dict[str, tuple[float, float]] = {
    "classes": (10, 60),
    "groups": (4, 8),
    "images_per_class": (8, 30),
    "visibility": (0.2, 0.9),
    "noise": (2.0, 5.0),
    "nuisance_count": (2, 12),
    "nuisance_strength": (0.5, 1.5),
    "name_alignment": (0.1, 0.6),
    "identity_strength": (0.5, 1.5),
    "confusable_fraction": (0.0, 0.5),
}
PINNABLE = ("classes", "groups", "images_per_class")
_MIN_VALUES, _MAX_VALUES = 3, 16


def is_random_spec(spec: str) -> bool:
    """Whether ``spec`` names a random world (``random:<seed>...``)."""
    return spec.startswith(RANDOM_PREFIX)


def _integer(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise DataError(
            f"random world: {what}={text.strip()!r} is not an integer; use an integer in {low}..{high}"
        ) from None
    if not low <= value <= high:
        raise DataError(f"random world: {what}={value} is outside {low}..{high}; use a value in that range")
    return value


def parse_random_spec(spec: str) -> tuple[int, dict[str, int]]:
    """``(seed, pinned settings)`` of ``random:<seed>[,key=value...]``; DataError when malformed."""
    body = spec[len(RANDOM_PREFIX) :] if is_random_spec(spec) else spec
    seed_text, *pairs = body.split(",")
    if not seed_text.strip():
        raise DataError(f"random world {spec!r} has no seed; use random:<seed> with a seed in 0..{MAX_SEED}")
    seed = _integer(seed_text, "seed", 0, MAX_SEED)
    pinned: dict[str, int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or key not in PINNABLE:
            raise DataError(f"random world: cannot read {pair.strip()!r}; pin only {', '.join(PINNABLE)} as key=value")
        low, high = RANGES[key]
        pinned[key] = _integer(value, key, int(low), int(high))
    return seed, pinned


def _uniform(rng: Any, key: str) -> float:
    low, high = RANGES[key]
    return round(float(rng.uniform(low, high)), 3)


def _integer_draw(rng: Any, key: str) -> int:
    low, high = RANGES[key]
    return int(rng.integers(int(low), int(high) + 1))


def _groups(rng: Any, count: int, n_classes: int) -> list[dict[str, Any]]:
    names = sorted(str(name) for name in rng.choice(sorted(VOCABULARIES), size=count, replace=False))
    values: dict[str, int] = {}
    visibility: dict[str, float] = {}
    for name in names:
        most = min(_MAX_VALUES, len(VOCABULARIES[name].values))
        values[name] = int(rng.integers(_MIN_VALUES, most + 1))
        visibility[name] = _uniform(rng, "visibility")
    # widen the largest-vocabulary groups until every class can have its own signature
    while math.prod(values.values()) < n_classes:
        room = [name for name in names if values[name] < min(_MAX_VALUES, len(VOCABULARIES[name].values))]
        values[max(room, key=lambda name: len(VOCABULARIES[name].values))] += 1
    return [{"name": name, "values": values[name], "visibility": visibility[name]} for name in names]


def random_world_config(spec: str) -> dict[str, Any]:
    """The world settings (a world-file mapping) drawn for ``random:<seed>[,key=value...]``."""
    seed, pinned = parse_random_spec(spec)
    # separate streams: pinning one setting leaves every other draw as it was
    rng = seeded_rng(seed, "random-world")
    n_classes = pinned.get("classes", _integer_draw(rng, "classes"))
    n_groups = pinned.get("groups", _integer_draw(rng, "groups"))
    images = pinned.get("images_per_class", _integer_draw(rng, "images_per_class"))
    groups = _groups(seeded_rng(seed, "random-world-groups"), n_groups, n_classes)
    return {
        "seed": seed,
        "dim": 128,
        "classes": n_classes,
        "groups": groups,
        "images_per_class": images,
        "noise": _uniform(rng, "noise"),
        "nuisance": {"count": _integer_draw(rng, "nuisance_count"), "strength": _uniform(rng, "nuisance_strength")},
        "name_alignment": _uniform(rng, "name_alignment"),
        "identity_strength": _uniform(rng, "identity_strength"),
        "surface_forms": 3,
        "confusable_fraction": _uniform(rng, "confusable_fraction"),
    }
