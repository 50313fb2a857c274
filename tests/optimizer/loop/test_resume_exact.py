"""Resume is exact: a run killed at any point and resumed ends as the uninterrupted run (simulated proposer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.session import optimize


class Killed(BaseException):
    """Stands in for kill -9: raised right after a version file and progress.json were written."""


def config_for(tmp_path: Path, name: str) -> RunConfig:
    return RunConfig(
        name=name,
        runs_dir=str(tmp_path / "runs"),
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="simulated",
        cache_dir=str(tmp_path / "cache"),
        max_evaluations=70,
        max_options=12,
    )


def outcome(summary, run_dir: Path) -> dict:
    """Everything a run ends with except timings, session counts and paths."""
    versions = []
    for path in sorted((run_dir / "versions").glob("[0-9]*.json")):
        record = json.loads(path.read_text())
        versions.append(
            (
                record["version"],
                record["fingerprint"],
                record["move"],
                record["parent"],
                record["round"],
                record["val"]["accuracy"],
            )
        )
    data = summary.to_dict()
    numbers = {
        key: data[key]
        for key in (
            "stopped_because",
            "versions",
            "evaluations",
            "best_version",
            "best_val_accuracy",
            "best",
            "baseline",
            "initial",
            "versus_baseline",
        )
    }
    numbers["final_choice"] = data["extra"]["final_choice"]
    report = (run_dir / "report.md").read_text()
    table = report[report.index("## Test accuracy") : report.index("## Plots")]
    return {"versions": versions, "numbers": numbers, "report": table}


def killed_at(tmp_path: Path, name: str, version: int):
    def kill(record, best) -> None:
        if record.number == version:
            raise Killed

    with pytest.raises(Killed):
        optimize(config_for(tmp_path, name), on_version=kill)
    assert not (tmp_path / "runs" / name / "summary.json").exists()
    return optimize(resume=tmp_path / "runs" / name)


@pytest.mark.slow
def test_killed_and_resumed_runs_end_as_the_uninterrupted_run(tmp_path):
    whole = optimize(config_for(tmp_path, "whole"))
    expected = outcome(whole, tmp_path / "runs" / "whole")
    assert expected["numbers"]["evaluations"] > 40  # long enough for kills in round 0, early and late rounds
    moves = {v[2] for v in expected["versions"]}
    assert {"propose", "baseline", "llm_revise", "tune_scoring"} <= moves
    for point in (3, 21, 47):  # inside round 0, in the first rounds, late in the run
        resumed = killed_at(tmp_path, f"k{point}", point)
        assert resumed.sessions == 2
        got = outcome(resumed, tmp_path / "runs" / f"k{point}")
        assert got["versions"] == expected["versions"], f"killed at version {point}"
        assert got["numbers"] == expected["numbers"] and got["report"] == expected["report"]


@pytest.mark.slow
def test_sigkill_during_a_simulated_run_resumes_exactly(tmp_path):
    whole = optimize(config_for(tmp_path, "whole"))
    expected = outcome(whole, tmp_path / "runs" / "whole")
    run = tmp_path / "runs" / "k"
    args = [
        "optimize",
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--lm",
        "simulated",
        "--name",
        "k",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--max-evaluations",
        "70",
        "--max-options",
        "12",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "cotclip", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (run / "versions" / "0030.json").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    resumed = optimize(resume=run)
    got = outcome(resumed, run)
    assert got["versions"] == expected["versions"] and got["numbers"] == expected["numbers"]
