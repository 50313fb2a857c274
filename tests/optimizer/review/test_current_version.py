"""Human edits are first-class: the newest ``human-edit`` version is what review, export and
``--apply`` use by default, a later optimize keeps its locks, and the report says which version
is current and why (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from cotclip.cli import main
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, current_version, utc_now
from cotclip.systems.io import load_system


def _record(number, system, val, move, parent=None):
    now = utc_now()
    return VersionRecord(number, system, val, 32, move, parent, 0, now, now)


def _apply(run_dir: Path, tmp_path: Path, edits: dict, capsys, *extra: str) -> dict:
    path = tmp_path / "edits.yaml"
    path.write_text(yaml.safe_dump(edits))
    code = main(["review", str(run_dir), "--apply", str(path), "--json", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_current_version_rules(broken_system):
    best = _record(1, broken_system, 0.8, "fit_rules")
    edit = _record(2, broken_system.evolve(name="e"), 0.8, "human-edit", "0001")
    assert current_version([best]) == (best, "best on val")
    # an edit that only ties the best is still what the run stands for
    assert current_version([best, edit]) == (edit, "newest human edit")
    better_child = _record(3, broken_system.evolve(name="c"), 0.9, "fit_rules", "0002")
    better_stranger = _record(4, broken_system.evolve(name="s"), 0.95, "llm_revise", "0001")
    chosen, why = current_version([best, edit, better_child, better_stranger])
    assert chosen is better_child and "built on it" in why and "0002" in why


def test_the_runs_final_choice_is_current_until_a_human_edit(broken_system):
    steady = _record(1, broken_system, 0.80, "fit_rules")
    lucky = _record(2, broken_system.evolve(name="l"), 0.82, "llm_revise")
    assert current_version([steady, lucky], final="0001") == (steady, "the run's final choice on val")
    assert current_version([steady, lucky], final="0099") == (lucky, "best on val")  # not a version of the run
    edit = _record(3, broken_system.evolve(name="e"), 0.7, "human-edit", "0002")
    assert current_version([steady, lucky, edit], final="0001") == (edit, "newest human edit")


def test_apply_builds_on_the_newest_edit_and_keeps_its_locks(run_dir, tmp_path, broken_system, capsys):
    first, group = broken_system.classes[0], broken_system.groups[0].name
    second = broken_system.classes[1]
    # the first edit ties (or loses to) the best: only a lock and a note
    first_edit = _apply(run_dir, tmp_path, {"edits": [{"op": "lock_rule", "class": first, "group": group}]}, capsys)
    assert first_edit["edited"] == {"version": "0001", "why": "best on val"}  # this run has no best.json
    second_edit = _apply(run_dir, tmp_path, {"edits": [{"op": "lock_rule", "class": second, "group": group}]}, capsys)
    assert second_edit["edited"] == {"version": first_edit["version"], "why": "newest human edit"}
    latest = RunDir(run_dir).load_versions()[-1]
    assert latest.parent == first_edit["version"]
    assert set(latest.system.locks.rules) == {(first, group), (second, group)}  # the first edit's lock survived
    # export defaults to the same version
    out = tmp_path / "exported.json"
    assert main(["export", str(run_dir), "--format", "json", "--out", str(out)]) == 0
    assert set(load_system(out).locks.rules) == {(first, group), (second, group)}


def test_a_later_optimize_from_the_run_keeps_the_edits_locks_and_the_report_names_the_current_version(
    run_dir, tmp_path, broken_system, capsys
):
    first, group = broken_system.classes[0], broken_system.groups[0].name
    locked = broken_system.rule(first, group)  # the broken rule, locked on purpose: fitting would fix it
    _apply(run_dir, tmp_path, {"edits": [{"op": "lock_rule", "class": first, "group": group}]}, capsys)
    code = main(
        [
            "optimize",
            "--data",
            "synthetic:pokemon-like",
            "--model",
            "synthetic",
            "--init",
            str(run_dir),
            "--lm",
            "none",
            "--moves",
            "fit_rules,refine_rules",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--name",
            "later",
            "--json",
        ]
    )
    assert code == 0
    capsys.readouterr()
    later = tmp_path / "runs" / "later"
    versions = RunDir(later).load_versions()
    assert len(versions) > 1
    assert all(v.system.rule(first, group) == locked and (first, group) in v.system.locks.rules for v in versions)
    summary = json.loads((later / "summary.json").read_text())
    current = summary["extra"]["current"]
    # a finished run stands for its final choice: the report, best.json, review and export agree
    assert current == {**current, "version": summary["best_version"], "why": "the run's final choice on val"}
    assert json.loads((later / "best.json").read_text())["version"] == summary["best_version"]
    assert f"Current version {current['version']} (the run's final choice on val)" in (later / "report.md").read_text()
    out = tmp_path / "later.json"
    assert main(["export", str(later), "--format", "json", "--out", str(out)]) == 0
    chosen = next(v for v in versions if v.version_id == summary["best_version"])
    assert load_system(out).rules == chosen.system.rules
