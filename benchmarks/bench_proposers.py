"""Does the main job win with a real local LLM? Each local model x proposer mode, demo settings, side by side.

For every (model, mode, world, seed) the demo's run (:func:`cotclip.optimizer.loop.demo.demo_config`)
is made with the real local LLM served by llama-server, and the test accuracy of the
class-name baseline, the first proposal, the best version and the world's oracle
(a SIMULATION's known answer) is printed with 95% bootstrap intervals, with LLM calls,
tokens and wall time. Targets (issue 11): the default local model with the staged
proposer reaches best >= 0.85 x oracle on both worlds; every model's best >= the
baseline on test in every seed.

    .venv/bin/python benchmarks/bench_proposers.py                       # default model, staged, both worlds, 3 seeds
    .venv/bin/python benchmarks/bench_proposers.py --models smollm2,qwen2.5-coder-0.5b --modes staged,oneshot --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def one_run(world: str, model: str, mode: str, seed: int, runs_dir: str, max_wall_s: float | None = None) -> dict:
    """One demo run (with a wall-time cap if given); its scores, LLM use and wall time."""
    from cotclip.optimizer.loop.demo import demo_config
    from cotclip.optimizer.loop.session import optimize
    from cotclip.scoring.simulation.world import load_world

    config = demo_config(
        world, f"local:{model}", mode, runs_dir=runs_dir, seed=seed, name=f"{world}-{model}-{mode}-s{seed}"
    )
    if max_wall_s is not None:
        config = config.model_copy(update={"max_wall_s": max_wall_s})
    oracle = load_world(world).oracle_system()
    started = time.perf_counter()
    summary = optimize(config, extra_systems=lambda inputs: {"oracle": oracle})
    wall = time.perf_counter() - started
    other = summary.extra["other_systems"][0]

    def score(held):
        return None if held is None else {"accuracy": held.accuracy, "ci": list(held.ci)}

    return {
        "world": world,
        "model": model,
        "mode": mode,
        "seed": seed,
        "wall_s": round(wall, 1),
        "baseline": score(summary.baseline),
        "initial": score(summary.initial),
        "best": score(summary.best),
        "oracle": {"accuracy": other["accuracy"], "ci": other["ci"]},
        "stopped": summary.stopped_because,
        "versions": summary.versions,
        "llm_calls": summary.llm["calls"] - summary.llm.get("cached_calls", 0),
        "tokens": summary.llm["prompt_tokens"] + summary.llm["completion_tokens"],
        "run_dir": summary.run_dir,
    }


def _cell(score: dict | None) -> str:
    if score is None:
        return "-"
    low, high = score["ci"]
    return f"{score['accuracy']:5.1%} [{low:.1%},{high:.1%}]"


def print_table(rows: list[dict]) -> None:
    """One line per run, then the targets' verdicts."""
    head = (
        f"{'world':<16}{'model':<20}{'mode':<9}{'seed':<5}{'baseline':<22}{'first proposal':<22}{'best':<22}"
        f"{'oracle':<22}{'best/or':<8}{'calls':<6}{'tokens':<8}{'wall s':<7}stopped"
    )
    print(head)
    failed = [r for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    for r in rows:
        ratio = r["best"]["accuracy"] / r["oracle"]["accuracy"]
        print(
            f"{r['world']:<16}{r['model']:<20}{r['mode']:<9}{r['seed']:<5}{_cell(r['baseline']):<22}"
            f"{_cell(r['initial']):<22}{_cell(r['best']):<22}{_cell(r['oracle']):<22}{ratio:<8.3f}"
            f"{r['llm_calls']:<6}{r['tokens']:<8}{r['wall_s']:<7}{r['stopped']}"
        )
    for r in failed:
        print(f"{r['world']:<16}{r['model']:<20}{r['mode']:<9}{r['seed']:<5}FAILED: {r['error']}")
    print()
    for r in rows:
        beats = r["best"]["accuracy"] >= r["baseline"]["accuracy"]
        print(
            f"{r['world']}/{r['model']}/{r['mode']}/s{r['seed']}: best/oracle "
            f"{r['best']['accuracy'] / r['oracle']['accuracy']:.3f} "
            f"(target 0.85 for the default model, staged), best >= baseline: {'yes' if beats else 'NO'}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the requested grid and print it (and write it as JSON with --out)."""
    from cotclip.optimizer.llm.models import DEFAULT_LOCAL_MODEL
    from cotclip.systems.errors import CotclipError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_LOCAL_MODEL)
    parser.add_argument("--modes", default="staged")
    parser.add_argument("--worlds", default="pokemon-like-xl,menagerie")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--max-wall-s",
        type=float,
        default=None,
        help="cap each run's wall time (the demo has none; a one-shot answer takes minutes on 2 cores)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--runs-dir", default=None, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a script may configure logging; trials are in the runs
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="bench-proposers-")
    rows = []
    for world in args.worlds.split(","):
        for model in args.models.split(","):
            for mode in args.modes.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    try:
                        rows.append(one_run(world, model, mode, seed, runs_dir, args.max_wall_s))
                    except CotclipError as exc:  # one failed run (e.g. no proposal within the wall cap) is a row
                        rows.append({"world": world, "model": model, "mode": mode, "seed": seed, "error": exc.message})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
