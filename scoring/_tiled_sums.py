"""Rule sums over image tiles with ``torch.nn.functional.embedding_bag``: the scorer's large-problem path.

A class's score is a sum over groups of one option term each, so for ``U`` rule signatures
and ``G`` groups the scores of an image take ``U x G`` additions, not the ``U x Q``
multiply-adds of a dense product with the 0/weight rule matrix. ``embedding_bag`` does
exactly that gather-and-sum; images are processed in tiles of :data:`TILE` so each
``[U, TILE]`` block stays in cache, and every caller sees the same tiles, hence the same
floating-point sums. Measured against the dense product in ``benchmarks/bench_scorer.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["TILE", "tiled_rule_sums", "tiled_rule_argmax"]

TILE = 256  # images per embedding_bag call


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch ops on the calling thread only, restoring the thread count afterwards.

    The tiles are many small ops; on a busy machine each multi-threaded op can wait a whole
    scheduler time slice for its helper thread (measured ~30x slower with 2 threads at a
    load of 3 on 2 cores), while one thread stays predictable.
    """
    import torch

    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


def _per_tile(
    terms: np.ndarray,
    rows: np.ndarray,
    weights: np.ndarray | None,
    prior: np.ndarray | None,
    class_columns: np.ndarray,
    reduce: Callable,
) -> list[np.ndarray]:
    import torch
    from torch.nn.functional import embedding_bag

    option_terms = torch.from_numpy(terms)
    bags = torch.from_numpy(rows)
    bag_weights = None if weights is None else torch.from_numpy(weights)
    prior_terms = None if prior is None else torch.from_numpy(prior)
    columns = torch.from_numpy(class_columns)
    reduced = []
    with _one_torch_thread():
        for start in range(0, terms.shape[1], TILE):
            tile = option_terms[:, start : start + TILE].contiguous()
            scores = embedding_bag(bags, tile, mode="sum", per_sample_weights=bag_weights)
            if prior_terms is not None:
                scores = scores.index_select(0, columns).add_(prior_terms[:, start : start + TILE])
            reduced.append(reduce(scores))
    return reduced


def tiled_rule_sums(
    terms: np.ndarray, rows: np.ndarray, weights: np.ndarray | None, prior: np.ndarray | None, class_columns: np.ndarray
) -> np.ndarray:
    """Scores ``[N, U]`` per rule signature, or ``[N, C]`` per class when ``prior`` is given.

    ``terms`` is ``[Q, N]`` (each option's probability or log-probability per image), ``rows``
    ``[U, G]`` int64 the option row each signature picks per group (0 where its rule is
    null), ``weights`` ``[U, G]`` the group weights (0 where null; None means all 1),
    ``prior`` ``[C, N]`` weighted name-prior terms added per class (classes ``->``
    signatures by ``class_columns``).
    """
    width = len(class_columns) if prior is not None else len(rows)
    tiles = _per_tile(terms, rows, weights, prior, class_columns, lambda scores: scores.numpy())
    if not tiles:
        return np.zeros((0, width), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(tiles, axis=1).T)


def _first_argmax_down(scores: np.ndarray, block: int = 32) -> np.ndarray:
    """Row of the first maximum of each column of ``scores`` ``[R, T]``.

    ``argmax`` along rows is a strided, scalar loop (~27 ms for R=1,000 over N=10,000). Here
    one vectorised max per block of ``block`` consecutive rows, an argmax over the few block
    maxima (the first block holding the column's maximum) and an argmax within that block's
    rows give the same first index (~7 ms).
    """
    rows, width = scores.shape
    full = rows // block * block
    maxima = scores[:full].reshape(-1, block, width).max(axis=1)
    if full < rows:
        maxima = np.vstack([maxima, scores[full:].max(axis=0)])
    starts = maxima.argmax(axis=0) * block
    columns = np.arange(width)
    flat = (starts * width + columns) + (np.arange(block) * width)[:, None]
    if full < rows:  # the last block is short: repeat its last row, which cannot come first
        np.minimum(flat, (rows - 1) * width + columns, out=flat)
    return starts + np.take(scores, flat).argmax(axis=0)


def tiled_rule_argmax(
    terms: np.ndarray, rows: np.ndarray, weights: np.ndarray | None, prior: np.ndarray | None, class_columns: np.ndarray
) -> np.ndarray:
    """``[N]`` index of the first best column of :func:`tiled_rule_sums`, without building ``[N, U]``."""
    tiles = _per_tile(terms, rows, weights, prior, class_columns, lambda scores: _first_argmax_down(scores.numpy()))
    return np.concatenate(tiles) if tiles else np.zeros(0, dtype=np.intp)
