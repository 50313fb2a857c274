"""Bounding what an LLM call may cost in time, and naming a missing API key before any request.

litellm's calls block and cannot be interrupted from outside, so :func:`call_within` runs
one in a daemon worker thread and stops *waiting* for it. What is really cancelled is the
wait: the request itself ends with its own HTTP timeout (which the caller sets to the same
bound); a server that trickles bytes never trips that per-read timeout, and such a thread
stays alive, its answer discarded, until its connection closes or the process exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cotclip.optimizer.llm.price_map import use_bundled_price_map

__all__ = ["GRACE_S", "backstop", "call_within", "missing_api_key", "fresh_copy", "utc_now"]

#: Seconds past twice the HTTP timeout that an attempt is still waited for (see :func:`backstop`).
GRACE_S = 1.0


def backstop(timeout_s: float) -> float:
    """How long an attempt with HTTP timeout ``timeout_s`` is waited for at most.

    The HTTP timeout covers the request only, while the first call of a process also builds
    litellm's types (seconds on a busy machine), so the wait allows twice the timeout plus
    :data:`GRACE_S`. A silent endpoint is ended by the HTTP timeout itself; only one that
    trickles bytes is cut by this backstop.
    """
    return 2 * timeout_s + GRACE_S


def call_within(function: Callable[[], Any], wait_s: float) -> tuple[bool, Any]:
    """``(True, result)`` once ``function()`` returns within ``wait_s`` seconds, else ``(False, None)``.

    An exception of ``function`` is raised here, in the caller's thread.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = function()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="cotclip-llm-call", daemon=True)
    worker.start()
    worker.join(max(0.0, wait_s))
    if worker.is_alive():
        return False, None
    if "error" in outcome:
        raise outcome["error"]
    return True, outcome["result"]


def fresh_copy(lm: Any) -> Any:
    """``lm`` with its own history (DSPy's ``copy``), so an abandoned call cannot write into the next one's."""
    try:
        return lm.copy()
    except Exception:  # a test double without copy(): nothing else writes to its history
        return lm


def missing_api_key(model: str) -> str | None:
    """The environment variable a hosted provider's key is missing from, or None (known to litellm only)."""
    use_bundled_price_map()
    import litellm

    provider = model.split("/", 1)[0]
    if provider not in litellm.provider_list:
        return None  # litellm would print its provider list; the call itself fails with the spec error
    needed = litellm.validate_environment(model).get("missing_keys") or []
    keys = [name for name in needed if "KEY" in name or "TOKEN" in name]  # *_API_BASE has defaults (ollama)
    return keys[0] if keys else None


def utc_now() -> str:
    """ISO-8601 UTC timestamp with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")
