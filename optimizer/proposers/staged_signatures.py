"""Typed DSPy signatures of the staged proposer: one short step each, which small LLMs can do.

Every output is a small pydantic model whose JSON schema a local server enforces
(llama-server turns it into a grammar), with enums wherever the answer must be one
of a known set: the batch's class names, the attribute kinds, a group's options.
Instructions are the editable files ``prompts/<stage>.md``, like the one-shot ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from cotclip.optimizer.proposers.repair import normalize_text
from cotclip.optimizer.proposers.signatures import Instructions, build_signature, list_of

__all__ = [
    "KINDS",
    "DEFAULT_TEMPLATES",
    "kinds_text",
    "kind_of",
    "parse_attributes",
    "describe_signature",
    "templates_signature",
    "expand_signature",
    "assign_signature",
    "contrast_signature",
]

#: Attribute kinds the describe step sorts phrases into, with what each means (shown to the LLM).
KINDS: dict[str, str] = {
    "color": "its main color",
    "resembles": "what animal or thing it looks like",
    "feature": "its most notable body part or feature",
    "shape": "its body shape or build",
    "background": "the scene or place it is usually shown in",
    "texture": "what its surface is like",
    "size": "how big it is",
    "pattern": "markings on its body",
    "pose": "its pose or what it is doing",
}

Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]

#: Used when the LLM's question for a kind is unusable: plain English, one ``{}`` each.
DEFAULT_TEMPLATES: dict[str, tuple[str, str]] = {
    "color": ("main_color", "Its body is mainly {} in color."),
    "resembles": ("looks_like", "It looks like {}."),
    "feature": ("notable_feature", "Its most notable feature is {}."),
    "shape": ("body_shape", "Its body shape is {}."),
    "background": ("background", "The background shows {}."),
    "texture": ("surface", "Its surface is {}."),
    "size": ("size", "It is {} in size."),
    "pattern": ("markings", "It is marked with {}."),
    "pose": ("pose", "It is shown {}."),
}


def kinds_text() -> str:
    """The kinds' names, comma-separated, as the prompts list them."""
    # names only: small models copied "how big it is" from a list of meanings as a phrase
    return ", ".join(KINDS)


def kind_of(value: Any) -> str | None:
    """The kind an LLM's kind field names (exactly or as its first word), or None."""
    text = normalize_text(value or "")
    return next((k for k in KINDS if text == k or text.startswith(k)), None)


def parse_attributes(items: Any) -> list[tuple[str, str]]:
    """``(kind, phrase)`` pairs from a list of ``{"kind", "phrase"}`` records (others skipped)."""
    pairs = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (kind := kind_of(item.get("kind"))) and isinstance(item.get("phrase"), str):
            pairs.append((kind, item["phrase"]))
    return pairs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attribute(_Strict):
    """One visible attribute: its kind and a short phrase (2-4 words) naming it."""

    kind: Kind  # type: ignore[valid-type]
    phrase: str = Field(description="2-4 words, e.g. 'deep green' or 'a long tail'")


def _enum(values: list[str]):
    return Literal[tuple(values)]  # type: ignore[valid-type]


def descriptions_model(classes: list[str]) -> type[BaseModel]:
    """``{"classes": [{"name": <one of classes>, "attributes": [Attribute, ...]}, ...]}``."""
    entry = create_model(
        "ClassAttributes",
        __base__=_Strict,
        name=(_enum(classes), ...),
        attributes=(list[Attribute], Field(max_length=9)),
    )
    return create_model("Descriptions", __base__=_Strict, classes=(list_of(entry), Field(min_length=1)))


def templates_model(kinds: list[str]) -> type[BaseModel]:
    """``{"questions": [{"kind": <kind>, "name": ..., "prompt": "... {} ..."}, ...]}``."""
    entry = create_model(
        "Question",
        __base__=_Strict,
        kind=(_enum(kinds), ...),
        name=(str, Field(description="short snake_case name")),
        prompt=(str, Field(description="one sentence about the image with exactly one {}")),
    )
    return create_model("Questions", __base__=_Strict, questions=(list_of(entry), Field(min_length=1)))


class MoreValues(_Strict):
    """More possible values of one attribute kind."""

    values: list[str] = Field(description="short phrases, 1-4 words each", max_length=12)


def assignments_model(classes: list[str], options: list[str]) -> type[BaseModel]:
    """``{"choices": [{"name": <class>, "option": <option or "none">}, ...]}``."""
    entry = create_model(
        "Choice", __base__=_Strict, name=(_enum(classes), ...), option=(_enum([*options, "none"]), ...)
    )
    return create_model("Choices", __base__=_Strict, choices=(list_of(entry), Field(min_length=1)))


def contrast_model(first: str, second: str) -> type[BaseModel]:
    """Visible differences: attributes of ``first`` and of ``second`` that tell them apart."""
    return create_model(
        "Differences",
        __base__=_Strict,
        first=(list[Attribute], Field(max_length=4, description=f"attributes {first} has")),
        second=(list[Attribute], Field(max_length=4, description=f"attributes {second} has")),
    )


def describe_signature(classes: list[str], instructions: Instructions):
    """domain, notes, kinds, feedback -> descriptions (a few classes per call)."""
    return build_signature(
        {
            "domain": ("in", str, "what the images show"),
            "notes": ("in", str, "one line per class: its name and the user's note (may be empty)"),
            "kinds": ("in", str, "the attribute kinds to use"),
            "feedback": ("in", str, "problems of your previous answer (empty on the first try)"),
            "descriptions": ("out", descriptions_model(classes), "visible attributes of every listed class"),
        },
        instructions,
        "DescribeClasses",
    )


def templates_signature(kinds: list[str], instructions: Instructions):
    """domain, attribute kinds with example phrases -> one question template per kind."""
    return build_signature(
        {
            "domain": ("in", str, "what the images show"),
            "kinds": ("in", str, "each attribute kind with example phrases"),
            "questions": ("out", templates_model(kinds), "one question per kind"),
        },
        instructions,
        "WriteQuestions",
    )


def expand_signature(instructions: Instructions):
    """domain, kind, known values -> more values of that kind."""
    return build_signature(
        {
            "domain": ("in", str, "what the images show"),
            "kind": ("in", str, "the attribute kind"),
            "known": ("in", list[str], "values already listed"),
            "more": ("out", MoreValues, "other common values of this kind, not already listed"),
        },
        instructions,
        "ListMoreValues",
    )


def assign_signature(classes: list[str], options: list[str], instructions: Instructions):
    """question, options, class descriptions -> each class's option (or none)."""
    return build_signature(
        {
            "question": ("in", str, "the question asked about each image"),
            "descriptions": ("in", str, "one line per class: its name and what is known of it"),
            "answer": ("out", assignments_model(classes, options), "for each class the option that fits, or none"),
        },
        instructions,
        "AssignOptions",
    )


def contrast_signature(first: str, second: str, instructions: Instructions):
    """two confused classes and their notes -> visible differences."""
    return build_signature(
        {
            "domain": ("in", str, "what the images show"),
            "pair": ("in", str, "the two classes and what is known of each"),
            "kinds": ("in", str, "the attribute kinds to use"),
            "differences": ("out", contrast_model(first, second), "attributes that tell the two apart"),
        },
        instructions,
        "ContrastPair",
    )
