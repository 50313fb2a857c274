"""The CLI's logging: library warnings stay quiet without ``-v``, even from libraries imported later."""

from __future__ import annotations

import logging

import pytest

from cotclip.cli._app import main


def test_dspy_warnings_stay_quiet_without_verbose_after_dspy_configures_its_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "ready:pokemon_seed"]) == 0
    import dspy  # noqa: F401  (a first import sets the "dspy" logger back to INFO)

    logging.getLogger("dspy").setLevel(logging.INFO)  # as dspy's import does, whatever ran first
    capsys.readouterr()
    logging.getLogger("dspy.clients.lm").warning("LM response was truncated due to exceeding max_tokens")
    logging.getLogger("dspy.teleprompt.gepa").info("Iteration 1: proposing new instructions")
    captured = capsys.readouterr()
    assert "truncated" not in captured.err + captured.out
    assert "Iteration" not in captured.err + captured.out
