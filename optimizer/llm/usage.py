"""What LLM calls cost: tokens, calls, latency and dollars, per call and per run, and budgets.

Dollars come from litellm's price map when it knows the model; otherwise they are
``None`` ("unknown"), never a guessed number. A local model is free (0.0).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from cotclip.optimizer.llm.price_map import use_bundled_price_map
from cotclip.systems.errors import BudgetExhaustedError, InputError

__all__ = ["CallUsage", "Usage", "Budget", "price_of_call"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallUsage:
    """One LLM call. ``cached`` calls were answered from the response cache and cost nothing."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float | None = 0.0
    latency_s: float = 0.0
    cached: bool = False

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """All fields plus ``tokens``."""
        return {**asdict(self), "tokens": self.tokens}


@dataclass(frozen=True)
class Usage:
    """Totals over many calls; ``usd`` is ``None`` as soon as one paid call had no known price."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float | None = 0.0
    latency_s: float = 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, call: CallUsage) -> Usage:
        """The totals after one more call (cached calls count as calls but add no tokens or dollars)."""
        if call.cached:
            return Usage(
                self.calls + 1,
                self.cached_calls + 1,
                self.prompt_tokens,
                self.completion_tokens,
                self.usd,
                self.latency_s + call.latency_s,
            )
        usd = None if self.usd is None or call.usd is None else self.usd + call.usd
        return Usage(
            self.calls + 1,
            self.cached_calls,
            self.prompt_tokens + call.prompt_tokens,
            self.completion_tokens + call.completion_tokens,
            usd,
            self.latency_s + call.latency_s,
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields plus ``tokens``."""
        return {**asdict(self), "tokens": self.tokens}


@dataclass(frozen=True)
class Budget:
    """Limits on LLM use; ``None`` means unlimited. Calls answered from the cache are free."""

    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_tokens", "max_usd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"budget {name} is {value}; use a number >= 0 or leave it unset")

    def spent_by(self, usage: Usage) -> str | None:
        """Why ``usage`` exhausts this budget, or ``None`` while there is room for another call."""
        paid_calls = usage.calls - usage.cached_calls
        if self.max_calls is not None and paid_calls >= self.max_calls:
            return f"LLM call budget spent ({paid_calls}/{self.max_calls} calls)"
        if self.max_tokens is not None and usage.tokens >= self.max_tokens:
            return f"LLM token budget spent ({usage.tokens}/{self.max_tokens} tokens)"
        if self.max_usd is not None:
            if usage.usd is None:
                return "LLM dollar budget cannot be enforced: the model's price is unknown; drop --max-usd"
            if usage.usd >= self.max_usd:
                return f"LLM dollar budget spent (${usage.usd:.4f}/${self.max_usd:.4f})"
        return None

    def check(self, usage: Usage) -> None:
        """Raise :class:`BudgetExhaustedError` when no further call is allowed."""
        reason = self.spent_by(usage)
        if reason is not None:
            raise BudgetExhaustedError(f"{reason}; raise the limit to continue")

    def to_dict(self) -> dict[str, Any]:
        """``{"max_calls", "max_tokens", "max_usd"}``."""
        return asdict(self)


def price_of_call(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollars for one call from litellm's local price map, or ``None`` when the model is not priced."""
    use_bundled_price_map()
    import litellm

    try:
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception as exc:  # litellm raises bare Exceptions for unknown models
        logger.debug("no price for %s: %s", model, exc)
        return None
    return float(prompt_usd) + float(completion_usd)
