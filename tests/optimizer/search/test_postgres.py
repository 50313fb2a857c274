"""Knob search on a real PostgreSQL server: a worker killed mid-trial, and databases that do not answer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import optuna
import pytest

from cotclip.cli import main
from cotclip.optimizer.llm.server import free_port
from cotclip.optimizer.search import open_storage
from cotclip.systems.errors import InputError

# Each trial sleeps 0.3 s (a simulated slow evaluation, so that a kill lands inside a trial);
# heartbeats every second, a trial silent for 2 s counts as dead.
WORKER = textwrap.dedent(
    """
    import json, sys, time
    from cotclip.optimizer.search import knob_search
    from cotclip.optimizer.search.evaluator import KnobEvaluator
    from cotclip.scoring.scorer import ImageSet, PromptEmbedder
    from cotclip.scoring.splits import select, split_dataset
    from cotclip.scoring.simulation.encoder import SyntheticEncoder
    from cotclip.scoring.simulation.world import load_world

    evaluate = KnobEvaluator.evaluate
    def slow_evaluate(self, knobs):
        time.sleep(0.3)
        return evaluate(self, knobs)
    KnobEvaluator.evaluate = slow_evaluate

    storage, trials = sys.argv[1], int(sys.argv[2])
    world = load_world("pokemon-like")
    positions = select(split_dataset(list(world.labels), seed=0), "val")
    val = ImageSet(world.image_embeddings[positions], [world.labels[i] for i in positions],
                   PromptEmbedder(SyntheticEncoder(world)))
    result = knob_search(world.oracle_system(), val, n_trials=trials, storage=storage, study_name="shared",
                         sampler="random", heartbeat=(1, 2))
    print(json.dumps({"own": result.timing.trials, "total": result.n_trials}))
    """
)


def _trials(storage: str, state) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name="shared", storage=open_storage(storage, None)[0])
    except KeyError:  # no worker has created the study yet
        return []
    return [t for t in study.get_trials(deepcopy=False) if t.state == state]


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_failed_retried_and_the_other_finishes(tmp_path, postgres_url):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    open_storage(postgres_url, None)  # the schema, before two processes race to create it

    def start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), postgres_url, "24"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    doomed, survivor = start(), start()
    deadline = time.monotonic() + 120
    while len(_trials(postgres_url, optuna.trial.TrialState.RUNNING)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # until both workers are inside a trial
    doomed.kill()  # kill -9: no cleanup, no last heartbeat
    doomed.wait()
    before = {t.number for t in _trials(postgres_url, optuna.trial.TrialState.COMPLETE)}
    out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["total"] >= 24
    complete = {t.number: t for t in _trials(postgres_url, optuna.trial.TrialState.COMPLETE)}
    assert before <= set(complete)  # no completed trial lost
    assert not _trials(postgres_url, optuna.trial.TrialState.RUNNING)  # nothing left hanging
    failed = _trials(postgres_url, optuna.trial.TrialState.FAIL)
    assert len(failed) == 1, "the killed worker was inside a trial (each trial sleeps 0.3 s)"
    retried = [t for t in complete.values() if t.system_attrs.get("failed_trial") == failed[0].number]
    # retried with the knobs it had drawn before it died (the rest are drawn anew)
    assert len(retried) == 1 and failed[0].params.items() <= retried[0].params.items()


def test_a_database_that_does_not_answer_is_one_line(tmp_path, capsys):
    url = f"postgresql://cotclip:secret@127.0.0.1:{free_port()}/studies"
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        open_storage(url, None)
    assert time.monotonic() - started < 30
    message = caught.value.message
    assert "secret" not in message and "127.0.0.1" in message and "start the database server" in message
    assert "\n" not in message
    code = main(
        [
            "optimize",
            "--data",
            "synthetic:pokemon-like",
            "--model",
            "synthetic",
            "--lm",
            "none",
            "--moves",
            "knob_search",
            "--storage",
            url,
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cannot open search storage") and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "runs").exists()  # refused before a run dir exists


def test_an_unknown_database_on_a_live_server_is_one_line(postgres_server):
    url = postgres_server.get_uri("no_such_database")
    with pytest.raises(InputError, match='database "no_such_database" does not exist.*fix the --storage URL'):
        open_storage(url, None)
