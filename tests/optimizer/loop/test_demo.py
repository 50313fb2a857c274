"""`cotclip demo` with the simulated proposer, and the loop against the real local LLM (SmolLM2)."""

from __future__ import annotations

import json

import pytest
import yaml

from cotclip.cli import main


@pytest.mark.slow
def test_demo_with_the_simulated_proposer_prints_the_table(tmp_path, capsys):
    args = ["demo", "--lm", "simulated", "--runs-dir", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    out = capsys.readouterr().out
    for row in ("class-name baseline", "initial proposal", "best (v", "oracle (simulation only)", "report:"):
        assert row in out
    assert main(args + ["--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["best"]["test_accuracy"] > result["baseline_test_accuracy"]
    assert 0.5 < result["oracle_test_accuracy"] <= 1.0
    assert result["encoder_calls"] == 0  # the second demo reuses every embedding of the first
    # no --llm-timeout: the run keeps None, so the LLM's own default applies (1800 s for a local one)
    stored = [yaml.safe_load(p.read_text()) for p in sorted((tmp_path / "runs").glob("*/run.yaml"))]
    assert stored and all(config.get("llm_timeout_s") is None for config in stored)


@pytest.mark.llm
@pytest.mark.slow
def test_the_loop_runs_against_the_real_local_llm(tmp_path, capsys, scramble):
    """Structure only: SmolLM2's answers are poor; the run must still finish and account for every call."""
    init = tmp_path / "init.json"
    init.write_text(scramble().to_json())
    config = {
        "name": "llm",
        "runs_dir": str(tmp_path / "runs"),
        "data": "synthetic:pokemon-like",
        "model": "synthetic",
        "lm": "local:smollm2",
        "proposer": "oneshot",
        "init": str(init),
        "n_proposals": 1,
        "revisions_per_round": 1,
        "max_llm_calls": 3,
        "moves": ["fit_rules", "llm_revise"],
        "llm_max_tokens": 600,
        "llm_timeout_s": 600.0,
        "patience": 1,
        "cache_dir": str(tmp_path / "cache"),
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["optimize", "--config", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 1 <= result["llm"]["calls"] <= 3 + 3  # the budget stops proposing; one conversation may finish
    assert result["llm"]["tokens"] > 0 and result["llm"]["usd"] == 0.0
    run = tmp_path / "runs" / "llm"
    log = [json.loads(line) for line in (run / "proposer_log.jsonl").read_text().splitlines()]
    assert any("answer" in entry for entry in log)
    assert result["best"]["val_accuracy"] >= json.loads((run / "versions" / "0001.json").read_text())["val"]["accuracy"]
