"""Two worker processes share one study through a journal file, SQLite or PostgreSQL, as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import optuna
import pytest

from cotclip.optimizer.search import open_storage

WORKER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    from cotclip.optimizer.search import knob_search
    from cotclip.scoring.scorer import ImageSet, PromptEmbedder
    from cotclip.scoring.splits import select, split_dataset
    from cotclip.scoring.simulation.encoder import SyntheticEncoder
    from cotclip.scoring.simulation.world import load_world

    storage, go, trials = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
    world = load_world("pokemon-like")
    positions = select(split_dataset(list(world.labels), seed=0), "val")
    val = ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions],
                   PromptEmbedder(SyntheticEncoder(world)))
    system = world.oracle_system()
    while not go.exists():  # start both workers' trials together
        time.sleep(0.05)
    result = knob_search(system, val, n_trials=trials, storage=storage, study_name="shared", sampler="random")
    print(json.dumps({"own": result.timing.trials, "total": result.n_trials, "best": result.best.accuracy}))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "sqlite", "postgres"])
def test_two_workers_fill_one_study(tmp_path, kind, request):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    storage = {
        "journal": lambda: str(tmp_path / "shared.journal"),
        "sqlite": lambda: f"sqlite:///{tmp_path / 'shared.db'}",
        "postgres": lambda: request.getfixturevalue("postgres_url"),
    }[kind]()
    if kind != "journal":  # create the schema once, before two processes race to do it
        open_storage(storage, None)
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), storage, str(go), "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)
    go.touch()
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    study = optuna.load_study(study_name="shared", storage=open_storage(storage, None)[0])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    # Each worker stops once the study holds 30 complete trials; a trial in flight may finish after.
    assert 30 <= len(complete) <= 31
    assert sum(r["own"] for r in reports) == len(complete)
    assert all(r["own"] > 0 for r in reports), reports
