"""Calling any LLM through DSPy: retries with backoff, timeouts and a response cache.

The LM spec (:class:`LMConfig`) and the ``dspy.LM`` built from it live in :mod:`.spec`;
their names are importable from here too.

An :class:`LLMClient` sends one DSPy signature call and returns the model's *raw*
answer text (parsing and repair happen in :mod:`cotclip.optimizer.proposers.repair`).
Nothing here touches DSPy's global settings: the LM is passed explicitly, DSPy's own
(global, pickle-based) cache is off, and responses are cached as JSON files in a
directory the caller chooses, keyed by the full request.

Every call is bounded: each attempt waits at most ``timeout_s`` (and never past the
client's :attr:`~LLMClient.deadline`, a run's wall-time budget), so an endpoint that
accepts and never answers costs at most ``timeout_s x (retries + 1)`` plus the backoff
(the HTTP request is given that timeout); :mod:`.bounded` says what is really cancelled.
After an endpoint failed every attempt the client answers every later call with the same
:class:`LLMUnavailableError` at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cotclip.optimizer.llm.bounded import backstop, call_within, fresh_copy, missing_api_key, utc_now
from cotclip.optimizer.llm.price_map import use_bundled_price_map
from cotclip.optimizer.llm.response_cache import ResponseCache, request_key
from cotclip.optimizer.llm.spec import LOCAL_MODEL, LMConfig, build_lm, compact_adapter, register_local_model
from cotclip.optimizer.llm.usage import CallUsage, price_of_call
from cotclip.systems.errors import BudgetExhaustedError, LLMServerError, LLMUnavailableError

__all__ = ["LOCAL_MODEL", "LMConfig", "Completion", "ResponseCache", "LLMClient", "build_lm", "register_local_model"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    """One answer: its raw text and what the call cost."""

    text: str
    usage: CallUsage
    request_key: str = field(default="")


def _retryable(exc: Exception) -> bool:
    from dspy.utils import exceptions as dspy_errors

    kinds = (
        dspy_errors.LMTransportError,
        dspy_errors.LMTimeoutError,
        dspy_errors.LMServerError,
        dspy_errors.LMRateLimitError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, kinds)


def _is_llm_failure(exc: Exception) -> bool:
    from dspy.utils.exceptions import LMError

    return isinstance(exc, (LMError, ConnectionError, TimeoutError))


def _one_line(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _raw_text(lm) -> str:
    """The text of the most recent answer in ``lm``'s history."""
    output = lm.history[-1]["outputs"][0] if lm.history and lm.history[-1].get("outputs") else ""
    return (output.get("text") or "") if isinstance(output, dict) else str(output or "")


class LLMClient:
    """Sends DSPy signature calls to one LM and returns raw answers, with retries and a cache.

    ``lm`` defaults to :func:`build_lm` of ``config``; tests pass a ``dspy.utils.DummyLM``.
    ``sleep`` is injectable so that backoff can be tested without waiting.

    Thread-safe: DSPy keeps each answer in the LM's history, which concurrent calls on
    one LM object would interleave, so a call made from another thread than the one
    that built the client goes through that thread's own ``lm.copy()`` when ``lm`` is a
    plain ``dspy.LM``; any other LM object (a test's ``DummyLM``, whose copies share
    its scripted engine) answers one call at a time. Concurrent, budgeted calls:
    :class:`cotclip.optimizer.llm.concurrency.LLMExecutor`.
    """

    def __init__(self, config: LMConfig, lm=None, *, sleep: Callable[[float], None] = time.sleep) -> None:
        use_bundled_price_map()
        from dspy.adapters.json_adapter import JSONAdapter

        self.config = config
        self.lm = lm if lm is not None else build_lm(config)
        # a litellm-backed LM takes a per-call timeout and needs provider keys; test doubles own their engine
        self._litellm = getattr(self.lm, "engine", None) == "litellm"
        self.deadline: float | None = None
        """``time.perf_counter()`` value after which no call is made or waited for (a run's wall budget)."""
        self.unavailable: LLMUnavailableError | None = None
        """Set once the endpoint failed every attempt: later calls raise it at once."""
        self.failures: list[dict[str, Any]] = []
        """One record per call that failed for good or was cut by the deadline."""
        self.cache = ResponseCache(config.cache_dir) if config.cache_dir else None
        enforced = "response_format" in self.lm.supported_params and self.lm.supports_response_schema
        self._adapter = compact_adapter() if enforced else JSONAdapter()
        self._sleep = sleep
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._one_at_a_time = contextlib.nullcontext() if _copies_safely(self.lm) else threading.Lock()

    def _copied(self) -> bool:
        return isinstance(self._one_at_a_time, contextlib.nullcontext)

    def _thread_lm(self):
        """``self.lm`` in the building thread (or when not copied), a per-thread copy elsewhere."""
        if threading.get_ident() == self._owner or not self._copied():
            return self.lm
        copy = getattr(self._local, "lm", None)
        if copy is None:
            copy = self._local.lm = self.lm.copy()
        return copy

    def _replace_thread_lm(self, lm) -> None:
        """After an abandoned call: this thread's LM becomes ``lm`` (a fresh copy with its own history)."""
        if threading.get_ident() == self._owner or not self._copied():
            self.lm = lm
        else:
            self._local.lm = lm

    def _request_material(self, signature, inputs: dict[str, Any], lm_kwargs: dict[str, Any]) -> dict[str, Any]:
        messages = self._adapter.format(signature, [], inputs)
        schemas = {name: _schema_of(f.annotation) for name, f in signature.output_fields.items()}
        endpoint = self.config.cache_endpoint or self.config.api_base
        return {
            "model": self.config.model,
            "api_base": endpoint,
            "messages": messages,
            "output_schema": schemas,
            "lm_kwargs": lm_kwargs,
            "max_tokens": self.config.max_tokens,
        }

    def key_of(
        self, signature, inputs: dict[str, Any], *, temperature: float | None = None, seed: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The response-cache key of a call and the LM arguments it is sent with."""
        lm_kwargs: dict[str, Any] = {"temperature": self.config.temperature if temperature is None else temperature}
        if seed is not None:
            lm_kwargs["seed"] = seed
        return request_key(self._request_material(signature, inputs, lm_kwargs)), lm_kwargs

    def cached(self, key: str) -> Completion | None:
        """The cached answer for ``key`` (free: usage marked ``cached``), or ``None``."""
        if self.cache is None or (entry := self.cache.get(key)) is None:
            return None
        usage = CallUsage(
            self.config.model, entry.get("prompt_tokens", 0), entry.get("completion_tokens", 0), 0.0, 0.0, cached=True
        )
        return Completion(entry["text"], usage, key)

    def complete(
        self, signature, inputs: dict[str, Any], *, temperature: float | None = None, seed: int | None = None
    ) -> Completion:
        """The raw answer to ``signature`` on ``inputs``; raises :class:`LLMServerError` when unreachable."""
        key, lm_kwargs = self.key_of(signature, inputs, temperature=temperature, seed=seed)
        return self.cached(key) or self.send(signature, inputs, key, lm_kwargs)

    def send(self, signature, inputs: dict[str, Any], key: str, lm_kwargs: dict[str, Any]) -> Completion:
        """Ask the LM (with retries, bypassing the cache) and store the answer under ``key``."""
        completion = self._call_with_retries(signature, inputs, lm_kwargs, key)
        if self.cache is not None:
            self.cache.put(
                key,
                {
                    "text": completion.text,
                    "prompt_tokens": completion.usage.prompt_tokens,
                    "completion_tokens": completion.usage.completion_tokens,
                },
            )
        return completion

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.perf_counter()

    def _wall_spent(self, waited: str) -> BudgetExhaustedError:
        self.failures.append({"at": utc_now(), "error": f"cut by the wall-time budget {waited}", "cut": True})
        return BudgetExhaustedError(
            f"wall-time budget spent {waited}; raise --max-wall-s to continue", reason="max_wall_s"
        )

    def _call_with_retries(self, signature, inputs, lm_kwargs, key: str) -> Completion:
        if self.unavailable is not None:
            raise self.unavailable
        self._check_credentials()
        attempts = self.config.retries + 1
        for attempt in range(attempts):
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise self._wall_spent("before the LLM call")
            try:
                return self._call_once(signature, inputs, dict(lm_kwargs), key)
            except Exception as exc:
                if not _is_llm_failure(exc):
                    raise  # a bug, not the LLM's fault: let it surface
                if not _retryable(exc):
                    raise self._give_up(exc, "refused the request") from None
                if attempt == attempts - 1:
                    raise self._give_up(exc, f"failed {attempts} time(s)") from None
                delay = self.config.backoff_s * 2**attempt
                remaining = self._remaining()
                logger.warning("LLM call failed (%s); retrying in %.1fs", _one_line(exc), delay)
                self._sleep(delay if remaining is None else max(0.0, min(delay, remaining)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_credentials(self) -> None:
        """A hosted provider without its API key fails here, before any request, with the key's name."""
        if not self._litellm or self.config.api_key or self.config.api_base:
            return
        key = missing_api_key(self.config.model)
        if key:
            self.unavailable = LLMUnavailableError(
                f"LLM {self.config.model} needs an API key: set {key} in the environment "
                "(or pass --api-base for a keyless OpenAI-compatible server)"
            )
            raise self.unavailable

    def _give_up(self, exc: Exception, what: str) -> LLMUnavailableError:
        error = self._server_error(exc, what)
        self.failures.append({"at": utc_now(), "error": error.message, "cut": False})
        self.unavailable = error
        return error

    def _server_error(self, exc: Exception, what: str) -> LLMUnavailableError:
        from dspy.utils import exceptions as dspy_errors

        where = f" at {self.config.api_base}" if self.config.api_base else ""
        text = _one_line(exc)
        if isinstance(exc, dspy_errors.LMAuthError) or "credentials" in text.lower() or "api key" in text.lower():
            fix = "set the provider's API key (e.g. OPENAI_API_KEY) in the environment"
        elif isinstance(exc, dspy_errors.LMInvalidRequestError) or "UnsupportedParams" in text:
            fix = "check the --lm spec (provider/model) and its endpoint"
        else:
            fix = "check that the server is up and reachable, or raise --llm-timeout/--llm-retries"
        return LLMUnavailableError(f"LLM {self.config.model}{where} {what}: {text}; {fix}")

    def _call_once(self, signature, inputs, lm_kwargs, key: str) -> Completion:
        """One attempt, waited for at most :func:`backstop` of the timeout, and never past the deadline."""
        remaining = self._remaining()
        timeout = self.config.timeout_s if remaining is None else min(self.config.timeout_s, remaining)
        if self._litellm:  # the HTTP request ends with the wait (not part of the cache key)
            lm_kwargs["timeout"] = max(timeout, 0.001)
        lm, started = self._thread_lm(), time.perf_counter()
        wait_s, at_deadline = backstop(self.config.timeout_s), False
        if remaining is not None and remaining <= wait_s:
            wait_s, at_deadline = remaining, True
        with self._one_at_a_time:
            finished, completion = call_within(lambda: self._ask(lm, signature, inputs, lm_kwargs, key), wait_s)
        if finished:
            return completion
        self._replace_thread_lm(fresh_copy(lm))  # the abandoned call may still append to the old LM's history
        if at_deadline:
            raise self._wall_spent(f"(after waiting {time.perf_counter() - started:.1f}s for the LLM)")
        raise TimeoutError(f"no answer within --llm-timeout {self.config.timeout_s:g}s")

    def _ask(self, lm, signature, inputs, lm_kwargs, key: str) -> Completion:
        from dspy.utils.exceptions import AdapterParseError

        started = time.perf_counter()
        before = lm.history[-1].get("uuid") if lm.history else None
        try:
            self._adapter(lm, lm_kwargs, signature, [], inputs)
        except AdapterParseError:
            pass  # the raw text is repaired by the caller, which records what it fixed
        latency = time.perf_counter() - started
        if not lm.history or lm.history[-1].get("uuid") == before:
            raise LLMServerError(f"LLM {self.config.model} returned no answer; check the LM spec")
        entry = lm.history[-1]
        usage = dict(entry.get("usage") or {})
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        usd = price_of_call(self.config.model, prompt_tokens, completion_tokens) if prompt_tokens else 0.0
        return Completion(
            _raw_text(lm), CallUsage(self.config.model, prompt_tokens, completion_tokens, usd, latency), key
        )


def _copies_safely(lm) -> bool:
    """Whether ``lm.copy()`` gives an LM that records its own answers: true of ``dspy.LM`` itself."""
    use_bundled_price_map()
    import dspy

    return type(lm) is dspy.LM


def _schema_of(annotation: Any) -> Any:
    schema = getattr(annotation, "model_json_schema", None)
    return schema() if callable(schema) else repr(annotation)
