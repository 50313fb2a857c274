"""Recorded LLM replies and a scripted DSPy LM that returns them verbatim (test helpers)."""

from __future__ import annotations

from pathlib import Path

REPLIES = Path(__file__).resolve().parents[2] / "fixtures" / "llm_replies"


def reply(name: str) -> str:
    """The recorded raw answer ``tests/fixtures/llm_replies/<name>.txt``."""
    return (REPLIES / f"{name}.txt").read_text(encoding="utf-8")


class RawReplies:
    """DummyLM 'adapter' that answers with the scripted raw text unchanged (malformed ones too)."""

    def format_field_with_value(self, fields_with_values, role="assistant"):
        return next(iter(fields_with_values.values()))


def scripted_client(texts: list[str], tmp_cache: Path | None = None, **config):
    """An LLMClient whose LM answers ``texts`` in order (then 'No more responses')."""
    from dspy.utils.dummies import DummyLM

    from cotclip.optimizer.llm.lm import LLMClient, LMConfig

    lm = DummyLM([{"raw": text} for text in texts], adapter=RawReplies())
    return LLMClient(LMConfig("openai/scripted-test-model", cache_dir=tmp_cache, **config), lm=lm)
