"""LM specs: how to reach a model (:class:`LMConfig`) and the ``dspy.LM`` built from one.

Nothing here touches DSPy's global settings: :func:`build_lm` turns DSPy's own cache and
retries off (the :class:`~cotclip.optimizer.llm.lm.LLMClient` owns both), and the bundled
llama-server model is registered with litellm as free and JSON-schema capable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotclip.optimizer.llm.price_map import use_bundled_price_map
from cotclip.systems.errors import InputError

__all__ = ["LOCAL_MODEL", "LMConfig", "build_lm", "register_local_model", "compact_adapter"]

#: The litellm model name under which the bundled SmolLM2 server is addressed.
LOCAL_MODEL = "openai/smollm2-135m-instruct"


@dataclass(frozen=True)
class LMConfig:
    """How to reach a model. ``model`` is any DSPy/litellm LM string, e.g. ``openai/gpt-4o-mini``.

    ``cache_endpoint`` stands for ``api_base`` in response-cache keys when the address
    says nothing about the model: the bundled server listens on a fresh port each time,
    and a key holding that port would make a resumed run pay again for every answer.
    ``timeout_s`` bounds each attempt; ``retries`` more attempts follow a failed one.
    """

    model: str
    api_base: str | None = None
    api_key: str | None = None
    temperature: float = 0.7
    max_tokens: int = 1500
    timeout_s: float = 120.0
    retries: int = 2
    backoff_s: float = 1.0
    cache_dir: Path | None = None
    cache_endpoint: str | None = None

    def __post_init__(self) -> None:
        if "/" not in self.model or self.model.endswith("/"):
            raise InputError(
                f"LM spec {self.model!r} is not a provider/model string; use e.g. openai/gpt-4o-mini, "
                "ollama_chat/llama3, `local` or `simulated`"
            )
        if self.retries < 0 or self.timeout_s <= 0 or self.max_tokens <= 0:
            raise InputError("LM retries must be >= 0 and timeout/max tokens > 0; fix the LM options")

    def to_dict(self) -> dict[str, Any]:
        """Every field except the API key (never logged)."""
        return {
            "model": self.model,
            "api_base": self.api_base,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "backoff_s": self.backoff_s,
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            "cache_endpoint": self.cache_endpoint,
        }


def register_local_model(model: str = LOCAL_MODEL) -> None:
    """Tell litellm that the local llama-server model is free and honours JSON schemas."""
    use_bundled_price_map()
    import litellm

    litellm.register_model(
        {
            model: {
                "litellm_provider": "openai",
                "mode": "chat",
                "supports_response_schema": True,
                "max_input_tokens": 8192,
                "max_output_tokens": 2048,
                "input_cost_per_token": 0.0,
                "output_cost_per_token": 0.0,
                "cache_creation_input_token_cost": 0.0,
                "cache_read_input_token_cost": 0.0,
            }
        }
    )


def build_lm(config: LMConfig):
    """A ``dspy.LM`` routed through litellm, with DSPy's cache and retries off (we own both)."""
    use_bundled_price_map()
    import dspy

    if config.model == LOCAL_MODEL or (config.cache_endpoint or "").startswith("local:"):
        register_local_model(config.model)  # a bundled llama-server model: free, JSON-schema capable
    api_key = config.api_key
    keyless = config.api_base and config.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY")
    if api_key is None and keyless:
        api_key = "no-key"  # OpenAI-compatible local servers need none, but the client insists on one
    try:
        return dspy.LM(
            config.model,
            engine="litellm",
            api_base=config.api_base,
            api_key=api_key,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            cache=False,
            num_retries=0,
            timeout=config.timeout_s,
        )
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot use LM {config.model!r}: {exc}; check the --lm spec") from None


def compact_adapter() -> Any:
    """A JSONAdapter whose prompt leaves out the output JSON schema text.

    Used only when the server enforces the schema itself (``response_format``
    json_schema): the schema costs small local models hundreds of prompt tokens.
    """
    use_bundled_price_map()
    from dspy.adapters.chat_adapter import FieldInfoWithName
    from dspy.adapters.json_adapter import JSONAdapter
    from dspy.adapters.utils import translate_field_type

    class SchemaEnforcedJSONAdapter(JSONAdapter):
        """JSONAdapter describing the output by field names only (the server enforces the schema)."""

        def format_field_structure(self, signature) -> str:
            """The input layout and a one-line note on the output object."""
            fields = signature.input_fields.items()
            inputs = self.format_field_with_value(
                {FieldInfoWithName(name=n, info=f): translate_field_type(n, f) for n, f in fields}, role="user"
            )
            outputs = ", ".join(f"`{name}`" for name in signature.output_fields)
            return (
                f"Inputs will have the following structure:\n\n{inputs}\n\n"
                f"Outputs will be one JSON object with the field(s) {outputs}; its JSON schema is enforced."
            )

    return SchemaEnforcedJSONAdapter()
