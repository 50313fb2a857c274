"""Scorer throughput on cached embeddings, side by side with the article's per-image loop.

Run: ``.venv/bin/python benchmarks/bench_scorer.py`` (add ``--quick`` for a smoke run).

Sizes: the seed's (N=117 images, Q=51 options in 5 groups of 9/12/12/10/8, C=16 classes)
and a large one (N=10,000, Q=200 in 10 groups of 20, C=1,000), embeddings of width 512.
Text and image embeddings are random unit vectors: the scorer's cost does not depend
on their values. "Cached" means the images are embedded and the prompt cosines are
memoised in the :class:`ImageSet`, which is the situation of an optimizer re-scoring
candidate systems. Rows:

* ``same system``: ``accuracy(system, images)`` on the same object again;
* ``equal copy``: a new but identical System object each time (fingerprint look-up);
* ``new system``: a system never seen before (compile + score, prompts already cosined);
* ``dense only``: ``same system`` with the scorer forced onto its one-dense-product path
  (``scorer.SCORING_PATH = "dense"``), the path small problems take anyway;
* ``naive loop``: the article's ``classify_pokemon`` per image, per group, per class in
  Python over the same cached embeddings, one numpy dot per prompt (timed on a subsample at
  the large size, then scaled to all N images);
* ``article loop``: the same, but with the similarities of one image computed in one
  product as the article's ``cosine_similarity(image_embedding, text_embeddings)`` does
  and a numpy softmax per group (more literal, yet slower here: stacking the cached prompt
  embeddings per image and indexing numpy scalars cost more than the dots they save). The
  target is checked against the faster of the two loops, the conservative ratio.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

from _common import TableEncoder, best_seconds, random_system, unit_rows
from cotclip.scoring import scorer
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.systems.model import System


def best_class(system: System, probabilities: dict) -> str:
    """The article's scoring step: per class, the sum of its rules' option probabilities."""
    scores = {}
    for class_name in system.classes:
        score = 0.0
        for group_name, target in system.rules[class_name].items():
            score += probabilities[group_name][target]
        scores[class_name] = score
    return max(scores, key=scores.get)


def naive_accuracy(system: System, image_embeddings: np.ndarray, labels: list[str], table: dict) -> float:
    """The article's pseudocode, literally: per image, per group, per class."""
    correct = 0
    temperature = system.scoring.temperature
    for image, label in zip(image_embeddings, labels):
        probabilities = {}
        for group in system.groups:
            sims = [float(np.dot(image, table[group.prompt.replace("{}", o, 1)])) for o in group.options]
            top = max(sims)
            exps = [math.exp((s - top) / temperature) for s in sims]
            total = sum(exps)
            probabilities[group.name] = [e / total for e in exps]
        correct += best_class(system, probabilities) == label
    return correct / len(labels)


def article_accuracy(system: System, image_embeddings: np.ndarray, labels: list[str], table: dict) -> float:
    """``classify_pokemon`` as the article writes it: all prompts' similarities at once per image."""
    prompts = [group.prompt.replace("{}", o, 1) for group in system.groups for o in group.options]
    bounds = np.cumsum([0] + [len(group.options) for group in system.groups])
    temperature = system.scoring.temperature
    correct = 0
    for image, label in zip(image_embeddings, labels):
        text_embeddings = np.stack([table[p] for p in prompts])  # encode_text(all_prompts), from the cache
        similarities = text_embeddings @ image
        probabilities = {}
        for g, group in enumerate(system.groups):
            sims = similarities[bounds[g] : bounds[g + 1]] / temperature
            exps = np.exp(sims - sims.max())
            probabilities[group.name] = exps / exps.sum()
        correct += best_class(system, probabilities) == label
    return correct / len(labels)


def bench_size(name: str, n_images: int, sizes: list[int], n_classes: int, naive_images: int, quick: bool) -> dict:
    """Time every row of the table for one size (seconds per evaluation)."""
    rng = np.random.default_rng(0)
    system = random_system(rng, sizes, n_classes)
    texts = system.prompt_texts()
    new_systems = [random_system(rng, sizes, n_classes) for _ in range(3 if quick else 20)]
    table = dict(zip(texts, unit_rows(rng, len(texts))))
    embeddings = unit_rows(rng, n_images)
    labels = [system.classes[i % n_classes] for i in range(n_images)]
    images = ImageSet(embeddings, labels, PromptEmbedder(TableEncoder(table)))
    start = time.perf_counter()
    reference = accuracy(system, images)
    first = time.perf_counter() - start
    inner = 1 if n_images > 1000 else (50 if quick else 500)
    repeat = 3 if quick else 7
    same = best_seconds(lambda: accuracy(system, images), repeat, inner)
    copies = iter([System.from_data(system.to_dict()) for _ in range(repeat * inner)])  # each object used once
    equal = best_seconds(lambda: accuracy(next(copies), images), repeat, inner)
    scorer.SCORING_PATH = "dense"
    try:
        assert accuracy(system, images) == reference
        dense = best_seconds(lambda: accuracy(system, images), repeat, inner)
    finally:
        scorer.SCORING_PATH = "auto"
    system_iter = iter(new_systems)
    fresh = best_seconds(lambda: accuracy(next(system_iter), images), len(new_systems), 1)
    subsample = min(naive_images, n_images)
    start = time.perf_counter()
    naive_value = naive_accuracy(system, embeddings[:subsample], labels[:subsample], table)
    naive = (time.perf_counter() - start) / subsample * n_images
    start = time.perf_counter()
    article_value = article_accuracy(system, embeddings[:subsample], labels[:subsample], table)
    article = (time.perf_counter() - start) / subsample * n_images
    if subsample == n_images:
        assert abs(naive_value - reference) < 1e-9, (naive_value, reference)
        assert abs(article_value - reference) < 1e-9, (article_value, reference)
    shape = f"N={n_images}, Q={sum(sizes)}, C={n_classes}"
    return {
        "name": name,
        "shape": shape,
        "first": first,
        "same": same,
        "equal": equal,
        "fresh": fresh,
        "dense": dense,
        "naive": naive,
        "article": article,
        "naive_subsample": subsample,
    }


def report(rows: list[dict]) -> None:
    """Print the table and each target beside its measurement."""
    print(
        f"{'size':<7}{'shape':<28}{'first eval':>12}{'same system':>13}{'equal copy':>12}{'new system':>12}"
        f"{'dense only':>12}{'naive loop':>13}{'speed-up':>10}{'article loop':>14}{'speed-up':>10}"
    )
    for r in rows:
        print(
            f"{r['name']:<7}{r['shape']:<28}{r['first'] * 1e3:>10.2f}ms{r['same'] * 1e3:>11.3f}ms"
            f"{r['equal'] * 1e3:>10.3f}ms{r['fresh'] * 1e3:>10.3f}ms{r['dense'] * 1e3:>10.3f}ms"
            f"{r['naive'] * 1e3:>11.1f}ms"
            f"{r['naive'] / r['same']:>9.0f}x{r['article'] * 1e3:>12.1f}ms{r['article'] / r['same']:>9.0f}x"
        )
    seed, large = rows
    print()
    print(
        f"targets: seed size >= 10,000 evals/s: {1 / seed['same']:,.0f}/s (equal copy {1 / seed['equal']:,.0f}/s)"
        f" -> {'met' if 1 / seed['same'] >= 10_000 else 'NOT met'}"
    )
    print(
        f"         large <= 25 ms/eval: {large['same'] * 1e3:.1f} ms -> "
        f"{'met' if large['same'] <= 0.025 else 'NOT met'}"
    )
    ratios = [min(r["naive"], r["article"]) / r["same"] for r in rows]
    print(
        f"         >= 1000x naive loop (the faster of the two): seed {ratios[0]:.0f}x, large {ratios[1]:.0f}x"
        f" (large timed on {large['naive_subsample']} images, scaled) -> {'met' if max(ratios) >= 1000 else 'NOT met'}"
    )


CROSSOVER_SIZES = [
    (117, [9, 12, 12, 10, 8], 16),
    (1_000, [10] * 10, 100),
    (5_000, [10] * 10, 400),
    (20_000, [8] * 6, 50),
    (1_000, [20] * 10, 1_000),
    (10_000, [20] * 10, 1_000),
]


def crossover(quick: bool) -> None:
    """Both scorer paths at several sizes, and the one ``SCORING_PATH = "auto"`` picks."""
    print(f"{'shape':<28}{'dense':>10}{'tiled':>10}  auto picks")
    for n_images, sizes, n_classes in CROSSOVER_SIZES[:3] if quick else CROSSOVER_SIZES:
        rng = np.random.default_rng(1)
        system = random_system(rng, sizes, n_classes)
        texts = system.prompt_texts()
        encoder = TableEncoder(dict(zip(texts, unit_rows(rng, len(texts)))))
        images = ImageSet(
            unit_rows(rng, n_images), [system.classes[i % n_classes] for i in range(n_images)], PromptEmbedder(encoder)
        )
        times = {}
        for path in ("dense", "tiled"):
            scorer.SCORING_PATH = path
            accuracy(system, images)
            times[path] = best_seconds(lambda: accuracy(system, images), 3 if quick else 5, 3)  # noqa: B023 - runs before the loop moves on
        scorer.SCORING_PATH = "auto"
        picks = "dense" if scorer._dense_path(images.compiled(system), n_images) else "tiled"
        shape = f"N={n_images}, Q={sum(sizes)}, C={n_classes}"
        print(f"{shape:<28}{times['dense'] * 1e3:>8.3f}ms{times['tiled'] * 1e3:>8.3f}ms  {picks}")


def main(argv: list[str] | None = None) -> int:
    """Run both sizes and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller naive subsample")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)")
    rows = [
        bench_size("seed", 117, [9, 12, 12, 10, 8], 16, 117, args.quick),
        bench_size("large", 10_000, [20] * 10, 1_000, 20 if args.quick else 200, args.quick),
    ]
    report(rows)
    print()
    crossover(args.quick)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
