"""`kill -9` in the middle of a real run, then `--resume`: no finished version lost, nothing encoded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from cotclip.cli import main


def cache_entries(cache) -> int:
    """Rows in the embedding cache; a temporary file a killed writer left (``.tmp-*``) is not a row."""
    return sum(1 for path in cache.glob("v1/*/*/*") if path.is_file() and not path.name.startswith("."))


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(base_args, tmp_path, capsys):
    args = replace_moves(base_args) + ["--name", "k", "--max-evaluations", "400", "--patience", "6"]
    run = tmp_path / "runs" / "k"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cotclip", *args, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not (run / "versions" / "0004.json").exists():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert (run / ".lock").exists()  # left behind by the dead process: stale, detected on resume
    finished = {p.name: p.read_bytes() for p in (run / "versions").glob("[0-9]*.json")}
    assert not (run / "summary.json").exists()
    # A batch logged but not yet cached when the kill landed is lost with the process and
    # encoded again on resume; it can only be the last batch the killed session sent.
    killed_log = [json.loads(line) for line in (run / "encoder_calls.jsonl").read_text().splitlines()]
    in_flight = sum(entry["n"] for entry in killed_log) - cache_entries(tmp_path / "cache")
    assert 0 <= in_flight <= killed_log[-1]["n"]

    assert main(["optimize", "--resume", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    after = {p.name: p.read_bytes() for p in (run / "versions").glob("[0-9]*.json")}
    assert all(after[name] == content for name, content in finished.items())
    assert out["versions"] == len(after) >= len(finished)
    names = sorted(after)
    assert names == [f"{i:04d}.json" for i in range(1, len(names) + 1)]
    # every input encoded once over both sessions, except a batch cut off by the kill;
    # the resumed session encoded no image at all
    assert out["encoder_calls"] == cache_entries(tmp_path / "cache") + in_flight
    summary = json.loads((run / "summary.json").read_text())
    assert summary["unique_inputs"] + in_flight == out["encoder_calls"] and summary["sessions"] == 2
    log = [json.loads(line) for line in (run / "encoder_calls.jsonl").read_text().splitlines()]
    sessions = list(dict.fromkeys(entry["session"] for entry in log))
    assert not [e for e in log if e["kind"] == "image" and e["session"] != sessions[0]]
    fingerprints = [json.loads(content)["fingerprint"] for content in after.values()]
    assert len(set(fingerprints)) == len(fingerprints)  # the interrupted round was not recorded twice
    assert not (run / ".lock").exists()
    # both sessions' knob searches live in the run's journal; one study per searched parent
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run / "search.journal")))
    searched = {json.loads(c)["parent"] for c in after.values() if json.loads(c)["move"] == "knob_search"}
    assert len(optuna.get_all_study_summaries(journal)) >= len(searched)


def replace_moves(args: list[str]) -> list[str]:
    args = list(args)
    args[args.index("--moves") + 1] = "fit_rules,refine_rules,select_groups,knob_search"
    return args
