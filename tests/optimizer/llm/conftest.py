"""Fixtures of the LLM tests."""

import pytest
from fake_llm_server import FakeServer


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()
