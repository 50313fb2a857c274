"""Which questions to ask: all groups vs static selection vs knob search vs adaptive questioning.

Run: ``.venv/bin/python benchmarks/bench_selection.py`` (``--quick`` for a smoke run,
``--worlds pokemon-like``, ``--seeds 5``, ``--trials 200``).

On each planted-attribute preset, starting from its oracle system, for every split
seed (train/val/test 60/20/20) and then averaged over seeds, side by side:

* ``all groups``: the system as given;
* ``IG``: greedy information-gain selection on train (no budget, stops under 0.01 bit);
* ``IG @50%``: the same with a budget of half the full prompts;
* ``val-greedy`` / ``val-greedy @50%``: forward selection by val accuracy;
* ``Optuna best``: the most accurate knob setting on val after ``--trials`` trials
  (multi-objective TPE); ``front`` = size of its Pareto front;
* ``adaptive tN``: adaptive per-image questioning stopping at posterior ``N``;
  ``adaptive @50%`` caps every image at half the full prompts;
* ``adaptive margin``: the exact margin stop (predictions equal the full system's);
  ``adaptive flip eN``: the flip-probability stop at epsilon ``N`` (both in
  ``cotclip.scoring.adaptive_stops``). The posterior curve (per threshold) and the flip
  curve (per epsilon) are printed side by side, averaged over seeds, each with its
  cheapest point that matches the full system's mean accuracy.

Columns: test accuracy, prompts (text comparisons) per image, and the ratio of each to
the ``all groups`` row. The adaptive curve of seed 0 is written as a PNG and a table
and the Pareto front of seed 0 as a PNG under ``--out`` (default ``runs/bench``).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import optuna

from cotclip.optimizer.search import knob_search, pareto_table, save_pareto_plot
from cotclip.optimizer.selection import AllGroupsSelector, InformationGainSelector, ValAccuracySelector
from cotclip.scoring.adaptive import AdaptiveClassifier
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.splits import select, split_dataset
from cotclip.scoring.synthetic.encoder import SyntheticEncoder
from cotclip.scoring.synthetic.world import load_world

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
EPSILONS = (0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.05, 0.0)


def _sets(world, prompts, seed):
    splits = split_dataset(list(world.labels), seed=seed)
    out = []
    for name in ("train", "val", "test"):
        positions = select(splits, name)
        out.append(ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], prompts))
    return out


def _one_seed(world, prompts, seed, trials, out_dir):
    system = world.oracle_system()
    train, val, test = _sets(world, prompts, seed)
    full = AllGroupsSelector().select(system).prompts
    rows = {}
    selectors = {
        "all groups": (AllGroupsSelector(), None),
        "IG": (InformationGainSelector(seed=seed), None),
        "IG @50%": (InformationGainSelector(seed=seed), full // 2),
        "val-greedy": (ValAccuracySelector(), None),
        "val-greedy @50%": (ValAccuracySelector(), full // 2),
    }
    for label, (selector, budget) in selectors.items():
        selection = selector.select(system, train, val, budget=budget)
        rows[label] = (accuracy(selection.system, test), selection.prompts)
    search = knob_search(system, val, n_trials=trials, seed=seed)
    rows["Optuna best"] = (accuracy(search.best_system, test), search.best.prompts)
    rows["  Pareto front size"] = (float("nan"), len(search.front))
    adaptive = AdaptiveClassifier.fit(system, train)
    for threshold in (0.9, 0.99):
        result = adaptive.run(test, threshold=threshold)
        rows[f"adaptive t{threshold:g}"] = (result.accuracy, result.mean_prompts)
    capped = adaptive.run(test, threshold=None, budget=full // 2)
    rows["adaptive @50%"] = (capped.accuracy, capped.mean_prompts)
    exact = adaptive.run(test, stop="margin")
    rows["adaptive margin (exact)"] = (exact.accuracy, exact.mean_prompts)
    curve = adaptive.curve(test, THRESHOLDS)
    flip = adaptive.curve(test, stop="flip", epsilons=EPSILONS)
    for point in flip.points:
        if point.epsilon in (0.25, 0.12):
            rows[f"adaptive flip e{point.epsilon:g}"] = (point.accuracy, point.mean_prompts)
    if seed == 0:
        stem = out_dir / world.name
        curve.save_plot(f"{stem}-adaptive.png", title=f"Adaptive questioning on {world.name} (test)")
        Path(f"{stem}-adaptive.md").write_text(curve.table() + "\n")
        save_pareto_plot(search, f"{stem}-pareto.png", title=f"Knob search on {world.name} (val)")
        Path(f"{stem}-pareto.md").write_text(pareto_table(search) + "\n")
        Path(f"{stem}-adaptive-flip.md").write_text(flip.table() + "\n")
        print(f"\nadaptive curve, {world.name}, seed 0 (test):\n{curve.table()}")
        print(f"\nPareto front, {world.name}, seed 0 (val):\n{pareto_table(search)}")
    return rows, (curve, flip)


def _mean_curve(curves):
    """``[(knob, accuracy, prompts)]`` averaged over seeds, and the mean full accuracy."""
    points = []
    for i, point in enumerate(curves[0].points):
        knob = point.epsilon if curves[0].stop == "flip" else point.threshold
        points.append((knob, np.mean([c.points[i].accuracy for c in curves]),
                       np.mean([c.points[i].mean_prompts for c in curves])))
    return points, float(np.mean([c.full_accuracy for c in curves]))


def _print_curves(world_name, posterior_curves, flip_curves):
    (old, full), (new, _) = _mean_curve(posterior_curves), _mean_curve(flip_curves)
    full_prompts = posterior_curves[0].full_prompts
    print(f"\nadaptive curves, {world_name}: mean over {len(posterior_curves)} split seed(s), test split")
    print(f"{'posterior stop':<16}{'accuracy':>9}{'fraction':>9}    {'flip stop':<12}{'accuracy':>9}{'fraction':>9}")
    for i in range(max(len(old), len(new))):
        left = " " * 34
        if i < len(old):
            left = f"{'t' + format(old[i][0], 'g'):<16}{old[i][1]:>9.4f}{old[i][2] / full_prompts:>9.3f}"
        right = ""
        if i < len(new):
            right = f"{'e' + format(new[i][0], 'g'):<12}{new[i][1]:>9.4f}{new[i][2] / full_prompts:>9.3f}"
        print(f"{left}    {right}")
    print(f"{'full system':<16}{full:>9.4f}{1.0:>9.3f}")
    for label, points in (("posterior", old), ("flip", new)):
        matching = [p for p in points if p[1] >= full - 1e-9]
        best = min(matching, key=lambda p: p[2], default=None)
        shown = "none" if best is None else f"{best[2] / full_prompts:.3f} of the prompts (knob {best[0]:g})"
        print(f"cheapest {label} point at full-system accuracy: {shown}")


def _print_table(world_name, per_seed):
    merged = defaultdict(list)
    for rows in per_seed:
        for label, values in rows.items():
            merged[label].append(values)
    base_accuracy, base_prompts = np.mean(merged["all groups"], axis=0)
    print(f"\n{world_name}: mean over {len(per_seed)} split seed(s), test split")
    print(f"{'method':<28}{'accuracy':>10}{'prompts':>10}{'acc ratio':>11}{'prompt ratio':>14}")
    for label, values in merged.items():
        acc, prompts = np.mean(values, axis=0)
        if np.isnan(acc):
            print(f"{label:<28}{'':>10}{prompts:>10.1f}  (points, mean over seeds)")
            continue
        print(f"{label:<28}{acc:>10.4f}{prompts:>10.1f}{acc / base_accuracy:>11.3f}{prompts / base_prompts:>14.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["pokemon-like", "large"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--quick", action="store_true", help="1 seed, 20 trials, pokemon-like only")
    args = parser.parse_args(argv)
    if args.quick:
        args.worlds, args.seeds, args.trials = ["pokemon-like"], 1, 20
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    for world_name in args.worlds:
        world = load_world(world_name)
        prompts = PromptEmbedder(SyntheticEncoder(world))
        seeds = 1 if world_name == "large" and not args.quick else args.seeds
        results = [_one_seed(world, prompts, seed, args.trials, args.out) for seed in range(seeds)]
        _print_table(world_name, [rows for rows, _ in results])
        _print_curves(world_name, [curves[0] for _, curves in results], [curves[1] for _, curves in results])
    return 0


if __name__ == "__main__":
    sys.exit(main())
