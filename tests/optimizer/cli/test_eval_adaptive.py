"""``cotclip evaluate --adaptive``: per-image questioning on the synthetic world, every stopping rule."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from cotclip.cli import main
from cotclip.cli._adaptive_options import RANK_CHOICES, STOP_CHOICES
from cotclip.scoring.deploy.adaptive import Rank, Stop


def _oracle(tmp_path):
    path = tmp_path / "oracle.json"
    assert main(["world", "oracle", "pokemon-like", "--out", str(path)]) == 0
    return path


def _adaptive_payload(tmp_path, capsys, threshold: str) -> dict:
    """The ``--json`` output of ``evaluate --adaptive`` for the oracle on the synthetic world."""
    oracle = _oracle(tmp_path)
    capsys.readouterr()
    args = [
        "evaluate",
        "--system",
        str(oracle),
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--json",
        "--adaptive",
        "--threshold",
        threshold,
    ]
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
    args = [
        "evaluate",
        "--system",
        str(oracle),
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--adaptive",
        "--threshold",
        "1.5",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --threshold") and err.count("\n") == 1 and "Traceback" not in err


# --stop / --epsilon / --rank: every stopping rule and ranking of scoring.adaptive from the CLI.


@pytest.fixture(scope="module")
def world_files(tmp_path_factory):
    """The oracle of ``pokemon-like`` and, beside it, the same system with log_prob_sum aggregation."""
    folder = tmp_path_factory.mktemp("adaptive_cli")
    oracle = _oracle(folder)
    data = json.loads(oracle.read_text(encoding="utf-8"))
    data["scoring"]["aggregation"] = "log_prob_sum"
    log_system = folder / "oracle_log.json"
    log_system.write_text(json.dumps(data), encoding="utf-8")
    return {"oracle": str(oracle), "log": str(log_system), "cache": str(folder / "cache")}


def _evaluate(world_files, capsys, *flags: str, system: str = "oracle") -> dict:
    """``evaluate --json`` of a world system with ``flags`` (exit 0 asserted)."""
    capsys.readouterr()
    args = [
        "evaluate",
        "--system",
        world_files[system],
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--cache-dir",
        world_files["cache"],
        "--json",
        *flags,
    ]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_stop_and_rank_choices_are_the_adaptive_modules_literals():
    assert STOP_CHOICES == get_args(Stop) == ("posterior", "margin", "flip", "accuracy")
    assert RANK_CHOICES == get_args(Rank) == ("gain", "gain_per_prompt", "margin_per_prompt")


def test_default_stop_is_the_posterior_rule_and_the_json_records_it(world_files, capsys):
    default = _evaluate(world_files, capsys, "--adaptive")["adaptive"]
    explicit = _evaluate(
        world_files, capsys, "--adaptive", "--stop", "posterior", "--threshold", "0.9", "--rank", "gain"
    )["adaptive"]
    assert default == explicit
    assert (default["stop"], default["threshold"], default["epsilon"], default["rank"]) == (
        "posterior",
        0.9,
        None,
        "gain",
    )
    assert default["mean_prompts"] < default["full_prompts"]


@pytest.mark.parametrize("rank", RANK_CHOICES)
def test_stop_margin_gives_the_full_systems_accuracy_with_fewer_prompts(world_files, capsys, rank):
    payload = _evaluate(world_files, capsys, "--adaptive", "--stop", "margin", "--rank", rank)
    adaptive = payload["adaptive"]
    assert adaptive["accuracy"] == payload["accuracy"]
    assert (adaptive["stop"], adaptive["threshold"], adaptive["epsilon"], adaptive["rank"]) == (
        "margin",
        None,
        None,
        rank,
    )
    assert adaptive["mean_prompts"] < adaptive["full_prompts"]


def test_stop_flip_records_epsilon_and_trades_prompts_for_risk(world_files, capsys):
    margin = _evaluate(world_files, capsys, "--adaptive", "--stop", "margin")["adaptive"]
    exact = _evaluate(world_files, capsys, "--adaptive", "--stop", "flip", "--epsilon", "0")["adaptive"]
    default = _evaluate(world_files, capsys, "--adaptive", "--stop", "flip")["adaptive"]
    loose = _evaluate(world_files, capsys, "--adaptive", "--stop", "flip", "--epsilon", "0.3")["adaptive"]
    assert (exact["stop"], exact["epsilon"], default["epsilon"], loose["epsilon"]) == ("flip", 0.0, 0.05, 0.3)
    assert exact["threshold"] is None and exact["rank"] == "gain"
    assert (exact["accuracy"], exact["mean_prompts"]) == (margin["accuracy"], margin["mean_prompts"])
    assert loose["mean_prompts"] < default["mean_prompts"] < exact["mean_prompts"]


def test_stop_accuracy_records_epsilon_and_works_with_log_prob_sum(world_files, capsys):
    tight = _evaluate(world_files, capsys, "--adaptive", "--stop", "accuracy", "--epsilon", "0.01")["adaptive"]
    loose = _evaluate(world_files, capsys, "--adaptive", "--stop", "accuracy", "--epsilon", "0.2")["adaptive"]
    assert (tight["stop"], tight["epsilon"], loose["epsilon"], tight["threshold"]) == ("accuracy", 0.01, 0.2, None)
    assert loose["mean_prompts"] < tight["mean_prompts"] < tight["full_prompts"]
    logged = _evaluate(world_files, capsys, "--adaptive", "--stop", "accuracy", system="log")["adaptive"]
    assert logged["stop"] == "accuracy" and logged["mean_prompts"] < logged["full_prompts"]


def test_rank_changes_which_groups_are_asked(world_files, capsys):
    gain = _evaluate(world_files, capsys, "--adaptive")["adaptive"]
    per_prompt = _evaluate(world_files, capsys, "--adaptive", "--rank", "gain_per_prompt")["adaptive"]
    assert per_prompt["rank"] == "gain_per_prompt"
    assert per_prompt["group_ask_rate"] != gain["group_ask_rate"]


def test_stop_margin_works_with_log_prob_sum(world_files, capsys):
    payload = _evaluate(world_files, capsys, "--adaptive", "--stop", "margin", system="log")
    assert payload["adaptive"]["accuracy"] == payload["accuracy"]


def test_text_output_names_the_stopping_rule(world_files, capsys):
    capsys.readouterr()
    args = [
        "evaluate",
        "--system",
        world_files["oracle"],
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--cache-dir",
        world_files["cache"],
        "--adaptive",
        "--stop",
        "flip",
        "--epsilon",
        "0.2",
    ]
    assert main(args) == 0
    assert "adaptive (stop flip, epsilon 0.2, rank gain)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--adaptive", "--epsilon", "0.1"], "--epsilon is the knob of --stop flip"),
        (["--adaptive", "--stop", "margin", "--epsilon", "0.1"], "--epsilon is the knob of --stop flip"),
        (["--adaptive", "--stop", "margin", "--threshold", "0.5"], "--threshold is the knob of --stop posterior"),
        (["--adaptive", "--stop", "flip", "--threshold", "0.5"], "--threshold is the knob of --stop posterior"),
        (["--adaptive", "--stop", "flip", "--epsilon", "1"], "--epsilon must be in [0, 1)"),
        (["--adaptive", "--stop", "flip", "--epsilon", "-0.1"], "--epsilon must be in [0, 1)"),
        (["--adaptive", "--stop", "flip", "--epsilon", "nan"], "--epsilon must be in [0, 1)"),
        (["--adaptive", "--budget", "0"], "--budget must be >= 1"),
        (["--adaptive", "--stop", "always"], "--stop"),
        (["--adaptive", "--rank", "random"], "--rank"),
        (["--stop", "margin"], "--stop only applies to adaptive questioning"),
        (["--epsilon", "0.1"], "--epsilon only applies to adaptive questioning"),
        (["--rank", "gain"], "--rank only applies to adaptive questioning"),
        (["--threshold", "0.9"], "--threshold only applies to adaptive questioning"),
    ],
)
def test_bad_adaptive_flags_are_one_line_exit_2(world_files, capsys, flags, message):
    capsys.readouterr()
    args = [
        "evaluate",
        "--system",
        world_files["oracle"],
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--cache-dir",
        world_files["cache"],
        *flags,
    ]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err + out


def test_stop_flip_with_log_prob_sum_is_one_line_exit_2(world_files, capsys):
    capsys.readouterr()
    args = [
        "evaluate",
        "--system",
        world_files["log"],
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--cache-dir",
        world_files["cache"],
        "--adaptive",
        "--stop",
        "flip",
    ]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert err == (
        "error: --stop flip needs prob_sum aggregation but the system uses log_prob_sum; "
        "use --stop margin (exact) or --stop posterior\n"
    )
    assert "Traceback" not in out
