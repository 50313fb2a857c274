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
  ``cotclip.scoring.deploy.adaptive_stops``); ``adaptive accuracy eN``: the accuracy stop (asking
  the rest is not expected to add N accuracy, by resampling train images' answers). The
  posterior curve (per threshold), the flip and the accuracy curves (per epsilon) are
  printed side by side, averaged over seeds, each with its cheapest test point that
  matches the full system's mean test accuracy, and, honestly chosen, the knob whose
  mean *val* accuracy first matches the full system's on val, with its test numbers.

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
from cotclip.scoring.deploy.adaptive import AdaptiveClassifier
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.scoring.splits import select, split_dataset

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
EPSILONS = (0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.05, 0.0)
GAIN_EPSILONS = (0.2, 0.15, 0.1, 0.07, 0.05, 0.03, 0.02, 0.01, 0.0)


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
    knobs = {
        "posterior": {"thresholds": THRESHOLDS},
        "flip": {"stop": "flip", "epsilons": EPSILONS},
        "accuracy": {"stop": "accuracy", "epsilons": GAIN_EPSILONS},
    }
    curves = {
        split: {rule: adaptive.curve(images, **kw) for rule, kw in knobs.items()}
        for split, images in (("test", test), ("val", val))
    }
    curve, flip = curves["test"]["posterior"], curves["test"]["flip"]
    for rule, shown in (("flip", (0.25, 0.12)), ("accuracy", (0.1, 0.05))):
        for point in curves["test"][rule].points:
            if point.epsilon in shown:
                rows[f"adaptive {rule} e{point.epsilon:g}"] = (point.accuracy, point.mean_prompts)
    if seed == 0:
        stem = out_dir / world.name
        curve.save_plot(f"{stem}-adaptive.png", title=f"Adaptive questioning on {world.name} (test)")
        Path(f"{stem}-adaptive.md").write_text(curve.table() + "\n")
        save_pareto_plot(search, f"{stem}-pareto.png", title=f"Knob search on {world.name} (val)")
        Path(f"{stem}-pareto.md").write_text(pareto_table(search) + "\n")
        Path(f"{stem}-adaptive-flip.md").write_text(flip.table() + "\n")
        Path(f"{stem}-adaptive-accuracy.md").write_text(curves["test"]["accuracy"].table() + "\n")
        print(f"\nadaptive curve, {world.name}, seed 0 (test):\n{curve.table()}")
        print(f"\nPareto front, {world.name}, seed 0 (val):\n{pareto_table(search)}")
    return rows, curves


def _mean_curve(curves):
    """``[(knob, accuracy, prompts)]`` averaged over seeds, and the mean full accuracy."""
    points = []
    for i, point in enumerate(curves[0].points):
        knob = point.threshold if curves[0].stop == "posterior" else point.epsilon
        points.append(
            (knob, np.mean([c.points[i].accuracy for c in curves]), np.mean([c.points[i].mean_prompts for c in curves]))
        )
    return points, float(np.mean([c.full_accuracy for c in curves]))


def _val_chosen(test_points, val_points, val_full):
    """The cheapest knob on val whose mean val accuracy matches the full system's on val, as its test point."""
    matching = [i for i, p in enumerate(val_points) if p[1] >= val_full - 1e-9]
    return None if not matching else test_points[min(matching, key=lambda i: val_points[i][2])]


def _print_curves(world_name, test_curves, val_curves):
    """Each rule's curve averaged over seeds (test), its cheapest full-accuracy test point and its val-chosen knob."""
    rules = list(test_curves)
    means = {rule: _mean_curve(test_curves[rule]) for rule in rules}
    full, full_prompts = means[rules[0]][1], test_curves[rules[0]][0].full_prompts
    print(f"\nadaptive curves, {world_name}: mean over {len(test_curves[rules[0]])} split seed(s), test split")
    print("".join(f"{rule + ' stop':<16}{'accuracy':>9}{'fraction':>9}    " for rule in rules))
    for i in range(max(len(means[rule][0]) for rule in rules)):
        cells = []
        for rule in rules:
            points = means[rule][0]
            prefix = "t" if rule == "posterior" else "e"
            cells.append(
                " " * 34
                if i >= len(points)
                else f"{prefix + format(points[i][0], 'g'):<16}{points[i][1]:>9.4f}{points[i][2] / full_prompts:>9.3f}"
            )
        print("    ".join(cells))
    print(f"{'full system':<16}{full:>9.4f}{1.0:>9.3f}")
    for rule in rules:
        points = means[rule][0]
        best = min([p for p in points if p[1] >= full - 1e-9], key=lambda p: p[2], default=None)
        shown = "none" if best is None else f"{best[2] / full_prompts:.3f} of the prompts (knob {best[0]:g})"
        val_points, val_full = _mean_curve(val_curves[rule])
        chosen = _val_chosen(points, val_points, val_full)
        picked = (
            "none"
            if chosen is None
            else (f"knob {chosen[0]:g}: test accuracy {chosen[1]:.4f} at {chosen[2] / full_prompts:.3f} of the prompts")
        )
        print(f"{rule}: cheapest test point at full-system accuracy: {shown}; chosen on val: {picked}")


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
        by_split = {
            split: {rule: [curves[split][rule] for _, curves in results] for rule in results[0][1][split]}
            for split in ("test", "val")
        }
        _print_curves(world_name, by_split["test"], by_split["val"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
