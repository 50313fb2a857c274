"""``cotclip evaluate --adaptive``: per-image questioning on the synthetic world."""

from __future__ import annotations

import json

from cotclip.optimizer.cli import main


def _oracle(tmp_path):
    path = tmp_path / "oracle.json"
    assert main(["world", "oracle", "pokemon-like", "--out", str(path)]) == 0
    return path


def _adaptive_payload(tmp_path, capsys, threshold: str) -> dict:
    """The ``--json`` output of ``evaluate --adaptive`` for the oracle on the synthetic world."""
    oracle = _oracle(tmp_path)
    capsys.readouterr()
    args = ["evaluate", "--system", str(oracle), "--data", "synthetic:pokemon-like", "--model", "synthetic",
            "--cache-dir", str(tmp_path / "cache"), "--json", "--adaptive", "--threshold", threshold]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_adaptive_reports_accuracy_and_fewer_prompts(tmp_path, capsys):
    payload = _adaptive_payload(tmp_path, capsys, "0.9")
    adaptive = payload["adaptive"]
    assert adaptive["n"] == payload["n"]
    assert adaptive["full_prompts"] == 51
    assert 0 < adaptive["mean_prompts"] < adaptive["full_prompts"]
    assert adaptive["accuracy"] >= payload["accuracy"] - 0.1


def test_adaptive_with_threshold_one_matches_full_system(tmp_path, capsys):
    payload = _adaptive_payload(tmp_path, capsys, "1.0")
    assert payload["adaptive"]["accuracy"] == payload["accuracy"]


def test_bad_threshold_is_one_line_exit_2(tmp_path, capsys):
    oracle = _oracle(tmp_path)
    capsys.readouterr()
    args = ["evaluate", "--system", str(oracle), "--data", "synthetic:pokemon-like", "--model", "synthetic",
            "--adaptive", "--threshold", "1.5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --threshold") and err.count("\n") == 1 and "Traceback" not in err
