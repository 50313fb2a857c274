"""Scripted step answers for the staged proposer, built from a synthetic world's field notes (test helper).

A perfect small LLM would copy each class's note phrases with their kinds; these
helpers write exactly those answers as JSON text, so tests can script every step.
"""

from __future__ import annotations

import json

KIND_OF_GROUP = {
    "color": "color",
    "form": "resembles",
    "trait": "feature",
    "shape": "shape",
    "background": "background",
    "texture": "texture",
}


def note_phrases(world, notes: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """``{class: [(kind, phrase), ...]}``: the longest known surface form of each group found in the note."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name in world.classes:
        note = notes[name].lower()
        pairs = []
        for group in world.groups:
            hits = [form for forms in group.surface_forms for form in forms if form.lower() in note]
            if hits:
                pairs.append((KIND_OF_GROUP[group.name], max(hits, key=len)))
        found[name] = pairs
    return found


def describe_answer(phrases: dict[str, list[tuple[str, str]]], batch: list[str]) -> str:
    """The describe step's JSON for ``batch``."""
    return json.dumps(
        {
            "descriptions": {
                "classes": [{"name": c, "attributes": [{"kind": k, "phrase": p} for k, p in phrases[c]]} for c in batch]
            }
        }
    )


def questions_answer(kinds: list[str]) -> str:
    """One valid question per kind."""
    return json.dumps(
        {
            "questions": {
                "questions": [
                    {"kind": k, "name": f"{k}_question", "prompt": f"In this picture the {k} is {{}}."} for k in kinds
                ]
            }
        }
    )


def expand_answer(values: list[str]) -> str:
    """The expand step's JSON."""
    return json.dumps({"more": {"values": values}})


def step_answers(world, notes: dict[str, str], batch_size: int = 4) -> list[str]:
    """Every answer of one good proposal, in call order: describe batches, questions, one expand per kind."""
    phrases = note_phrases(world, notes)
    classes = list(world.classes)
    answers = [describe_answer(phrases, classes[i : i + batch_size]) for i in range(0, len(classes), batch_size)]
    kinds = list(dict.fromkeys(k for pairs in phrases.values() for k, _ in pairs))
    answers.append(questions_answer(kinds))
    answers.extend(expand_answer([]) for _ in kinds)
    return answers
