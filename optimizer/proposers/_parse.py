"""Turn an LLM's raw answer text into a mapping, repairing the usual text defects.

Accepted: plain JSON; JSON inside prose or markdown fences; Python dict text with
``#``/``//`` comments (read with :func:`ast.literal_eval`, never executed); JSON
literals in Python text and trailing commas; answers cut off mid-way (brackets are
completed, dropping the unfinished tail). Every repair is recorded as one line.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ParsedAnswer", "UnusableAnswerError", "parse_answer"]

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|\Z)", re.DOTALL)
_CLOSER = {"{": "}", "[": "]"}
_PY_LITERALS = {"true": "True", "false": "False", "null": "None"}
_MAX_CUTS = 200
_WORD = re.compile(r"[A-Za-z_]+")


@dataclass
class _ScanState:
    """Where the first balanced value ends (None while open) and whether the scan ended in a string."""

    end: int | None = None
    in_string: bool = False


class UnusableAnswerError(ValueError):
    """The answer holds no usable system; the message says why (it is fed back to the LLM)."""


@dataclass(frozen=True)
class ParsedAnswer:
    """The mapping read from an answer and the text repairs that were needed."""

    data: dict[str, Any]
    repairs: tuple[str, ...]


def _step_in_string(char: str, quote: str, escaped: bool) -> tuple[str, bool]:
    """``(quote, escaped)`` after reading ``char`` inside a string opened by ``quote`` ("" once it closes)."""
    if escaped:
        return quote, False
    if char == "\\":
        return quote, True
    return ("" if char == quote else quote), False


def _scan(text: str, on_token) -> None:
    """Call ``on_token(index, char, in_string)`` for every character, tracking '' and "" strings."""
    quote = ""
    escaped = False
    for index, char in enumerate(text):
        if quote:
            on_token(index, char, True)
            quote, escaped = _step_in_string(char, quote, escaped)
            continue
        if char in "\"'":
            quote = char
        on_token(index, char, False)


def _strip_comments(text: str) -> str:
    """Remove ``# ...`` and ``// ...`` comments that are outside strings (quotes in comments ignored)."""
    keep: list[str] = []
    quote = ""
    escaped = False
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            quote, escaped = _step_in_string(char, quote, escaped)
        elif char in "\"'":
            quote = char
        elif char == "#" or text.startswith("//", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
            continue
        keep.append(char)
        index += 1
    return "".join(keep)


def _python_literals(text: str) -> str:
    """Rewrite bare JSON ``true``/``false``/``null`` outside strings as Python literals."""
    out: list[str] = []
    inside: list[bool] = []
    _scan(text, lambda _i, _c, in_string: inside.append(in_string))
    index = 0
    while index < len(text):
        match = None if inside[index] else _WORD.match(text, index)
        if match:
            word = match.group(0)
            out.append(_PY_LITERALS.get(word, word))
            index += len(word)
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _load(text: str) -> Any:
    """JSON first, then Python literal syntax; ``None`` when neither reads the text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(_python_literals(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _candidate_span(text: str) -> str:
    """The text from the first ``{`` (after unwrapping a markdown fence), or the text itself."""
    fenced = _FENCE.search(text)
    if fenced and "{" in fenced.group(1):
        text = fenced.group(1)
    start = text.find("{")
    return text[start:] if start >= 0 else text


def _balanced_or_completions(text: str) -> tuple[str | None, list[tuple[str, int]]]:
    """The first balanced ``{...}`` prefix, or completions of a truncated one (longest first)."""
    stack: list[str] = []
    cuts: list[tuple[int, tuple[str, ...]]] = []
    state = _ScanState()

    def visit(index: int, char: str, in_string: bool) -> None:
        state.in_string = in_string
        if in_string or state.end is not None:
            return
        if char in _CLOSER:
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
            if not stack:
                state.end = index + 1
        elif char == ",":
            cuts.append((index, tuple(stack)))

    _scan(text, visit)
    if state.end is not None:
        return text[: state.end], []

    def close(opened: tuple[str, ...] | list[str]) -> str:
        return "".join(_CLOSER[c] for c in reversed(opened))

    # Prefer dropping an unfinished tail over keeping a half-written string.
    completions: list[tuple[str, int]] = []
    if not state.in_string:
        trimmed = text.rstrip().rstrip(",:")
        completions.append((trimmed + close(stack), len(trimmed)))
    completions += [(text[:index] + close(opened), index) for index, opened in reversed(cuts[-_MAX_CUTS:])]
    if state.in_string:
        quote = '"' if text.rfind('"') >= text.rfind("'") else "'"
        completions.append((text + quote + close(stack), len(text)))
    return None, completions


def parse_answer(text: str) -> ParsedAnswer:
    """Read the mapping in an LLM answer; raise :class:`UnusableAnswerError` when there is none."""
    if not text or not text.strip():
        raise UnusableAnswerError("the answer was empty; answer with one JSON object")
    repairs: list[str] = []
    span = _candidate_span(text)
    if span.strip() != text.strip():
        repairs.append("took the JSON object out of surrounding prose or markdown")
    uncommented = _strip_comments(span)
    if uncommented != span:
        repairs.append("removed comments from the answer")
    balanced, completions = _balanced_or_completions(uncommented)
    if balanced is not None:
        if balanced.strip() != uncommented.strip() and "took the JSON" not in " ".join(repairs):
            repairs.append("ignored text after the JSON object")
        data = _load(balanced)
        if isinstance(data, dict):
            if not _is_json(balanced):
                repairs.append("read the answer as a Python dict literal (not JSON)")
            return ParsedAnswer(data, tuple(repairs))
        raise UnusableAnswerError("the answer is not valid JSON; answer with one JSON object and nothing else")
    for completion, kept in completions:
        data = _load(completion)
        if isinstance(data, dict):
            dropped = len(uncommented.rstrip()) - kept
            repairs.append(f"completed a truncated answer (closed brackets, dropped {dropped} unfinished chars)")
            return ParsedAnswer(data, tuple(repairs))
    raise UnusableAnswerError("the answer contains no JSON object; answer with one JSON object and nothing else")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
