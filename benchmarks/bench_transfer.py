"""Transfer on the synthetic world (a simulation): systems optimized on one encoder variant, scored on others.

    .venv/bin/python benchmarks/bench_transfer.py [--world pokemon-like] [--seeds 5] [--quick]

Encoders: A = ``synthetic`` (the world's own), B = ``synthetic:variant:1``, C =
``synthetic:variant:2`` (same classes and images; another geometry, perturbed per-group
visibility and another vocabulary of known phrasings, see scoring/simulation/variants.py).
For every seed and every encoder X, ``cotclip optimize`` runs on X (simulated proposer,
default moves, 200-evaluation budget) and :func:`transfer_table` scores that run's best
system, its first proposal and the class-name baseline on the test split of every
encoder Y (the split depends on the seed only, so it is the same images for every Y).

Printed per (source X, target Y): test accuracy pooled over the seeds (correct / images
over all seeds' test splits) with a 95% Wilson interval, for the best of X's run on Y
("transferred"), the best of Y's own run on Y ("direct"), X's first proposal on Y and the
class-name baseline on Y; the ratio transferred / direct of the pooled accuracies; and in
how many seeds the transferred system beat the baseline on Y and X's first proposal on Y.
The seeds' test splits are different 20% draws of the same world's images, so the pooled
interval treats overlapping images as independent and is somewhat too narrow.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.loop.session import optimize
from cotclip.optimizer.loop.transfer import transfer_table

ENCODERS = {"A": "synthetic", "B": "synthetic:variant:1", "C": "synthetic:variant:2"}


def _pooled(accuracies: list[float], sizes: list[int]) -> tuple[float, float, float]:
    """Pooled accuracy and its 95% Wilson interval."""
    correct = sum(round(a * n) for a, n in zip(accuracies, sizes))
    total = sum(sizes)
    p, z = correct / total, 1.96
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return p, centre - half, centre + half


def run_seed(world: str, seed: int, root: Path, max_evaluations: int) -> dict[tuple[str, str], dict]:
    """Per (source, target): the transfer row of the source's run on the target encoder."""
    cells: dict[tuple[str, str], dict] = {}
    for source, spec in ENCODERS.items():
        config = RunConfig(
            name=f"{world}-{source}-{seed}",
            runs_dir=str(root / "runs"),
            data=f"synthetic:{world}",
            model=spec,
            lm="simulated",
            seed=seed,
            cache_dir=str(root / "cache"),
            max_evaluations=max_evaluations,
        )
        summary = optimize(config)
        others = [s for s in ENCODERS.values() if s != spec]
        table = transfer_table(config, RunDir(Path(summary.run_dir)).load_versions(), others)
        by_model = {row.model: row for row in table.rows}
        for target, target_spec in ENCODERS.items():
            row = by_model[target_spec]
            cells[(source, target)] = {
                "best": row.best.accuracy,
                "initial": row.initial.accuracy if row.initial else float("nan"),
                "baseline": row.baseline.accuracy if row.baseline else float("nan"),
                "n": row.n,
            }
    return cells


def main() -> None:
    """Run every seed, then print the (source, target) table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="pokemon-like")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-evaluations", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 evaluations")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    budget = 40 if args.quick else args.max_evaluations
    per_seed = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            per_seed.append(run_seed(args.world, seed, Path(folder), budget))
            print(f"seed {seed} done", flush=True)
    print(
        f"world {args.world}, seeds 0-{seeds - 1}, {per_seed[0][('A', 'A')]['n']} test images per seed, "
        "accuracy pooled over seeds (95% Wilson interval)"
    )
    print(
        f"{'source->target':<16}{'transferred best':>24}{'direct best':>24}{'first proposal':>24}{'baseline':>24}"
        f"{'ratio':>8}{'beats baseline':>16}{'beats 1st prop.':>17}"
    )
    for source in ENCODERS:
        for target in ENCODERS:
            transferred = [cells[(source, target)]["best"] for cells in per_seed]
            direct = [cells[(target, target)]["best"] for cells in per_seed]
            initial = [cells[(source, target)]["initial"] for cells in per_seed]
            baseline = [cells[(source, target)]["baseline"] for cells in per_seed]
            sizes = [cells[(source, target)]["n"] for cells in per_seed]
            wins_base = sum(t > b for t, b in zip(transferred, baseline))
            wins_init = sum(t > i for t, i in zip(transferred, initial))
            cols = [_pooled(v, sizes) for v in (transferred, direct, initial, baseline)]
            text = "".join(f"{m:>10.1%} ({lo:.1%}-{hi:.1%})" for m, lo, hi in cols)
            print(
                f"{source + '->' + target:<16}{text}{cols[0][0] / cols[1][0]:>8.2f}"
                f"{f'{wins_base}/{seeds}':>16}{f'{wins_init}/{seeds}':>17}"
            )


if __name__ == "__main__":
    main()
