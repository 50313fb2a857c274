"""Bad input to `cotclip optimize`: one line on stderr, exit 2, no traceback, run dir intact."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cotclip.cli import main


def fails(args: list[str], capsys, match: str) -> str:
    code = main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(lines) == 1 and match in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def replace_flag(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("--model", "nosuch:thing", "unknown model spec"),
        ("--data", "synthetic:no-such-world", "no-such-world"),
    ],
)
def test_unknown_specs_fail_before_any_run_dir_exists(base_args, tmp_path, capsys, flag, value, match):
    fails(replace_flag(base_args, flag, value) + ["--name", "x"], capsys, match)
    assert not (tmp_path / "runs" / "x").exists()


def test_class_list_problems(base_args, tmp_path, capsys):
    fails(base_args + ["--classes", ",", "--name", "x"], capsys, "names no class")
    fails(base_args + ["--classes", "Nawou,Nope", "--name", "x"], capsys, "'Nope' has no images")
    assert not (tmp_path / "runs" / "x").exists()


def test_fractions_that_leave_a_class_without_val_images(base_args, tmp_path, capsys):
    fails(base_args + ["--fractions", "0.8,0,0.2", "--name", "x"], capsys, "without val images")
    fails(base_args + ["--fractions", "0.5,0.5", "--name", "x"], capsys, "--fractions needs 3")
    world = tmp_path / "tiny.yaml"
    world.write_text("classes: 3\nimages_per_class: 2\ngroups:\n  - {name: color, values: 4, visibility: 0.9}\n")
    args = replace_flag(base_args, "--data", f"synthetic:{world}")
    init_at = args.index("--init")
    del args[init_at : init_at + 2]
    fails(args + ["--lm", "simulated", "--name", "x"], capsys, "fewer than the 3 images")
    assert not (tmp_path / "runs" / "x").exists()


def test_unavailable_or_unknown_moves(base_args, capsys):
    fails(replace_flag(base_args, "--moves", "fit_rules,teleport"), capsys, "unknown move 'teleport'")
    fails(replace_flag(base_args, "--moves", "llm_revise"), capsys, "needs a proposer")


def test_an_llm_that_never_returns_a_valid_system(base_args, tmp_path, capsys, monkeypatch):
    from dspy.utils import DummyLM

    from cotclip.optimizer.llm.lm import LLMClient, LMConfig
    from cotclip.optimizer.loop import session
    from cotclip.optimizer.proposers.llm import LLMProposer

    def never_valid(*_args, **_kwargs):
        lm = DummyLM([{"answer": "I cannot help with that."}] * 50)
        return LLMProposer(LLMClient(LMConfig(model="openai/never-valid"), lm=lm))

    monkeypatch.setattr(session, "build_proposer", never_valid)
    args = [a for a in base_args]
    init_at = args.index("--init")
    del args[init_at : init_at + 2]
    args = replace_flag(args, "--lm", "openai/never-valid")
    fails(args + ["--name", "x"], capsys, "no valid system")
    run = tmp_path / "runs" / "x"
    assert (run / "run.yaml").exists() and not list((run / "versions").glob("*.json"))
    assert not (run / ".lock").exists()
    log = [json.loads(line) for line in (run / "proposer_log.jsonl").read_text().splitlines()]
    assert log[-1]["errors"] and log[-1]["calls"] == 4 * 3  # K candidates x attempts each


def test_corrupt_or_missing_run_dirs_on_resume(base_args, tmp_path, capsys):
    assert main(base_args + ["--name", "r", "--max-evaluations", "2", "--json"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "r"
    version = run / "versions" / "0002.json"
    version.write_text(version.read_text()[:100])
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    fails(["optimize", "--resume", str(run)], capsys, "0002.json is corrupt")
    after = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before
    (run / "run.yaml").write_text("data: [unclosed\n")
    fails(["optimize", "--resume", str(run)], capsys, "run.yaml")
    fails(["optimize", "--resume", str(tmp_path / "nowhere")], capsys, "does not exist")
    fails(["optimize", "--resume", str(run), "--data", "x"], capsys, "drop --data")


def test_two_runs_never_share_a_run_dir(base_args, tmp_path, capsys):
    assert main(base_args + ["--name", "r", "--max-evaluations", "2", "--json"]) == 0
    capsys.readouterr()
    fails(base_args + ["--name", "r"], capsys, "already holds a run")
    run = tmp_path / "runs" / "r"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run / ".lock").write_text(json.dumps({"pid": holder.pid}))
        fails(["optimize", "--resume", str(run)], capsys, f"in use by process {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
