"""The one exception hierarchy of cotclip.

Every error a user can cause derives from :class:`CotclipError`. Its message is a
single line that says what is wrong and how to fix it; the CLI prints exactly that
line and exits with :attr:`CotclipError.exit_code` (2), never a traceback.
Internal bugs are not ``CotclipError`` and surface normally.
"""

from __future__ import annotations

__all__ = [
    "CotclipError",
    "SystemValidationError",
    "InputError",
    "WrongTypeError",
    "EncoderError",
    "MissingTextEmbeddingsError",
    "DataError",
    "CacheError",
    "ProposerError",
    "LLMServerError",
    "LLMUnavailableError",
    "BudgetExhaustedError",
    "RunDirError",
]


class CotclipError(Exception):
    """Root of all user-facing errors: one line, what is wrong and how to fix it."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        one_line = " ".join(str(message).split())
        super().__init__(one_line)
        self.message = one_line


class SystemValidationError(CotclipError):
    """A classification system is malformed; ``errors`` holds every problem found."""

    def __init__(self, errors: list[str], source: str | None = None) -> None:
        self.errors = list(errors)
        where = f"{source}: " if source else ""
        more = f" (+{len(errors) - 1} more; run `cotclip validate` to list all)" if len(errors) > 1 else ""
        super().__init__(f"{where}invalid system: {errors[0]}{more}")


class InputError(CotclipError):
    """A command-line argument, option or input file is unusable."""


class WrongTypeError(InputError, TypeError):
    """A Python caller passed a value of the wrong type; also a :class:`TypeError`, as Python code expects."""


class EncoderError(CotclipError):
    """An encoder cannot be loaded or cannot embed what it was given."""


class MissingTextEmbeddingsError(EncoderError):
    """A fixed-vocabulary encoder (precomputed file) lacks some requested texts."""

    def __init__(self, missing: list[str], source: str) -> None:
        self.missing = list(missing)
        shown = ", ".join(repr(t) for t in missing[:3])
        super().__init__(
            f"{source} has no embedding for {len(missing)} text(s), first: {shown}; "
            "add them to its `texts`/`text_embeddings` arrays or use an encoder that can embed text"
        )


class DataError(CotclipError):
    """A dataset, its labels or its split cannot be used as asked."""


class CacheError(CotclipError):
    """The embedding cache directory is unusable."""


class ProposerError(CotclipError):
    """The proposer could not produce a valid system."""


class LLMServerError(CotclipError):
    """An LLM endpoint is down, refused, too slow or answered with an error."""


class LLMUnavailableError(LLMServerError):
    """An LLM endpoint failed every attempt (or refused the request): a run stops instead of waiting again.

    ``reason`` is the run's ``stopped_because`` when this ends an optimization.
    """

    reason = "llm_unavailable"


class BudgetExhaustedError(CotclipError):
    """A call, token, dollar, evaluation or time budget is spent.

    ``reason`` names the budget (a ``stopped_because`` value such as ``max_wall_s``) when known.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class RunDirError(CotclipError):
    """A run directory is corrupt, locked by another run, or missing."""
