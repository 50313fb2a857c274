"""Benchmark of ``cotclip optimize`` on the synthetic (simulated) worlds with the simulated proposer.

Prints, per world and seed: test accuracy of the best version as a fraction of the
oracle's on the same test split, evaluations until the best version was recorded,
encoder calls / unique inputs over a run and its resume, and the loop's overhead per
evaluation (LLM time excluded; the simulated proposer takes none).

    .venv/bin/python benchmarks/bench_loop.py [--worlds pokemon-like large] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.session import optimize
from cotclip.scoring.simulation.world import load_world


def one_run(world: str, seed: int, root: Path, max_evaluations: int, moves: list[str] | None) -> dict:
    """One run (fresh cache) plus its resume; the measured numbers as a dict."""
    loaded = load_world(world)
    oracle = loaded.oracle_system()
    extra = {"moves": moves} if moves else {}
    # let proposals be as wide as the world's largest group (a user sets --max-options the same way)
    extra["max_options"] = max(12, max(len(group.values) for group in loaded.groups))
    extra["max_groups"] = max(6, len(loaded.groups))
    config = RunConfig(
        name=f"{world}-{seed}",
        runs_dir=str(root / "runs"),
        data=f"synthetic:{world}",
        model="synthetic",
        lm="simulated",
        seed=seed,
        cache_dir=str(root / f"cache-{world}-{seed}"),
        max_evaluations=max_evaluations,
        **extra,
    )
    started = time.perf_counter()
    summary = optimize(config, extra_systems=lambda inputs: {"oracle": oracle})
    wall = time.perf_counter() - started
    oracle_test = summary.extra["other_systems"][0]["accuracy"]
    best_number = int(summary.best_version)
    resumed = optimize(resume=Path(summary.run_dir))
    return {
        "world": world,
        "seed": seed,
        "best_test": summary.best.accuracy,
        "oracle_test": oracle_test,
        "initial_test": summary.initial.accuracy if summary.initial else None,
        "baseline_test": summary.baseline.accuracy if summary.baseline else None,
        "ratio": summary.best.accuracy / oracle_test if oracle_test else float("nan"),
        "evaluations_to_best": best_number,
        "evaluations": summary.evaluations,
        "stopped_because": summary.stopped_because,
        "wall_s": wall,
        "overhead_ms": summary.loop_overhead_s_per_evaluation * 1e3,
        **{
            f"{part}_ms": summary.extra["timing"][f"{part}_s"] * 1e3 / max(1, summary.extra["session_evaluations"])
            for part in ("evaluate", "store", "moves")
        },
        "calls_per_unique_after_resume": resumed.encoder_calls / resumed.unique_inputs,
    }


def main() -> None:
    """Run every world and seed, print one line each and a summary per world."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["pokemon-like", "large"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-evaluations", type=int, default=200)
    parser.add_argument("--moves", default=None, help="comma list (default: the run config's default moves)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    moves = args.moves.split(",") if args.moves else None
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for world in args.worlds:
            for seed in range(args.seeds):
                rows.append(one_run(world, seed, Path(folder), args.max_evaluations, moves))
                row = rows[-1]
                print(
                    f"{world:<13} seed {seed}  best {row['best_test']:.3f}  oracle {row['oracle_test']:.3f}  "
                    f"ratio {row['ratio']:.3f}  initial {row['initial_test']:.3f}  baseline {row['baseline_test']:.3f} "
                    f" evals-to-best {row['evaluations_to_best']:>3}/{row['evaluations']:<3}  "
                    f"{row['stopped_because']:<15} "
                    f"overhead {row['overhead_ms']:.2f} ms/eval (evaluate {row['evaluate_ms']:.2f}, store "
                    f"{row['store_ms']:.2f}, moves {row['moves_ms']:.2f})  calls/unique "
                    f"{row['calls_per_unique_after_resume']:.2f}  "
                    f"wall {row['wall_s']:.1f}s",
                    flush=True,
                )
    print()
    for world in args.worlds:
        mine = [r for r in rows if r["world"] == world]
        print(
            f"{world}: mean ratio to oracle {statistics.mean(r['ratio'] for r in mine):.3f} "
            f"(min {min(r['ratio'] for r in mine):.3f}), mean evaluations to best "
            f"{statistics.mean(r['evaluations_to_best'] for r in mine):.1f}, mean overhead "
            f"{statistics.mean(r['overhead_ms'] for r in mine):.2f} ms/evaluation (evaluate "
            f"{statistics.mean(r['evaluate_ms'] for r in mine):.2f}, store "
            f"{statistics.mean(r['store_ms'] for r in mine):.2f}, "
            f"moves {statistics.mean(r['moves_ms'] for r in mine):.2f}), encoder calls/unique inputs "
            f"{max(r['calls_per_unique_after_resume'] for r in mine):.2f}"
        )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
