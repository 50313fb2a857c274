"""Run-dir storage, config, stopping rules, bootstrap CI, lock checks and the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cotclip.optimizer.loop import lock_violations
from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.report import render_report, write_report
from cotclip.optimizer.loop.result import HeldOutScore, RunSummary, bootstrap_ci
from cotclip.optimizer.loop.runs import RunDir, VersionRecord
from cotclip.optimizer.loop.stopping import Budgets, Convergence, Spent, budget_spent, stale_rounds
from cotclip.systems.errors import InputError, RunDirError
from cotclip.systems.model import System


def tiny_system(**changes) -> System:
    data = {
        "name": "tiny",
        "classes": ["a", "b"],
        "groups": [{"name": "color", "prompt": "it is {}", "options": ["red", "blue"]}],
        "rules": {"a": {"color": 0}, "b": {"color": 1}},
    }
    data.update(changes)
    return System.from_data(data)


def record(number: int, accuracy: float, parent: str | None = None) -> VersionRecord:
    return VersionRecord(
        number=number,
        system=tiny_system(),
        val_accuracy=accuracy,
        val_n=10,
        move="propose",
        parent=parent,
        round=0,
        started_at="t0",
        finished_at="t1",
    )


def test_versions_round_trip_and_never_overwrite(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.save_version(record(1, 0.5))
    run.save_version(record(2, 0.7, parent="0001"))
    loaded = run.load_versions()
    assert [v.version_id for v in loaded] == ["0001", "0002"]
    assert loaded[1].parent == "0001" and loaded[1].val_accuracy == 0.7
    with pytest.raises(RunDirError):
        run.save_version(record(2, 0.9))
    run.release_lock()


def test_a_version_file_keeps_every_field_in_the_documented_keys(tmp_path):
    from cotclip.optimizer.loop.runs import utc_now

    original = VersionRecord(
        number=7,
        system=tiny_system(),
        val_accuracy=0.625,
        val_n=16,
        move="fit_rules",
        parent="0003",
        round=4,
        started_at=utc_now(),
        finished_at="2026-01-02T03:04:05+00:00",
        details={"changed_rules": 2, "changes": [["a", "color", 0, 1, 2.5]]},
    )
    assert original.started_at.endswith("+00:00")  # UTC, whatever the machine's time zone
    run = RunDir.create(tmp_path / "r")
    run.save_version(original)
    stored = json.loads((run.versions_dir / "0007.json").read_text(encoding="utf-8"))
    assert set(stored) == {
        "version",
        "round",
        "move",
        "parent",
        "val",
        "fingerprint",
        "started_at",
        "finished_at",
        "details",
        "system",
    }
    assert stored["fingerprint"] == original.system.fingerprint() and stored["val"] == {"accuracy": 0.625, "n": 16}
    assert run.load_versions() == [original]
    del stored["details"]  # files written before details existed still load
    (run.versions_dir / "0007.json").write_text(json.dumps(stored))
    assert run.load_versions()[0].details == {}
    del stored["move"]
    (run.versions_dir / "0007.json").write_text(json.dumps(stored))
    with pytest.raises(RunDirError, match=r"0007.json is corrupt \(bad field 'move'\); delete it or start a new run"):
        run.load_versions()
    run.release_lock()


def test_corrupt_version_is_a_one_line_run_dir_error(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.save_version(record(1, 0.5))
    (run.versions_dir / "0002.json").write_text('{"version": "0002", "sys')
    with pytest.raises(RunDirError, match="0002.json is corrupt"):
        run.load_versions()
    bad = record(3, 0.5).to_dict()
    bad["system"]["rules"]["a"]["color"] = 7
    (run.versions_dir / "0002.json").write_text(json.dumps(bad))
    with pytest.raises(RunDirError, match="corrupt.*out of range"):
        run.load_versions()


def test_create_refuses_a_started_run_replaces_an_unstarted_one_and_open_needs_one(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.write_text("run.yaml", "data: x\n")
    run.release_lock()
    again = RunDir.create(tmp_path / "r")  # no version yet: a failed start, emptied and reused
    assert again.replaced and not (tmp_path / "r" / "run.yaml").exists()
    again.write_text("versions/0001.json", "{}")
    again.release_lock()
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDir.create(tmp_path / "r")
    with pytest.raises(RunDirError, match="does not exist"):
        RunDir.open_existing(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match="not a run dir"):
        RunDir.open_existing(tmp_path / "empty")
    for leftover in ("run.yaml", "versions"):  # either alone, without a version, is a failed start: replaced
        folder = tmp_path / f"only-{leftover}"
        folder.mkdir()
        (folder / leftover).mkdir() if leftover == "versions" else (folder / leftover).write_text("data: x\n")
        replaced = RunDir.create(folder)
        assert replaced.replaced and not (folder / "run.yaml").exists()
        replaced.release_lock()
    held = RunDir.create(tmp_path / "held")
    RunDir(tmp_path / "held").release_lock()  # an object that never took the lock cannot drop another's
    assert (tmp_path / "held" / ".lock").exists()
    held.release_lock()


def test_lock_held_by_a_live_process_refuses_and_a_dead_one_is_stale(tmp_path):
    path = tmp_path / "r"
    path.mkdir()
    (path / "run.yaml").write_text("data: x\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (path / ".lock").write_text(json.dumps({"pid": sleeper.pid}))
        with pytest.raises(RunDirError, match=f"in use by process {sleeper.pid}"):
            RunDir.open_existing(path)
        with pytest.raises(subprocess.TimeoutExpired):  # asking whether the holder lives must not signal it
            sleeper.wait(timeout=0.5)
    finally:
        sleeper.kill()
        sleeper.wait()
    run = RunDir.open_existing(path)  # the holder is dead now: stale lock replaced
    assert json.loads((path / ".lock").read_text())["pid"] == os.getpid()
    run.release_lock()
    assert not (path / ".lock").exists()


def test_atomic_writes_leave_no_temporaries_and_torn_log_lines_are_skipped(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.write_json("best.json", {"x": 1})
    run.append_jsonl("log.jsonl", {"a": 1})
    with open(run.path / "log.jsonl", "a") as handle:
        handle.write('{"a": 2')  # what kill -9 mid-write leaves
    assert list(run.read_jsonl("log.jsonl")) == [{"a": 1}]
    assert not list(run.path.glob(".*.tmp"))
    assert run.read_json("best.json") == {"x": 1}


def _rewrite(path: Path, rounds: int, relative: str) -> None:
    run = RunDir(path)  # the child writes without taking the lock: it stands in for the lock holder
    if relative.endswith(".json"):
        run.write_json(relative, {"rounds": rounds, "history": list(range(rounds))})
    else:
        run.write_text(relative, "# report\n" + "line\n" * rounds)


def test_a_write_that_breaks_off_leaves_the_previous_file_intact(tmp_path):
    from helpers.faults import outcome_under_file_size_limit

    run = RunDir.create(tmp_path / "r")
    try:
        run.write_text("run.yaml", "name: r\n")
        names = ("progress.json", "report.md")
        for name in names:
            _rewrite(run.path, 3, name)
        before = {name: (run.path / name).read_bytes() for name in names}
        assert all(len(content) < 200 for content in before.values())
        for name in names:  # each rewrite grows past 200 bytes and breaks off there (as on a full disk)
            assert outcome_under_file_size_limit(200, lambda: _rewrite(run.path, 500, name)) == "OSError"  # noqa: B023 - runs before the loop moves on
        assert {name: (run.path / name).read_bytes() for name in names} == before
        assert run.read_json("progress.json") == {"rounds": 3, "history": [0, 1, 2]}
    finally:
        run.release_lock()
    with RunDir.open_existing(run.path) as reopened:  # a resume clears what the broken writes left behind
        assert not list(reopened.path.glob(".*.tmp"))
        assert reopened.read_json("progress.json")["rounds"] == 3


def test_files_are_utf8_indented_json_in_new_folders_and_versions_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    run = RunDir.create(tmp_path / "r")
    data = {"name": "café", "path": Path("/x/é")}
    run.write_json("plots/deep/data.json", data, durable=False)
    assert (run.path / "plots/deep/data.json").read_text(encoding="utf-8") == (
        '{\n  "name": "café",\n  "path": "/x/é"\n}\n'
    )
    run.write_text("notes/deep/report.md", "ünïcode\n")
    assert len(synced) == 1  # only the durable write_text was fsynced
    run.save_version(record(1, 0.5))
    assert len(synced) == 2  # version files survive a power loss
    run.append_jsonl("log.jsonl", {"text": "é", "path": Path("/p")})
    assert (run.path / "log.jsonl").read_text(encoding="utf-8") == '{"text": "é", "path": "/p"}\n'
    with open(run.path / "log.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"torn": ')  # a session killed mid-line; the next session appends after it
    run.append_jsonl("log.jsonl", {"after": 1})
    run.append_jsonl("log.jsonl", {"after": 2})
    assert list(run.read_jsonl("log.jsonl")) == [{"text": "é", "path": "/p"}, {"after": 2}]
    (run.path / "bad.json").write_text("{not json")
    with pytest.raises(RunDirError, match=r"bad.json is corrupt \(JSONDecodeError\); delete it or start a new run"):
        run.read_json("bad.json")
    umask = os.umask(0)
    os.umask(umask)
    lock = json.loads((run.path / ".lock").read_text())
    assert set(lock) == {"pid", "since"} and (run.path / ".lock").stat().st_mode & 0o777 == 0o644 & ~umask
    run.release_lock()


def test_version_file_problems_name_the_file(tmp_path):
    run = RunDir.create(tmp_path / "r")
    run.save_version(record(1, 0.5))
    with pytest.raises(RunDirError, match=r"0001.json already exists; two writers in one run dir\?"):
        run.save_version(record(1, 0.9))
    (run.versions_dir / "0002.json").write_text("[1, 2]")
    with pytest.raises(RunDirError, match=r"0002.json is corrupt \(not an object\)"):
        run.load_versions()
    (run.versions_dir / "0002.json").write_text(json.dumps(record(3, 0.5).to_dict()))
    with pytest.raises(RunDirError, match=r"0002.json is corrupt \(it says version 0003\); delete it"):
        run.load_versions()
    run.release_lock()


def test_an_empty_folder_can_become_a_run(tmp_path):
    (tmp_path / "r").mkdir()
    run = RunDir.create(tmp_path / "r")
    assert run.versions_dir.is_dir()
    run.release_lock()


def test_run_config_round_trips_through_yaml_and_rejects_bad_values(tmp_path):
    config = RunConfig(data="synthetic:pokemon-like", model="synthetic", name="n1", moves=["fit_rules"])
    path = tmp_path / "run.yaml"
    path.write_text(config.to_yaml())
    assert load_run_config(path) == config
    assert load_run_config(path, patience=7).patience == 7
    with pytest.raises(InputError, match="unknown move 'teleport'"):
        load_run_config({"data": "d", "model": "m", "moves": ["teleport"]})
    with pytest.raises(InputError, match="fractions"):
        load_run_config({"data": "d", "model": "m", "fractions": [0.5, 0.5, 0.0]})
    with pytest.raises(InputError, match="patince: Extra inputs"):
        load_run_config({"data": "d", "model": "m", "patince": 3})
    with pytest.raises(InputError, match="empty list"):
        load_run_config({"data": "d", "model": "m", "classes": []})


def test_stale_rounds_and_budgets():
    assert stale_rounds([0.5, 0.6, 0.6, 0.601], 0.005) == 2
    assert stale_rounds([0.5, 0.503, 0.506], 0.005) == 0  # small gains accumulate
    assert Convergence(0.005, 2).converged([0.5, 0.6, 0.6, 0.6])
    assert not Convergence(0.005, 3).converged([0.5, 0.6, 0.6, 0.6])
    budgets = Budgets(max_evaluations=10, max_usd=1.0)
    assert budget_spent(budgets, Spent(evaluations=9)) is None
    assert budget_spent(budgets, Spent(evaluations=10)) == "max_evaluations"
    assert budget_spent(budgets, Spent(usd=1.5)) == "max_usd"
    assert budgets.evaluations_left(Spent(evaluations=4)) == 6


def test_bootstrap_ci_brackets_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(1)
    small = rng.random(40) < 0.7
    large = rng.random(4000) < 0.7
    low, high = bootstrap_ci(small, seed=0)
    assert low < small.mean() < high
    assert 0.1 < high - low < 0.4
    low_l, high_l = bootstrap_ci(large, seed=0)
    assert high_l - low_l < (high - low) / 5
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)


def test_lock_violations_catch_changed_locked_rules_and_groups():
    locked = tiny_system(locks={"groups": [], "rules": [["a", "color"]]})
    same = locked.evolve(rules={"a": {"color": 0}, "b": {"color": 0}})
    assert lock_violations(locked, same) == []
    changed = locked.evolve(rules={"a": {"color": 1}, "b": {"color": 1}})
    assert "locked rule ('a', 'color') changed from 'red' to 'blue'" in lock_violations(locked, changed)
    group_locked = tiny_system(locks={"groups": ["color"], "rules": []})
    reworded = group_locked.evolve(groups=[{"name": "color", "prompt": "colour: {}", "options": ["red", "blue"]}])
    assert any("locked group 'color'" in p for p in lock_violations(group_locked, reworded))
    unlocked = group_locked.evolve(locks={"groups": [], "rules": []})
    assert "locks were removed" in lock_violations(group_locked, unlocked)


def test_report_has_table_plots_and_per_class(tmp_path):
    classes = ["a", "b"]
    truth = np.array([0, 0, 1, 1])
    best = HeldOutScore.from_predictions("best", classes, truth, np.array([0, 0, 1, 0]), version="0002")
    base = HeldOutScore.from_predictions("class-name baseline", classes, truth, np.array([1, 0, 1, 0]))
    assert best.confusion == [[2, 0], [1, 1]] and best.per_class == {"a": 1.0, "b": 0.5}
    summary = RunSummary(
        run_dir=str(tmp_path),
        stopped_because="converged",
        versions=2,
        evaluations=2,
        best_version="0002",
        best_val_accuracy=0.7,
        best=best,
        baseline=base,
        baseline_note=None,
        initial=None,
        user_system=None,
        encoder_calls=10,
        unique_inputs=10,
        llm={"calls": 0},
        wall_s=1.0,
        loop_overhead_s_per_evaluation=0.001,
        sessions=1,
    )
    versions = [record(1, 0.5), record(2, 0.7, parent="0001")]
    report = write_report(tmp_path, summary, versions)
    text = report.read_text()
    assert "| best | 0002 | 75.0% |" in text and "class-name baseline" in text and "converged" in text
    assert (tmp_path / "plots" / "val_accuracy.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "confusion_test.png").stat().st_size > 1000
    assert summary.to_cli_json()["best"]["test_accuracy"] == 0.75
    assert json.loads(json.dumps(summary.to_dict()))["baseline"]["accuracy"] == 0.5
    assert render_report(summary, versions).count("| 0001 | 0 |") == 1


def test_report_names_an_unknown_llm_price_instead_of_crashing(tmp_path):
    import dataclasses

    classes, truth = ["a", "b"], np.array([0, 1])
    best = HeldOutScore.from_predictions("best", classes, truth, truth, version="0001")
    summary = RunSummary(
        run_dir=str(tmp_path),
        stopped_because="converged",
        versions=1,
        evaluations=1,
        best_version="0001",
        best_val_accuracy=1.0,
        best=best,
        baseline=None,
        baseline_note=None,
        initial=None,
        user_system=None,
        encoder_calls=1,
        unique_inputs=1,
        llm={"calls": 2, "prompt_tokens": 5, "completion_tokens": 5, "usd": None},
        wall_s=1.0,
        loop_overhead_s_per_evaluation=0.001,
        sessions=1,
    )
    assert "LLM: 2 calls, 10 tokens, unknown dollars" in render_report(summary, [record(1, 1.0)])
    priced = dataclasses.replace(summary, llm={**summary.llm, "usd": 0.25})
    assert "$0.2500" in render_report(priced, [record(1, 1.0)])
