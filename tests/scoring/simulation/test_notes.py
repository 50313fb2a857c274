"""Field notes: prose from the true attributes, with the omissions and errors asked for."""

from __future__ import annotations

import pytest

from cotclip.systems.errors import InputError


def _true_forms(world, class_name):
    return {group.name: group.surface_forms[world.true_index(class_name, group.name)] for group in world.groups}


def _mentions(note: str, forms) -> bool:
    return any(form in note for form in forms)


def test_clean_notes_mention_every_true_value(pokemon_world):
    notes = pokemon_world.field_notes()
    assert list(notes) == pokemon_world.classes
    for class_name, note in notes.items():
        assert note[0].isupper() and note.endswith(".") and class_name not in note
        for forms in _true_forms(pokemon_world, class_name).values():
            assert _mentions(note, forms), (note, forms)


def test_full_omission_leaves_no_description(pokemon_world):
    notes = pokemon_world.field_notes(omit_rate=1.0)
    assert set(notes.values()) == {"No reliable description."}


def test_errors_replace_true_values_with_wrong_ones(pokemon_world):
    notes = pokemon_world.field_notes(error_rate=1.0)
    for class_name, note in notes.items():
        truth = _true_forms(pokemon_world, class_name)
        clauses = (note[0].lower() + note[1:]).removesuffix(".").split("; ")
        assert len(clauses) == len(pokemon_world.groups)
        for group, clause in zip(pokemon_world.groups, clauses):
            assert clause not in {group.note_clause.format(form) for form in truth[group.name]}, note


def test_partial_rates_drop_and_corrupt_some_clauses_deterministically(pokemon_world):
    noisy = pokemon_world.field_notes(omit_rate=0.3, error_rate=0.2, seed=4)
    assert noisy == pokemon_world.field_notes(omit_rate=0.3, error_rate=0.2, seed=4)
    assert noisy != pokemon_world.field_notes(omit_rate=0.3, error_rate=0.2, seed=5)
    clauses = sum(len(note.split("; ")) for note in noisy.values())
    assert 0.5 * 80 < clauses < 0.9 * 80  # 16 classes x 5 groups, about 70% kept


@pytest.mark.parametrize("rates", [{"omit_rate": -0.1}, {"error_rate": 1.5}])
def test_rates_outside_zero_one_are_input_errors(pokemon_world, rates):
    with pytest.raises(InputError, match="must be between 0 and 1"):
        pokemon_world.field_notes(**rates)
