"""Systems behaviours that the mutation run of ``systems/`` found untested (TESTING.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cotclip.systems import System, SystemValidationError, dump_system, export_seed, import_seed, load_system
from cotclip.systems.errors import MissingTextEmbeddingsError
from cotclip.systems.io import write_text_atomic
from cotclip.systems.model import Locks, SystemFields
from cotclip.systems.seed_format import seed_to_canonical
from cotclip.systems.validate import format_pydantic_error, validate_data

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


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (["cat", "cat", "dog"], "class 'cat' is listed twice; class names must be unique"),
        (["cat", "  ", "dog"], "a class name is empty; every class needs a name"),
    ],
)
def test_class_names_must_be_unique_and_non_empty(classes: list[str], expected: str) -> None:
    data = {
        "classes": classes,
        "groups": [{"name": "g", "prompt": "it is {}", "options": ["a", "b", "c"]}],
        "rules": {name: {"g": i} for i, name in enumerate(classes)},
    }
    assert expected in validate_data(data).errors


def test_json_with_leading_blank_lines_is_reported_as_json() -> None:
    with pytest.raises(SystemValidationError) as info:
        load_system('\n  \n  {"classes": ["cat",\n')
    assert "not valid JSON: " in info.value.message and " at line 4, column " in info.value.message


def test_writing_a_system_creates_the_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "pets.json"
    assert write_text_atomic(target, "{}\n") == target
    assert target.read_text(encoding="utf-8") == "{}\n"


def test_seed_import_records_only_what_differs_from_the_default_layout() -> None:
    seed = copy.deepcopy(SEED)
    seed["classification_cot"]["colour"]["weight"] = 2.0
    system = import_seed(seed)
    assert system.groups[0].weight == 2.0
    assert "groups" not in system.provenance.details["seed_layout"]  # prompt, options, weight: the usual order
    assert export_seed(system) == seed


def test_export_names_the_rules_after_the_system_or_keeps_the_imported_key() -> None:
    named = import_seed(copy.deepcopy(SEED)).evolve(name="Xenon X", provenance={"method": "hand"})
    assert "Xenon_X_rules" in export_seed(named)
    renamed = import_seed(copy.deepcopy(SEED)).evolve(name="Renamed")
    exported = export_seed(renamed)
    assert list(exported)[:2] == ["classification_cot", "pokemon_rules"]
    assert exported["cotclip"]["name"] == "Renamed"


def test_seed_structure_messages_say_how_to_fix_them() -> None:
    with pytest.raises(SystemValidationError) as info:
        seed_to_canonical({"classification_cot": {}})
    assert info.value.errors == [
        "a seed-format system needs exactly one rules dict (a key ending in _rules) (found none); "
        "add one such as pokemon_rules, or rename the extra ones"
    ]
    with pytest.raises(SystemValidationError) as info:
        seed_to_canonical({**copy.deepcopy(SEED), "cotclip": ["notes"]})
    assert info.value.errors == ["'cotclip' must be an object with name, scoring, provenance, locks, notes"]
    assert validate_data([1, 2]).errors == [
        "a system must be a mapping at the top level, got list; "
        "write an object with classes, groups and rules (or the seed format)"
    ]


def test_group_names_must_be_unique(tiny_data: dict[str, Any]) -> None:
    tiny_data["groups"][1]["name"] = "body"
    assert any("group 'body'" in error and "twice" in error for error in validate_data(tiny_data).errors)


def test_a_class_with_only_null_rules_is_warned_about(tiny_data: dict[str, Any]) -> None:
    tiny_data["rules"]["owl"] = {"body": None, "ears": None}
    warnings = validate_data(tiny_data).warnings
    assert "class 'owl' has only null rules; it can only win through the name prior" in warnings


def test_a_json_file_is_never_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "pets.JSON"
    path.write_text("name: tiny\nclasses: [cat]\n", encoding="utf-8")
    with pytest.raises(SystemValidationError) as info:
        load_system(path)
    assert info.value.message.startswith(f"{path}: invalid system: not valid JSON: Expecting value at line 1, column 1")
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n", encoding="utf-8")
    with pytest.raises(SystemValidationError) as info:
        load_system(empty)
    assert info.value.errors == ["the file holds no data; write a system as JSON or YAML"]


def test_seed_validation_errors_name_the_source() -> None:
    seed = copy.deepcopy(SEED)
    seed["pokemon_rules"]["Absol"]["colour"] = 7
    with pytest.raises(SystemValidationError) as info:
        import_seed(seed, source="pokemon.seed.json")
    assert info.value.message.startswith("pokemon.seed.json: invalid system: ")


def test_type_errors_end_with_their_fix_or_nothing(tiny_data: dict[str, Any]) -> None:
    tiny_data["groups"][0]["options"] = "fur"
    tiny_data["scoring"] = {"temperature": 1.0, "colour": "red"}
    errors = validate_data(tiny_data).errors
    assert "groups[0]('body').options: Input should be a valid list (got str 'fur')" in errors
    assert (
        "scoring.colour: Extra inputs are not permitted (got str 'red'); remove it or correct the field name" in errors
    )


def test_the_fingerprint_follows_what_scoring_reads(tiny_data: dict[str, Any]) -> None:
    system = System.from_data(tiny_data)
    same = system.evolve(name="renamed", notes=["a note"])
    other_rule = system.evolve(rules={**tiny_data["rules"], "owl": {"body": 1, "ears": 1}})
    other_scoring = system.evolve(scoring={"temperature": 0.01})
    assert same.fingerprint() == system.fingerprint()
    assert len({system.fingerprint(), other_rule.fingerprint(), other_scoring.fingerprint()}) == 3


def test_an_empty_group_name_and_a_bad_name_template_are_named_with_their_fix(tiny_data: dict[str, Any]) -> None:
    tiny_data["groups"][0]["name"] = " "
    tiny_data.setdefault("scoring", {})["name_template"] = "a photo of a pokemon"
    errors = validate_data(tiny_data).errors
    assert "a group has an empty name; give every group a unique name" in errors
    assert "scoring.name_template 'a photo of a pokemon' must contain exactly one {} placeholder (found 0)" in errors


def test_a_system_error_counts_the_errors_it_does_not_show() -> None:
    error = SystemValidationError(["first problem", "second problem", "third problem"])
    assert str(error) == "invalid system: first problem (+2 more; run `cotclip validate` to list all)"


def test_seed_structure_errors_name_the_file_and_the_fix() -> None:
    with pytest.raises(SystemValidationError) as info:
        seed_to_canonical({"name": "no groups here"}, source="seed.json")
    assert str(info.value).startswith("seed.json: invalid system: not a seed-format system: it needs a key ")
    two = {**SEED, "classification_groups": SEED["classification_cot"]}
    with pytest.raises(SystemValidationError) as info:
        seed_to_canonical(two, source="seed.json")
    assert str(info.value) == (
        "seed.json: invalid system: a seed-format system needs exactly one groups dict (found "
        "'classification_cot', 'classification_groups'); keep one of them"
    )


def test_seed_extra_prompts_are_the_usual_layout_and_an_empty_list_survives_the_round_trip() -> None:
    seed = copy.deepcopy(SEED)
    seed["classification_cot"]["colour"]["extra_prompts"] = ["Its colour is {}."]
    seed["classification_cot"]["scene"]["extra_prompts"] = []
    system = import_seed(seed)
    assert list(system.groups[0].extra_prompts) == ["Its colour is {}."]
    assert set(system.provenance.details["seed_layout"]["groups"]) == {"scene"}  # only the empty list is unusual
    assert export_seed(system) == seed


def test_asking_a_system_for_an_absent_group_names_it(tiny_data: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="no-such-group"):
        System.from_data(tiny_data).group("no-such-group")
