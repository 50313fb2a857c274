"""Finding the local model and binary, and (marked llm) running the real llama-server."""

import urllib.request

import pytest

from cotclip.optimizer.llm.server import LocalLLMServer, find_gguf, find_llama_server, free_port
from cotclip.systems.errors import LLMServerError


def test_missing_gguf_says_to_run_make_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("COTCLIP_GGUF", str(tmp_path / "absent.gguf"))
    with pytest.raises(LLMServerError, match="make setup"):
        find_gguf()


def test_gguf_from_the_environment(tmp_path, monkeypatch):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setenv("COTCLIP_GGUF", str(model))
    assert find_gguf() == model


def test_free_port_is_bindable():
    assert 1024 <= free_port() <= 65535


def test_api_base_before_start_is_a_clear_error():
    with pytest.raises(LLMServerError, match="not started"):
        _ = LocalLLMServer().api_base


def _require_local_llm():
    """llm tests FAIL (never skip) when setup was not run: `make test` guarantees the install."""
    try:
        find_gguf(), find_llama_server()
    except LLMServerError as exc:
        pytest.fail(f"the local LLM is not installed: {exc.message}")


@pytest.mark.llm
def test_unloadable_model_file_fails_fast_with_the_server_log(tmp_path):
    _require_local_llm()
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    server = LocalLLMServer(gguf=bogus, startup_timeout_s=30)
    with pytest.raises(LLMServerError, match="exited with code"):
        server.start()
    assert server.process is None


@pytest.mark.llm
def test_real_server_starts_answers_health_and_stops_its_own_process():
    _require_local_llm()
    with LocalLLMServer() as server:
        process = server.process
        with urllib.request.urlopen(server.api_base.replace("/v1", "/health"), timeout=5) as response:
            assert response.status == 200
        assert server.lm_config().api_base == server.api_base
    assert process.poll() is not None and server.process is None


def test_cached_answers_outlive_the_servers_port(tmp_path, fake_server):
    """A resumed `--lm local` run starts a server on a new port; its cache must still answer (no new call)."""
    from cotclip.optimizer.llm.lm import LLMClient
    from cotclip.optimizer.proposers.signatures import answer_model, load_instructions, propose_signature

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    signature = propose_signature(answer_model(["a", "b"], 3, 4), load_instructions("propose"))
    inputs = {"classes": ["a", "b"], "domain": "d", "notes": "", "limits": "l", "emphasis": "e", "feedback": ""}
    first_port = int(fake_server.api_base.rsplit(":", 1)[1].split("/")[0])
    first = LocalLLMServer(gguf=model, port=first_port).lm_config(
        cache_dir=tmp_path / "cache", timeout_s=2.0, retries=0
    )
    answered = LLMClient(first).complete(signature, inputs, seed=1)
    assert len(fake_server.requests) == 1 and not answered.usage.cached
    later = LocalLLMServer(gguf=model, port=free_port()).lm_config(
        cache_dir=tmp_path / "cache", timeout_s=2.0, retries=0
    )  # nothing listens there
    assert later.api_base != first.api_base
    again = LLMClient(later).complete(signature, inputs, seed=1)
    assert again.usage.cached and again.text == answered.text and again.request_key == answered.request_key
    assert len(fake_server.requests) == 1
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF, another model")
    assert LocalLLMServer(gguf=other, port=first_port).lm_config().cache_endpoint != first.cache_endpoint
