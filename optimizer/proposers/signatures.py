"""DSPy signatures of the LLM proposer and the typed answer they ask for.

Instructions are the editable files ``prompts/<name>.md`` (package ``cotclip.prompts``),
read at run time; a directory of replacements (e.g. optimized prompts saved in a run
dir) can be given instead. Their sha256 goes into each proposed system's provenance.

The answer model is what small LLMs get right most often: rules name the option by
its TEXT (not an index) and are keyed by every class, so that a JSON-schema-constrained
server must answer for each class. Repair accepts indices too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import GenericAlias
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from cotclip.optimizer.llm.price_map import use_bundled_price_map
from cotclip.systems.errors import InputError

__all__ = [
    "Instructions",
    "AnswerGroup",
    "Choice",
    "load_instructions",
    "answer_model",
    "rules_model",
    "propose_signature",
    "revise_signature",
    "complete_rules_signature",
    "build_signature",
    "list_of",
]


@dataclass(frozen=True)
class Instructions:
    """The text of one prompt file, where it came from and its sha256."""

    name: str
    text: str
    sha256: str
    source: str


def load_instructions(name: str, prompts_dir: Path | None = None) -> Instructions:
    """Read ``<name>.md`` from ``prompts_dir`` or the packaged ``cotclip.prompts``."""
    if prompts_dir is not None:
        path = Path(prompts_dir) / f"{name}.md"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read prompt file {path}: {exc.strerror}; restore it or drop --prompts-dir"
            ) from None
        source = str(path)
    else:
        text = resources.files("cotclip.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")
        source = f"cotclip.prompts/{name}.md"
    return Instructions(name, text.strip(), hashlib.sha256(text.encode()).hexdigest(), source)


class AnswerGroup(BaseModel):
    """One question: a sentence with one ``{}`` and the phrases that may fill it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="short snake_case identifier")
    prompt: str = Field(description="sentence about the image with exactly one {} for the option")
    options: list[str] = Field(description="short mutually exclusive phrases")


class Choice(BaseModel):
    """The option one class picks in one group (by text; null = says nothing)."""

    model_config = ConfigDict(extra="forbid")
    group: str
    option: str | None


def list_of(model: type[BaseModel]) -> Any:
    """``list[model]`` as a pydantic field type, for a model class built at run time.

    Any: pydantic's stubs type a field as a TypeForm, which mypy grants only to a type written in place.
    """
    return GenericAlias(list, model)


def rules_model(classes: list[str]) -> type[BaseModel]:
    """An object with one required list of choices per class (class names as keys)."""
    # Any: the field types are values here (see list_of)
    fields: dict[str, Any] = {f"class_{i}": (list[Choice], Field(alias=name)) for i, name in enumerate(classes)}
    return create_model("Rules", __config__=ConfigDict(extra="forbid", populate_by_name=True), **fields)


def answer_model(classes: list[str], max_groups: int, max_options: int) -> type[BaseModel]:
    """The typed answer of propose/revise: groups (within the size limits) and rules."""
    group = create_model(
        "Group",
        __base__=AnswerGroup,
        options=(list[str], Field(min_length=2, max_length=max_options, description="short phrases")),
    )
    return create_model(
        "SystemAnswer",
        __config__=ConfigDict(extra="forbid"),
        groups=(list_of(group), Field(min_length=1, max_length=max_groups)),
        rules=(rules_model(classes), ...),
    )


def build_signature(fields: dict, instructions: Instructions, name: str):
    """A DSPy signature from ``{field: ("in"|"out", type, description)}`` and the instructions' text."""
    use_bundled_price_map()
    import dspy

    built = {
        key: (kind, dspy.InputField(desc=desc) if role == "in" else dspy.OutputField(desc=desc))
        for key, (role, kind, desc) in fields.items()
    }
    return dspy.make_signature(built, instructions.text, signature_name=name)


def propose_signature(answer: type[BaseModel], instructions: Instructions):
    """classes, domain, notes, limits, emphasis, feedback -> answer."""
    return build_signature(
        {
            "classes": ("in", list[str], "class names to tell apart"),
            "domain": ("in", str, "what the images show"),
            "notes": ("in", str, "per-class notes from the user (may be empty)"),
            "limits": ("in", str, "size limits"),
            "emphasis": ("in", str, "what to emphasise in this candidate"),
            "feedback": ("in", str, "problems of your previous answer (empty on the first try)"),
            "answer": ("out", answer, "the system: groups and rules"),
        },
        instructions,
        "ProposeSystem",
    )


def revise_signature(answer: type[BaseModel], instructions: Instructions):
    """current system, scores, diagnostics, history, limits, feedback -> answer."""
    return build_signature(
        {
            "current_system": ("in", str, "the system to improve, as JSON"),
            "scores": ("in", str, "held-out accuracy overall and per class"),
            "diagnostics": ("in", str, "what goes wrong, measured on training images"),
            "history": ("in", str, "earlier versions and their accuracy"),
            "limits": ("in", str, "size limits"),
            "feedback": ("in", str, "problems of your previous answer (empty on the first try)"),
            "answer": ("out", answer, "the complete revised system"),
        },
        instructions,
        "ReviseSystem",
    )


def complete_rules_signature(classes: list[str], instructions: Instructions):
    """groups, classes -> rules (used once when an answer left classes without rules)."""
    return build_signature(
        {
            "groups": ("in", str, "the fixed groups and their options, as JSON"),
            "classes": ("in", list[str], "classes that still need rules"),
            "rules": ("out", rules_model(classes), "for each class, one option text per group"),
        },
        instructions,
        "CompleteRules",
    )
