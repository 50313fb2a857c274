"""Knob-search workers sharing one study: trials/s with 1 and 2 worker processes, journal file vs PostgreSQL.

Run: ``.venv/bin/python benchmarks/bench_search_workers.py`` (``--trials 60``).

Each row starts W worker processes that call
``knob_search(oracle, val, n_trials=T, storage=S, study_name="bench", sampler="random")``
on the synthetic pokemon-like world's val split, waits until every one has loaded
(imports, world, prompt cosines), releases them together and times until the last
one returns: ``trials/s`` = complete trials in the study / that wall time. The random
sampler keeps the sampling cost flat, so the rows compare storages and worker
counts. PostgreSQL 16 is a local server started here with ``pgserver`` (Unix socket,
heartbeats every 10 s as ``--storage postgresql://`` uses them); the journal is a
file in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna

from cotclip.optimizer.search import open_storage

WORKER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    from cotclip.optimizer.search import knob_search
    from cotclip.scoring.scorer import ImageSet, PromptEmbedder
    from cotclip.scoring.splits import select, split_dataset
    from cotclip.scoring.simulation.encoder import SyntheticEncoder
    from cotclip.scoring.simulation.world import load_world

    storage, go, ready, trials = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), int(sys.argv[4])
    world = load_world("pokemon-like")
    positions = select(split_dataset(list(world.labels), seed=0), "val")
    val = ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions],
                   PromptEmbedder(SyntheticEncoder(world)))
    knob_search(world.oracle_system(), val, n_trials=1, sampler="random")  # warm: prompt cosines, imports
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    result = knob_search(world.oracle_system(), val, n_trials=trials, storage=storage, study_name="bench",
                         sampler="random")
    print(json.dumps({"own": result.timing.trials}))
    """
)


def _row(script: Path, storage: str, workers: int, trials: int, scratch: Path) -> tuple[float, int, list[int]]:
    go = scratch / f"go-{workers}"
    readies = [scratch / f"ready-{workers}-{i}" for i in range(workers)]
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), storage, str(go), str(ready), str(trials)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    while not all(r.exists() for r in readies):
        time.sleep(0.05)
    began = time.perf_counter()
    go.touch()
    own = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise SystemExit(f"worker failed: {err[-1500:]}")
        own.append(json.loads(out.strip().splitlines()[-1])["own"])
    wall = time.perf_counter() - began
    study = optuna.load_study(study_name="bench", storage=open_storage(storage, None)[0])
    complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    return complete / wall, complete, own


def main() -> None:
    """Start PostgreSQL, run the four rows, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60, help="complete trials per study (all workers together)")
    args = parser.parse_args()
    import pgserver

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)")
    print(f"{'storage':<12}{'workers':>8}{'trials/s':>10}{'complete':>10}  per worker")
    with tempfile.TemporaryDirectory(prefix="cotclip-bench-") as name:
        scratch = Path(name)
        script = scratch / "worker.py"
        script.write_text(WORKER)
        server = pgserver.get_server(scratch / "pg", cleanup_mode="delete")
        try:
            for workers in (1, 2):
                for kind in ("journal", "postgresql"):
                    if kind == "journal":
                        storage = str(scratch / f"w{workers}.journal")
                    else:
                        server.psql(f"CREATE DATABASE w{workers};")
                        storage = server.get_uri(f"w{workers}")
                        open_storage(storage, None)  # the schema, before the workers race to create it
                    rate, complete, own = _row(script, storage, workers, args.trials, scratch)
                    print(f"{kind:<12}{workers:>8}{rate:>10.1f}{complete:>10}  {own}")
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
