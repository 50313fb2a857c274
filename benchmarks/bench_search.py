"""Knob search speed: trials per second and where the time goes (Optuna vs scoring).

Run: ``.venv/bin/python benchmarks/bench_search.py`` (``--quick`` for a smoke run).

For each planted-attribute preset, the search starts from the oracle system at the seed
article's literal temperature (1.0 on cosines) with two template variants per group in
the pool, and runs ``--trials`` trials on val per (sampler, storage) row:

* ``trials/s``: complete trials per second of wall time in this process;
* ``scoring ms/trial``: time inside :meth:`KnobEvaluator.evaluate` (gather + softmax +
  weighted sum; never the encoder);
* ``optuna share``: the rest of the wall time (sampling, storage, bookkeeping);
* ``best val`` / ``prompts``: the best point found, ``start val`` the start's accuracy.

Every row also checks that the encoder was not called during the trials.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import optuna

from cotclip.optimizer.search import SearchSpace, knob_search
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.scoring.splits import select, split_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.counting import CountingEncoder  # noqa: E402

VARIANTS = ("a picture showing {}", "something with {}")


def _row(world_name: str, sampler: str, storage: str, trials: int) -> None:
    world = load_world(world_name)
    encoder = CountingEncoder(SyntheticEncoder(world))
    positions = select(split_dataset(list(world.labels), seed=0), "val")
    val = ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions], PromptEmbedder(encoder))
    oracle = world.oracle_system()
    start = oracle.evolve(scoring={**oracle.scoring.model_dump(), "temperature": 1.0})
    space = SearchSpace(template_pool={g.name: VARIANTS for g in start.groups})
    with tempfile.TemporaryDirectory() as scratch:
        spec = {
            "memory": None,
            "journal": str(Path(scratch) / "s.journal"),
            "sqlite": f"sqlite:///{Path(scratch) / 's.db'}",
        }[storage]
        # The first call embeds the pool; measure a second study on the warm image set.
        knob_search(start, val, n_trials=1, space=space, sampler=sampler)
        calls_before = encoder.texts
        result = knob_search(
            start, val, n_trials=trials, space=space, storage=spec, sampler=sampler, study_name="bench"
        )
    timing = result.timing
    flat = "yes" if encoder.texts == calls_before else f"NO ({encoder.texts - calls_before} texts)"
    print(
        f"{world_name:<14}{sampler:<8}{storage:<9}{timing.trials:>7}{timing.trials_per_s:>10.1f}"
        f"{1000 * timing.scoring_s / max(timing.trials, 1):>18.3f}{timing.optuna_share:>14.3f}"
        f"{result.start_accuracy:>11.4f}{result.best.accuracy:>10.4f}{result.best.prompts:>9}{flat:>14}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", nargs="+", default=["pokemon-like", "large"])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--samplers", nargs="+", default=["tpe", "nsga2", "random"])
    parser.add_argument("--storages", nargs="+", default=["memory", "journal", "sqlite"])
    parser.add_argument("--quick", action="store_true", help="pokemon-like, 20 trials, tpe, memory + journal")
    args = parser.parse_args(argv)
    if args.quick:
        args.worlds, args.trials, args.samplers, args.storages = ["pokemon-like"], 20, ["tpe"], ["memory", "journal"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(
        f"{'world':<14}{'sampler':<8}{'storage':<9}{'trials':>7}{'trials/s':>10}{'scoring ms/trial':>18}"
        f"{'optuna share':>14}{'start val':>11}{'best val':>10}{'prompts':>9}{'encoder flat':>14}"
    )
    for world_name in args.worlds:
        for sampler in args.samplers:
            for storage in args.storages:
                _row(world_name, sampler, storage, args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
