"""Pieces the benchmark scripts share: best-of timing, random unit rows, random systems, a table encoder.

Imported as ``from _common import ...``: the scripts are run as files
(``.venv/bin/python benchmarks/bench_<x>.py``), which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from cotclip.systems.model import System

DIM = 512


class TableEncoder:
    """Looks texts up in a fixed table of random unit vectors."""

    identity = "bench:table"
    dim = DIM

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode_texts(self, texts):
        """Rows of the table, in order."""
        return np.stack([self.table[t] for t in texts])

    def encode_images(self, images):  # pragma: no cover - images arrive as embeddings
        raise NotImplementedError


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random unit vectors of width DIM."""
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def random_system(rng: np.random.Generator, sizes: list[int], n_classes: int, temperature: float = 1.0) -> System:
    """A system with groups of ``sizes`` options and random rules (no nulls, weights 1)."""
    groups = [
        {"name": f"g{g}", "prompt": f"question {g}: {{}}.", "options": [f"o{g}-{i}" for i in range(k)]}
        for g, k in enumerate(sizes)
    ]
    classes = [f"class {c}" for c in range(n_classes)]
    rules = {c: {f"g{g}": int(rng.integers(k)) for g, k in enumerate(sizes)} for c in classes}
    return System.from_data(
        {"classes": classes, "groups": groups, "rules": rules, "scoring": {"temperature": temperature}}
    )


def best_seconds(run: Callable[[], object], repeat: int, inner: int = 1) -> float:
    """Best of ``repeat`` timings of ``inner`` calls, per call."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            run()
        best = min(best, (time.perf_counter() - start) / inner)
    return best
