"""Field notes: short per-class descriptions built from a world's true attributes.

They stand in for the domain context a user can hand an LLM proposer ("Skugli is a
crimson lizard with large wings ..."). ``omit_rate`` drops each attribute clause with that
probability; ``error_rate`` replaces a kept clause's value with a wrong value of the same
group. The wording uses any surface form the encoder knows (not always the best one),
keeping the article where the canonical form has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cotclip.scoring.simulation.geometry import seeded_rng
from cotclip.systems.errors import InputError

if TYPE_CHECKING:
    from cotclip.scoring.simulation.world import World

__all__ = ["field_notes"]


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"{name} must be between 0 and 1 (got {rate}); pass a probability such as 0.2")


_ARTICLES = ("a ", "an ", "the ")


def _grammatical_forms(forms: tuple[str, ...]) -> tuple[str, ...]:
    """Forms that read well in a sentence: no bare noun where the canonical form has an article."""
    if not forms[0].startswith(_ARTICLES):
        return forms
    return tuple(form for form in forms if form.startswith(_ARTICLES))


def field_notes(world: World, omit_rate: float = 0.0, error_rate: float = 0.0, seed: int = 0) -> dict[str, str]:
    """``{class: note}`` in class order (the note does not repeat the class name); deterministic."""
    _check_rate("omit rate", omit_rate)
    _check_rate("error rate", error_rate)
    rng = seeded_rng(world.config.seed, f"notes|{seed}|{omit_rate!r}|{error_rate!r}")
    notes: dict[str, str] = {}
    for class_name in world.classes:
        clauses: list[str] = []
        for group in world.groups:
            value_index = world.true_index(class_name, group.name)
            omitted, wrong, pick_wrong, pick_form = rng.random(), rng.random(), rng.integers(1, 1 << 30), rng.random()
            if omitted < omit_rate:
                continue
            if wrong < error_rate:
                value_index = (value_index + 1 + int(pick_wrong) % (len(group.values) - 1)) % len(group.values)
            forms = _grammatical_forms(group.surface_forms[value_index])
            clauses.append(group.note_clause.format(forms[int(pick_form * len(forms))]))
        body = "; ".join(clauses) if clauses else "no reliable description"
        notes[class_name] = f"{body[0].upper()}{body[1:]}."
    return notes
