"""LLMClient over real HTTP against a fake server: answers, 500s, hangs and refusals are bounded."""

import time

import pytest

from cotclip.optimizer.llm.lm import LOCAL_MODEL, LLMClient, LMConfig
from cotclip.optimizer.llm.server import free_port
from cotclip.optimizer.proposers.signatures import answer_model, load_instructions, propose_signature
from cotclip.systems.errors import BudgetExhaustedError, InputError, LLMServerError, LLMUnavailableError

INPUTS = {"classes": ["a", "b"], "domain": "d", "notes": "", "limits": "l", "emphasis": "e", "feedback": ""}


def signature():
    return propose_signature(answer_model(["a", "b"], 3, 4), load_instructions("propose"))


def client(api_base, **options):
    settings = {"timeout_s": 2.0, "retries": 1, "backoff_s": 0.01, **options}
    return LLMClient(LMConfig(LOCAL_MODEL, api_base=api_base, api_key="local", **settings))


def test_answer_usage_and_json_schema_request(fake_server):
    completion = client(fake_server.api_base).complete(signature(), INPUTS, temperature=0.3, seed=7)
    assert '"groups"' in completion.text
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (120, 30)
    assert completion.usage.usd == 0.0 and not completion.usage.cached
    request = fake_server.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    schema = str(request["response_format"]["json_schema"]["schema"])
    assert "pattern" not in schema and "'a'" in schema  # every class is a required key
    assert request["temperature"] == 0.3 and request["seed"] == 7


def test_http_500_is_retried_then_one_line_error(fake_server):
    fake_server.mode = "500"
    started = time.monotonic()
    with pytest.raises(LLMServerError, match="failed 2 time") as caught:
        client(fake_server.api_base, retries=1).complete(signature(), INPUTS)
    assert time.monotonic() - started < 5
    assert "\n" not in caught.value.message and "check that the server is up" in caught.value.message
    assert 2 <= len(fake_server.requests) <= 6


def test_hanging_server_times_out(fake_server):
    fake_server.mode = "hang"
    started = time.monotonic()
    with pytest.raises(LLMServerError, match="--llm-timeout"):
        client(fake_server.api_base, timeout_s=0.5, retries=0).complete(signature(), INPUTS)
    assert time.monotonic() - started < 5


def test_refused_connection_is_a_clear_error():
    started = time.monotonic()
    with pytest.raises(LLMServerError, match="127.0.0.1"):
        client(f"http://127.0.0.1:{free_port()}/v1", retries=1).complete(signature(), INPUTS)
    assert time.monotonic() - started < 5


def test_backoff_doubles_between_retries(fake_server):
    fake_server.mode = "500"
    waits = []
    llm = LLMClient(
        LMConfig(LOCAL_MODEL, api_base=fake_server.api_base, api_key="local", retries=2, backoff_s=0.5, timeout_s=2),
        sleep=waits.append,
    )
    with pytest.raises(LLMServerError):
        llm.complete(signature(), INPUTS)
    assert waits == [0.5, 1.0]


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "openai/", ""])
def test_lm_spec_must_name_a_provider(spec):
    with pytest.raises(InputError, match="provider/model"):
        LMConfig(spec)


def test_missing_api_key_and_unknown_provider_name_their_fix(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(LLMServerError, match="API key"):
        LLMClient(LMConfig("anthropic/claude-3-5-haiku-20241022", retries=0)).complete(signature(), INPUTS)
    with pytest.raises(LLMServerError, match="check the --lm spec"):
        LLMClient(LMConfig("nosuchprovider/model", retries=0)).complete(signature(), INPUTS)


@pytest.mark.parametrize("mode", ["never", "trickle"])
def test_an_endpoint_that_never_answers_costs_at_most_timeout_times_attempts(fake_server, mode):
    fake_server.mode = mode
    started = time.monotonic()
    llm = client(fake_server.api_base, timeout_s=0.5, retries=1)
    with pytest.raises(LLMUnavailableError, match="failed 2 time"):
        llm.complete(signature(), INPUTS)
    spent = time.monotonic() - started
    # two attempts: a silent endpoint is ended by the HTTP timeout, a trickling one by the backstop (2 x 0.5 + 1 s)
    assert spent < (2 * 0.5 + 1.0) * 2 + 1.0
    assert len(fake_server.requests) == 2
    # the endpoint is not asked again: a later call fails at once with the same line
    started = time.monotonic()
    with pytest.raises(LLMUnavailableError, match="failed 2 time"):
        llm.complete(signature(), {**INPUTS, "domain": "other"})
    assert time.monotonic() - started < 0.5 and len(fake_server.requests) == 2


def test_the_deadline_cuts_a_call_in_flight(fake_server):
    fake_server.mode = "never"
    llm = client(fake_server.api_base, timeout_s=30, retries=3)
    llm.deadline = time.perf_counter() + 1.0
    started = time.monotonic()
    with pytest.raises(BudgetExhaustedError, match="wall-time budget") as caught:
        llm.complete(signature(), INPUTS)
    assert caught.value.reason == "max_wall_s"
    assert 0.9 < time.monotonic() - started < 2.0
    assert llm.failures and llm.failures[-1]["cut"]
    with pytest.raises(BudgetExhaustedError):  # past the deadline nothing is sent
        llm.complete(signature(), {**INPUTS, "domain": "other"})
    assert len(fake_server.requests) == 1


def test_a_garbage_answer_is_retried_then_one_line(fake_server):
    fake_server.mode = "garbage"
    with pytest.raises(LLMUnavailableError, match="failed 2 time") as caught:
        client(fake_server.api_base, retries=1).complete(signature(), INPUTS)
    assert "\n" not in caught.value.message and len(fake_server.requests) == 2


def test_a_missing_api_key_is_named_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMUnavailableError, match="set OPENAI_API_KEY") as caught:
        LLMClient(LMConfig("openai/gpt-4o-mini", retries=0)).complete(signature(), INPUTS)
    assert "server is up" not in caught.value.message
