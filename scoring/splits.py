"""Deterministic, stratified train/val/test splits.

Each class is split on its own: its positions are shuffled by a generator seeded with
``seed`` and the class name (so adding a class leaves the other classes' splits
unchanged), then cut by ``fractions`` with largest-remainder rounding. Every split
with a positive fraction gets at least one image of every class; a class too small
for that raises :class:`~cotclip.systems.errors.DataError` naming it (never a silent
drop, and no warning-only mode: a class missing from val or test would make the
numbers on that split meaningless). Positions inside each split are ascending.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cotclip.systems.errors import DataError

__all__ = ["Splits", "SPLIT_NAMES", "split_dataset", "select", "check_fractions"]

SPLIT_NAMES = ("train", "val", "test", "all")


@dataclass(frozen=True)
class Splits:
    """Positions into the dataset for each split."""

    train: list[int]
    val: list[int]
    test: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        """``{"train": [...], "val": [...], "test": [...]}``."""
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three non-negative fractions summing to 1 with a positive train share; else DataError."""
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise DataError(f"split fractions {fractions!r} must be 3 numbers train,val,test, e.g. 0.6,0.2,0.2") from None
    if len(values) != 3 or any(not math.isfinite(v) or v < 0 for v in values):
        raise DataError(
            f"split fractions {fractions!r} must be 3 non-negative numbers train,val,test, e.g. 0.6,0.2,0.2"
        )
    if abs(sum(values) - 1.0) > 1e-6 or values[0] <= 0:
        raise DataError(f"split fractions {values} must sum to 1 with train > 0, e.g. 0.6,0.2,0.2")
    return values  # type: ignore[return-value]


def _class_counts(size: int, fractions: tuple[float, float, float]) -> list[int]:
    raw = [size * f for f in fractions]
    counts = [math.floor(r) for r in raw]
    by_remainder = sorted(range(3), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in by_remainder[: size - sum(counts)]:
        counts[i] += 1
    for i in range(3):
        if fractions[i] > 0 and counts[i] == 0:
            donor = max(range(3), key=lambda j: (counts[j], -j))
            counts[donor] -= 1
            counts[i] += 1
    return counts


def _class_seed(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{label}".encode()).digest()[:8], "little")


def split_dataset(labels: list[str], fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0) -> Splits:
    """Stratified split of ``labels``' positions; DataError names classes too small for every split."""
    shares = check_fractions(fractions)
    needed = sum(1 for f in shares if f > 0)
    by_class: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(label, []).append(position)
    small = {label: len(ps) for label, ps in by_class.items() if len(ps) < needed}
    if small:
        shown = ", ".join(f"{label!r} ({n})" for label, n in list(small.items())[:5])
        raise DataError(
            f"{len(small)} class(es) have fewer than the {needed} images a train/val/test split needs: {shown}; "
            "add images, drop those classes, or change the split fractions"
        )
    parts: list[list[int]] = [[], [], []]
    for label, positions in by_class.items():
        order = np.random.default_rng(_class_seed(seed, label)).permutation(len(positions))
        shuffled = [positions[i] for i in order]
        start = 0
        for part, count in zip(parts, _class_counts(len(positions), shares)):
            part.extend(shuffled[start : start + count])
            start += count
    train, val, test = (sorted(part) for part in parts)
    return Splits(train=train, val=val, test=test)


def select(splits: Splits, name: str) -> list[int]:
    """The positions of split ``name`` (``train``, ``val``, ``test`` or ``all``)."""
    if name == "all":
        return sorted([*splits.train, *splits.val, *splits.test])
    if name not in SPLIT_NAMES:
        raise DataError(f"unknown split {name!r}; use one of {', '.join(SPLIT_NAMES)}")
    return list(getattr(splits, name))
