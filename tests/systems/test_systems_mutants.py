"""Systems behaviours that the mutation run of ``systems/`` found untested (TESTING.md)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from cotclip.systems import System, SystemValidationError, dump_system, export_seed, import_seed, load_system
from cotclip.systems.errors import MissingTextEmbeddingsError
from cotclip.systems.model import Locks, SystemFields
from cotclip.systems.seed_format import seed_to_canonical
from cotclip.systems.validate import format_pydantic_error

SEED = {
    "classification_cot": {
        "colour": {"prompt": "It is mainly {}.", "options": ["white", "gray"]},
        "scene": {"prompt": "The background looks like {}.", "options": ["space", "rocks"]},
    },
    "pokemon_rules": {"Absol": {"colour": 0, "scene": 1}, "Aggron": {"colour": 1, "scene": 0}},
}


def test_yaml_files_keep_non_ascii_names_readable(tiny_data: dict[str, Any]) -> None:
    tiny_data["classes"][0] = "Flabébé"
    tiny_data["rules"]["Flabébé"] = tiny_data["rules"].pop("cat")
    tiny_data["groups"][0]["prompt"] = "This Pokémon’s body has {}."
    system = System.from_data(tiny_data)
    text = dump_system(system, "yaml")
    assert "Flabébé" in text and "Pokémon’s" in text
    assert load_system(text) == system


def test_yaml_syntax_errors_say_where(tiny_data: dict[str, Any]) -> None:
    with pytest.raises(SystemValidationError) as info:
        load_system("name: tiny\nclasses: [cat, dog\ngroups: []\n")
    assert "neither valid JSON nor YAML" in info.value.message
    assert "at line 3, column" in info.value.message and info.value.message.endswith("; fix the syntax")


def test_errors_in_data_passed_directly_are_labelled_system_data(tiny_data: dict[str, Any]) -> None:
    tiny_data["rules"]["cat"]["body"] = 5
    with pytest.raises(SystemValidationError) as info:
        load_system(tiny_data)
    assert info.value.message.startswith("<system data>: invalid system: ")


def test_a_pydantic_error_at_the_top_level_is_located_at_the_system() -> None:
    # validate_data refuses non-mappings before pydantic sees them; format_pydantic_error is public
    with pytest.raises(ValidationError) as info:
        SystemFields.model_validate([1, 2])
    lines = format_pydantic_error(info.value, [1, 2])
    assert len(lines) == 1 and lines[0].startswith("system: Input should be a valid dictionary")


def test_non_seed_data_given_to_the_seed_converter_is_a_validation_error(tiny_data: dict[str, Any]) -> None:
    with pytest.raises(SystemValidationError, match="not a seed-format system: it needs a key classification_cot"):
        seed_to_canonical(tiny_data, source="tiny.json")


def test_a_group_that_is_not_an_object_names_its_type() -> None:
    seed = copy.deepcopy(SEED)
    seed["classification_cot"]["colour"] = ["white", "gray"]
    with pytest.raises(SystemValidationError) as info:
        import_seed(seed)
    assert "classification_cot['colour'] must be an object with prompt and options, got list" in info.value.errors


def test_an_unnamed_system_exports_under_system_rules() -> None:
    system = import_seed(copy.deepcopy(SEED)).evolve(name="***", provenance={"method": "hand"})
    exported = export_seed(system)
    assert list(exported)[:2] == ["classification_cot", "system_rules"]
    assert exported["cotclip"]["name"] == "***"
    assert import_seed(exported).name == "***"


def test_the_extra_block_is_rebuilt_from_the_system_not_replayed_from_the_import() -> None:
    seed = {**copy.deepcopy(SEED), "cotclip": {"notes": ["checked by hand"], "scoring": {"temperature": 0.01}}}
    imported = import_seed(copy.deepcopy(seed))
    assert export_seed(imported) == seed  # lossless while nothing changed

    changed = imported.evolve(notes=[], scoring={"temperature": 1.0})
    assert "cotclip" not in export_seed(changed)  # nothing left that the article's format cannot hold
    changed = imported.evolve(notes=["re-checked"])
    assert export_seed(changed)["cotclip"] == {"notes": ["re-checked"], "scoring": {"temperature": 0.01}}


def test_locks_cover_whole_groups_and_single_rules() -> None:
    locks = Locks(groups=["colour"], rules=[("Absol", "scene")])
    assert locks.rule_locked("Aggron", "colour") and locks.rule_locked("Absol", "colour")
    assert locks.rule_locked("Absol", "scene")
    assert not locks.rule_locked("Aggron", "scene")
    assert not Locks().rule_locked("Absol", "scene")


def test_prompt_texts_lists_every_distinct_prompt_once_in_order() -> None:
    system = System.from_data(
        {
            "classes": ["a", "b"],
            "groups": [
                {"name": "g", "prompt": "it is {}", "options": ["red", "blue"], "extra_prompts": ["a {} one"]},
                {"name": "h", "prompt": "it is {}", "options": ["red", "big"]},
            ],
            "rules": {"a": {"g": 0, "h": 0}, "b": {"g": 1, "h": 1}},
        }
    )
    assert system.prompt_texts() == ["it is red", "a red one", "it is blue", "a blue one", "it is big"]


def test_missing_text_embeddings_message_counts_and_shows_the_first_three() -> None:
    error = MissingTextEmbeddingsError(["a red one", "a blue one", "a big one", "a fourth"], "vocab.npz")
    assert error.missing == ["a red one", "a blue one", "a big one", "a fourth"]
    assert error.message.startswith(
        "vocab.npz has no embedding for 4 text(s), first: 'a red one', 'a blue one', 'a big one';"
    )
    assert "a fourth" not in error.message and error.exit_code == 2
