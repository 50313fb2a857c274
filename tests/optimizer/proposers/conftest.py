"""Fixtures of the proposer tests."""

import pytest


@pytest.fixture
def fake_diagnostics():
    """A stand-in with the fields of cotclip.scoring.diagnostics.Diagnostics."""
    from types import SimpleNamespace

    return SimpleNamespace(
        accuracy=0.5,
        per_class={"cat": 0.9, "dog": 0.2, "parrot": 0.4},
        confusions=[("dog", "cat", 7), ("parrot", "cat", 2)],
        group_reliability={"dominant_color": 0.8, "body": 0.3},
        rule_agreement={},
        disagreeing_rules=[("dog", "dominant_color", 1, 0, 0.7)],
        identical_signatures=[],
        unused_options={"dominant_color": []},
        to_dict=lambda: {},
    )


@pytest.fixture(scope="module")
def local_server():
    """The bundled SmolLM2 served by llama-server; FAILS (never skips) when `make setup` has not run."""
    from cotclip.optimizer.llm.server import LocalLLMServer, find_gguf, find_llama_server
    from cotclip.systems.errors import LLMServerError

    try:
        find_gguf(), find_llama_server()
    except LLMServerError as exc:
        pytest.fail(f"the local LLM is not installed: {exc.message}")
    with LocalLLMServer() as server:
        yield server
