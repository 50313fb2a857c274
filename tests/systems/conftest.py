"""Shared fixtures for the systems tests: a small valid system and a CLI runner."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cotclip.cli import main

_TINY = {
    "name": "tiny",
    "classes": ["cat", "dog", "owl"],
    "groups": [
        {"name": "body", "prompt": "an animal with {}.", "options": ["fur", "feathers"]},
        {"name": "ears", "prompt": "its ears are {}.", "options": ["pointed", "floppy", "hidden"]},
    ],
    "rules": {
        "cat": {"body": 0, "ears": 0},
        "dog": {"body": 0, "ears": 1},
        "owl": {"body": 1, "ears": 2},
    },
}


@pytest.fixture
def tiny_data() -> dict[str, Any]:
    """A fresh copy of a valid three-class canonical system (no warnings)."""
    return copy.deepcopy(_TINY)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``cotclip`` in-process; returns ``(exit_code, stdout, stderr)``."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
