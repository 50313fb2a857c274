"""MaxSim (multi-vector late interaction) against single-vector cosine: build cost and per-evaluation cost.

Run: ``.venv/bin/python benchmarks/bench_maxsim.py`` (``--quick`` for a smoke run).

Sizes: the seed's (N=117 images, Q=51 options in 5 groups of 9/12/12/10/8, C=16) and a
large one (N=10,000 images, Q=200 prompts in 10 groups of 20, C=1,000). Under MaxSim every
image is P=16 patch vectors and every prompt T=8 token vectors of width 128
(jina-embeddings-v4's multi-vector width); the single-vector rows are 128 wide too, so the
two columns differ only by the similarity. All vectors are random unit vectors: neither
path's cost depends on their values. Columns:

* ``matrix``: the one-time cost on a fresh ImageSet of embedding the prompts (a table
  look-up here, no model) and filling the ``[prompts, images]`` similarity matrix;
* ``eval``: ``accuracy`` of the same system again (the matrix is memoised: what an
  optimizer pays per candidate); ``new system``: the first ``accuracy`` of a system with
  other rules over the same prompts (compile + score, no similarity work), best of several;
* ``cache/image``: bytes of one image's cache file (float16 patch matrix + 28 bytes header
  and digest; the single-vector row is float32).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import best_seconds, random_system
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.similarity import MultiVectors

WIDTH, PATCHES, TOKENS = 128, 16, 8


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    rows = rng.standard_normal(shape).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


class _Table:
    """Texts -> fixed random vectors (one row, or a TOKENS x WIDTH matrix under MaxSim)."""

    def __init__(self, texts: list[str], multi: bool, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.similarity = "maxsim" if multi else "cosine"
        self.identity, self.dim = f"bench:{self.similarity}", WIDTH
        shape = (len(texts), TOKENS, WIDTH) if multi else (len(texts), WIDTH)
        self.rows = dict(zip(texts, _unit(rng, shape)))

    def encode_texts(self, texts):
        """Rows (or token matrices) of the table, in order."""
        if self.similarity == "maxsim":
            return MultiVectors.from_list([self.rows[t] for t in texts], WIDTH)
        return np.stack([self.rows[t] for t in texts])

    def encode_images(self, images):  # pragma: no cover - images arrive as embeddings
        """Not used: the benchmark hands the ImageSet its image embeddings directly."""
        raise NotImplementedError


def _images(rng: np.random.Generator, n_images: int, multi: bool):
    if multi:
        return MultiVectors(_unit(rng, (n_images * PATCHES, WIDTH)), np.arange(0, (n_images + 1) * PATCHES, PATCHES))
    return _unit(rng, (n_images, WIDTH))


def _row(sizes: list[int], n_images: int, n_classes: int, repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    system = random_system(rng, sizes, n_classes, temperature=0.05)
    others = [random_system(np.random.default_rng(10 + k), sizes, n_classes, temperature=0.05) for k in range(repeat)]
    labels = [system.classes[int(i)] for i in rng.integers(n_classes, size=n_images)]
    texts = system.prompt_texts()
    result: dict[str, float] = {}
    for multi in (False, True):
        key = "maxsim" if multi else "cosine"
        table, images = _Table(texts, multi, seed=2), _images(rng, n_images, multi)
        accuracy(
            system, ImageSet(images[:8] if not multi else images.take(range(8)), labels[:8], PromptEmbedder(table))
        )
        image_set = ImageSet(images, labels, PromptEmbedder(table))
        start = time.perf_counter()
        image_set.prompt_rows(texts)  # embed the prompts, fill the [prompts, images] matrix
        result[f"{key} matrix"] = time.perf_counter() - start
        result[f"{key} eval"] = best_seconds(lambda: accuracy(system, image_set), repeat, inner=3)  # noqa: B023 - runs before the loop moves on
        timings = []
        for other in others:
            start = time.perf_counter()
            accuracy(other, image_set)
            timings.append(time.perf_counter() - start)
        result[f"{key} new"] = min(timings)
    result["cosine cache"] = 8 + 4 * WIDTH + 16
    result["maxsim cache"] = 12 + 2 * PATCHES * WIDTH + 16
    return result


def main() -> None:
    """Print the table for both sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small large-size (N=1,000) and fewer repeats")
    args = parser.parse_args()
    large_n = 1_000 if args.quick else 10_000
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)")
    print(f"P={PATCHES} patches/image, T={TOKENS} tokens/prompt, width {WIDTH}; times: best of repeats")
    header = f"{'size':<44}{'similarity':>11}{'matrix':>12}{'eval':>11}{'new system':>12}{'cache/image':>13}"
    print(header)
    for name, sizes, n_images, n_classes in (
        ("seed   N=117, Q=51, C=16", [9, 12, 12, 10, 8], 117, 16),
        (f"large  N={large_n}, Q=200, C=1000", [20] * 10, large_n, 1000),
    ):
        row = _row(sizes, n_images, n_classes, repeat=3 if args.quick else 5)
        for key in ("cosine", "maxsim"):
            print(
                f"{name:<44}{key:>11}{row[key + ' matrix'] * 1e3:>10.1f}ms{row[key + ' eval'] * 1e3:>9.3f}ms"
                f"{row[key + ' new'] * 1e3:>10.3f}ms{int(row[key + ' cache']):>11d} B"
            )
        ratio = row["maxsim eval"] / row["cosine eval"]
        print(f"{'':<44}{'ratio':>11}{row['maxsim matrix'] / row['cosine matrix']:>11.1f}x{ratio:>10.2f}x")


if __name__ == "__main__":
    main()
