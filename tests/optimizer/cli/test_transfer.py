"""``cotclip transfer`` and ``optimize --transfer-model`` on the synthetic world's encoder variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cotclip.cli import main

BASE = [
    "--data",
    "synthetic:pokemon-like",
    "--model",
    "synthetic",
    "--lm",
    "simulated",
    "-k",
    "2",
    "--max-evaluations",
    "12",
    "--patience",
    "1",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    root = tmp_path_factory.mktemp("transfer")
    args = [
        "optimize",
        *BASE,
        "--runs-dir",
        str(root / "runs"),
        "--name",
        "a",
        "--cache-dir",
        str(root / "cache"),
        "--transfer-model",
        "synthetic:variant:1",
        "--json",
    ]
    assert main(args) == 0
    summary = json.loads((root / "runs" / "a" / "summary.json").read_text(encoding="utf-8"))
    return root / "runs" / "a", summary, root / "cache"


def test_transfer_scores_best_first_and_baseline_per_encoder(finished_run, capsys) -> None:
    run, summary, cache = finished_run
    capsys.readouterr()
    assert (
        main(
            [
                "transfer",
                str(run),
                "--model",
                "synthetic:variant:1",
                "--model",
                "synthetic:variant:2",
                "--cache-dir",
                str(cache),
                "--json",
            ]
        )
        == 0
    )
    table = json.loads(capsys.readouterr().out)
    rows = table["rows"]
    assert [r["model"] for r in rows] == ["synthetic", "synthetic:variant:1", "synthetic:variant:2"]
    assert rows[0]["optimized_on"] and not rows[1]["optimized_on"]
    assert rows[0]["best"]["accuracy"] == pytest.approx(summary["best"]["accuracy"])
    assert rows[0]["baseline"]["accuracy"] == pytest.approx(summary["baseline"]["accuracy"])
    assert len({r["identity"] for r in rows}) == 3 and len({r["n"] for r in rows}) == 1
    for row in rows:
        low, high = row["best"]["ci"]
        assert low <= row["best"]["accuracy"] <= high


def test_optimize_transfer_model_puts_the_table_in_the_report(finished_run) -> None:
    run, summary, _ = finished_run
    rows = summary["extra"]["transfer"]["rows"]
    assert [r["model"] for r in rows] == ["synthetic", "synthetic:variant:1"]
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "## Transfer to other encoders" in report and "`synthetic:variant:1`" in report


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ([], "at least one --model"),
        (["--model", "synthetic:variant:x"], "not an integer"),
        (["--model", "synthetic:variant:1", "--similarity", "dot"], "--similarity 'dot'"),
    ],
)
def test_bad_transfer_input_exits_2_with_one_line(finished_run, capsys, extra, fragment) -> None:
    run, _, cache = finished_run
    capsys.readouterr()
    assert main(["transfer", str(run), "--cache-dir", str(cache), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


def test_transfer_of_a_folder_that_is_no_run(tmp_path, capsys) -> None:
    assert main(["transfer", str(tmp_path), "--model", "synthetic"]) == 2
    assert "not a run dir" in capsys.readouterr().err


def test_a_bad_transfer_model_fails_before_the_run_starts(tmp_path, capsys) -> None:
    args = [
        "optimize",
        *BASE,
        "--runs-dir",
        str(tmp_path / "runs"),
        "--name",
        "b",
        "--transfer-model",
        "synthetic:variant:-2",
    ]
    assert main(args) == 2
    assert "negative" in capsys.readouterr().err and not (tmp_path / "runs" / "b").exists()
