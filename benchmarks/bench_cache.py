"""Embedding cache: encoder calls per unique input over repeated evaluations, and read speed.

Run: ``.venv/bin/python benchmarks/bench_cache.py`` (add ``--quick`` for a smoke run).

Part 1 (the issue's target, must print 1.00): the tiny random CLIP (``hf:<dir>``) and an
image folder in which some files are byte-identical copies; each "evaluation" builds a
fresh ``CachedEncoder`` on the same cache folder (as a new ``cotclip evaluate`` process
would), embeds every image, and embeds a system's prompts (with repeats, as systems
repeat templates). A counting spy between the cache and the model counts every input
the model really sees. Unique inputs = distinct image contents + distinct prompt strings.

Part 2 (the layout choice): rows per second written and read back by a new cache object
(disk, OS page cache warm) and from its in-memory layer, side by side with the plain
alternative of one ``.npy`` per row (``np.save``/``np.load``, no atomic write).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders import ImageEncoding, ImageRef
from cotclip.scoring.registry import load_dataset, load_encoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.tiny_clip import build_image_folder, build_tiny_clip  # noqa: E402


class CountingSpy:
    """Forwards to an encoder and counts the inputs it receives."""

    def __init__(self, encoder) -> None:
        self.encoder, self.calls = encoder, 0
        self.identity, self.dim = encoder.identity, encoder.dim

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Count, then forward."""
        self.calls += len(texts)
        return self.encoder.encode_texts(texts)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Count, then forward."""
        self.calls += len(images)
        return self.encoder.encode_images(images)


def _prompts(groups: int, options: int) -> list[str]:
    templates = [f"Feature {g} of this creature is {{}}." for g in range(groups)]
    prompts = [t.format(f"option {o}") for t in templates for o in range(options)]
    return prompts + prompts[: len(prompts) // 3]  # systems repeat prompts across groups and candidates


def repeated_evaluations(work: Path, runs: int, per_class: int) -> None:
    """Print encoder calls / unique inputs over ``runs`` evaluations sharing one cache folder."""
    model = build_tiny_clip(work / "model")
    folder = build_image_folder(work / "images", classes=("a", "b", "c", "d"), per_class=per_class)
    for i in range(per_class // 4):  # byte-identical copies: same uid, encoded once
        shutil.copy(folder / "a" / f"a_{i}.png", folder / "b" / f"copy_{i}.png")
    dataset = load_dataset(str(folder))
    prompts = _prompts(groups=5, options=10)
    unique = len({ref.uid for ref in dataset.images}) + len(set(prompts))
    encoder = load_encoder(f"hf:{model}", progress=False)
    total_calls = 0
    print(f"{'run':>4} {'images':>7} {'prompts':>8} {'encoder calls':>14} {'hits':>6} {'misses':>7} {'seconds':>8}")
    for run in range(1, runs + 1):
        spy = CountingSpy(encoder)
        cached = CachedEncoder(spy, EmbeddingCache(work / "cache"))
        started = time.perf_counter()
        embed_dataset(dataset, cached, progress=False)
        cached.encode_texts(prompts)
        seconds = time.perf_counter() - started
        total_calls += spy.calls
        stats = cached.stats
        print(
            f"{run:>4} {len(dataset):>7} {len(prompts):>8} {spy.calls:>14} {stats.hits:>6} {stats.misses:>7} "
            f"{seconds:>8.3f}"
        )
    print(f"unique inputs: {unique}; encoder calls over {runs} runs: {total_calls}")
    print(f"encoder calls / unique inputs = {total_calls / unique:.2f}")


def _rate(count: int, action) -> float:
    started = time.perf_counter()
    action()
    return count / (time.perf_counter() - started)


def read_speed(work: Path, rows: int, dim: int) -> None:
    """Print rows/s for the cache's ``.row`` files next to plain ``np.save``/``np.load`` per row."""
    keys = [f"{i:064x}" for i in range(rows)]
    data = np.random.default_rng(0).normal(size=(rows, dim)).astype(np.float32)
    npy = work / "npy"
    npy.mkdir()
    npy_write = _rate(rows, lambda: [np.save(npy / f"{k}.npy", r, allow_pickle=False) for k, r in zip(keys, data)])
    npy_read = _rate(rows, lambda: [np.load(npy / f"{k}.npy", allow_pickle=False) for k in keys])
    cache = EmbeddingCache(work / "speed")
    row_write = _rate(rows, lambda: [cache.put("bench", k, r) for k, r in zip(keys, data)])
    fresh = EmbeddingCache(work / "speed")
    row_read = _rate(rows, lambda: [fresh.get("bench", k, dim) for k in keys])
    memory = _rate(rows, lambda: [fresh.get("bench", k, dim) for k in keys])
    print(f"{rows} rows x {dim} float32, rows/s:")
    print(f"{'layout':<42} {'write':>9} {'read from disk':>15} {'read, memory layer':>19}")
    print(f"{'.npy per row (np.save / np.load)':<42} {npy_write:>9,.0f} {npy_read:>15,.0f} {'-':>19}")
    print(f"{'.row per row (cache: atomic, checksummed)':<42} {row_write:>9,.0f} {row_read:>15,.0f} {memory:>19,.0f}")
    print(f"disk read speed-up of .row over .npy: {row_read / npy_read:.1f}x")


def main() -> None:
    """Run both parts in a temporary folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, images and rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cotclip-bench-cache-") as tmp:
        work = Path(tmp)
        repeated_evaluations(work, runs=3 if args.quick else 5, per_class=8 if args.quick else 30)
        print()
        read_speed(work, rows=500 if args.quick else 10_000, dim=512)


if __name__ == "__main__":
    main()
