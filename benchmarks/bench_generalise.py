"""Does the loop generalise? ``cotclip optimize`` (simulated proposer) on random worlds it was never tuned on.

Every world is ``synthetic:random:<seed>`` (a SIMULATION, see
:mod:`cotclip.scoring.simulation.random_world`); the presets run beside them so that no
change buys the presets at the random worlds' cost. Per run it prints best-test /
oracle-test, best-val / oracle-val, evaluations used and why the run stopped, then the
distribution (mean with a 95% bootstrap interval, worst, quartiles) and the targets.

    .venv/bin/python benchmarks/bench_generalise.py --worlds 20 [--first 100] [--presets 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import load_inputs
from cotclip.optimizer.loop.session import optimize
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, accuracy
from cotclip.scoring.simulation.world import load_world


def one_run(world: str, seed: int, root: Path, max_evaluations: int, settings: dict | None = None) -> dict:
    """One run of the loop on ``world`` with split/loop seed ``seed``; the measured numbers."""
    loaded = load_world(world)
    oracle = loaded.oracle_system()
    config = RunConfig(
        name=f"{world.replace(':', '-')}-{seed}",
        runs_dir=str(root / "runs"),
        data=f"synthetic:{world}",
        model="synthetic",
        lm="simulated",
        seed=seed,
        cache_dir=str(root / "cache"),
        max_evaluations=max_evaluations,
        # proposals as wide as the world (a user sets --max-options/--max-groups the same way)
        max_options=max(12, max(len(g.values) for g in loaded.groups)),
        max_groups=max(6, len(loaded.groups)),
        **(settings or {}),
    )
    started = time.perf_counter()
    summary = optimize(config, extra_systems=lambda inputs: {"oracle": oracle})
    wall = time.perf_counter() - started
    train, val, test = _image_sets(config, loaded)
    oracle_val, oracle_test = accuracy(oracle, val), summary.extra["other_systems"][0]["accuracy"]
    tuned = _tuned_oracle(oracle, train, val)
    chosen = summary.extra["final_choice"]
    return {
        "world": world,
        "seed": seed,
        "classes": len(loaded.classes),
        "groups": len(loaded.groups),
        "best_test": summary.best.accuracy,
        "oracle_test": oracle_test,
        "best_val": summary.best_val_accuracy,
        "oracle_val": oracle_val,
        "baseline_test": summary.baseline.accuracy if summary.baseline else None,
        "ratio": summary.best.accuracy / oracle_test if oracle_test else float("nan"),
        "val_ratio": summary.best_val_accuracy / oracle_val if oracle_val else float("nan"),
        "top_val": chosen["top_val_accuracy"],
        "top_test_ratio": chosen["top_test_accuracy"] / oracle_test if oracle_test else float("nan"),
        "tuned_oracle_test": accuracy(tuned, test),
        "not_better_than_baseline": summary.versus_baseline.get("note"),
        "evaluations": summary.evaluations,
        "stopped_because": summary.stopped_because,
        "wall_s": wall,
    }


def _image_sets(config: RunConfig, world) -> tuple[ImageSet, ImageSet, ImageSet]:
    """The run's train, val and test images (same split as the run), straight from the world."""
    inputs = load_inputs(config)
    prompts = PromptEmbedder(inputs.encoder)
    sets = []
    for part in (inputs.splits.train, inputs.splits.val, inputs.splits.test):
        rows = [inputs.dataset.images[p].row for p in part]
        sets.append(ImageSet(world.image_embeddings[rows], [world.labels[r] for r in rows], prompts))
    return sets[0], sets[1], sets[2]


def _tuned_oracle(oracle, train: ImageSet, val: ImageSet):
    """The oracle's structure with the scoring knobs the loop may fit (tune_scoring on train; val picks)."""
    from cotclip.optimizer.loop import MoveContext
    from cotclip.optimizer.loop.scoring_move import TuneScoringMove
    from cotclip.scoring.diagnostics import diagnose

    context = MoveContext(train=train, val=val, diagnostics=diagnose(oracle, train), history=[], seed=0)
    candidates = [oracle, *TuneScoringMove().propose(oracle, context).candidates]
    return max(candidates, key=lambda system: accuracy(system, val))


def _interval(values: list[float], seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    data = np.asarray(values)
    means = data[rng.integers(0, len(data), size=(2000, len(data)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def summarise(label: str, rows: list[dict]) -> None:
    """Mean (95% bootstrap interval over runs), worst and quartiles of the ratios; stop reasons."""
    ratios = [r["ratio"] for r in rows]
    low, high = _interval(ratios)
    q1, q2, q3 = np.quantile(ratios, [0.25, 0.5, 0.75])
    reached = sum(r["top_val"] >= r["oracle_val"] for r in rows)
    reasons = statistics.multimode(r["stopped_because"] for r in rows)
    print(
        f"{label}: best-test/oracle-test mean {statistics.mean(ratios):.3f} [95% {low:.3f}, {high:.3f}] "
        f"worst {min(ratios):.3f} quartiles {q1:.3f}/{q2:.3f}/{q3:.3f}; best-val/oracle-val mean "
        f"{statistics.mean(r['val_ratio'] for r in rows):.3f}, top val >= oracle val in {reached}/{len(rows)}; "
        f"val-top version's test/oracle mean {statistics.mean(r['top_test_ratio'] for r in rows):.3f}; "
        "versus the oracle with fitted scoring knobs: mean "
        f"{statistics.mean(r['best_test'] / r['tuned_oracle_test'] for r in rows):.3f} "
        f"(worst {min(r['best_test'] / r['tuned_oracle_test'] for r in rows):.3f}); "
        f"not better than the class-name baseline: {sum(bool(r['not_better_than_baseline']) for r in rows)}; "
        f"evaluations {min(r['evaluations'] for r in rows)}-{max(r['evaluations'] for r in rows)}; "
        f"stopped: {', '.join(sorted({r['stopped_because'] for r in rows}))} (most often {reasons[0]})"
    )


def _print_row(row: dict) -> None:
    print(
        f"{row['world']:<14} seed {row['seed']}  C={row['classes']:<3} G={row['groups']}  test best "
        f"{row['best_test']:.3f} oracle {row['oracle_test']:.3f} ratio {row['ratio']:.3f}  val best "
        f"{row['best_val']:.3f}"
        f" (top {row['top_val']:.3f}, its test ratio {row['top_test_ratio']:.3f}) oracle {row['oracle_val']:.3f}  "
        f"tuned oracle test {row['tuned_oracle_test']:.3f}  baseline {row['baseline_test']:.3f}  "
        f"evals {row['evaluations']:>3}  {row['stopped_because']:<15} {row['wall_s']:.0f}s",
        flush=True,
    )


def main() -> None:
    """Run the random worlds and the presets; print one line per run, then the distributions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=20, help="how many random worlds")
    parser.add_argument(
        "--first", type=int, default=100, help="seed of the first random world (seeds first..first+n-1)"
    )
    parser.add_argument("--presets", type=int, default=5, help="split seeds per preset (pokemon-like); 0 = none")
    parser.add_argument("--max-evaluations", type=int, default=200)
    parser.add_argument("--json", default=None, help="also write every row to this JSON file")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="run-config settings for every run, e.g. fit_min_evidence=2 (YAML values)",
    )
    args = parser.parse_args()
    settings = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.set)}
    seeds = list(range(args.first, args.first + args.worlds))
    print(f"random worlds: synthetic:random:<seed> for seeds {seeds}; split/loop seed 0", flush=True)
    rows, presets = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            rows.append(one_run(f"random:{seed}", 0, Path(folder), args.max_evaluations, settings))
            _print_row(rows[-1])
        for seed in range(args.presets):
            presets.append(one_run("pokemon-like", seed, Path(folder), args.max_evaluations, settings))
            _print_row(presets[-1])
    print()
    if rows:
        summarise(f"random worlds ({len(rows)})", rows)
        ratios = [r["ratio"] for r in rows]
        reached = sum(r["top_val"] >= r["oracle_val"] for r in rows) / len(rows)
        print(
            f"targets: mean >= 0.95: {'met' if statistics.mean(ratios) >= 0.95 else 'NOT met'}; worst >= 0.85: "
            f"{'met' if min(ratios) >= 0.85 else 'NOT met'}; best val >= oracle val in >= 80%: "
            f"{'met' if reached >= 0.8 else 'NOT met'} ({reached:.0%})"
        )
    if presets:
        summarise(f"pokemon-like ({len(presets)} seeds)", presets)
    if args.json:
        Path(args.json).write_text(json.dumps({"random": rows, "presets": presets}, indent=2))


if __name__ == "__main__":
    main()
