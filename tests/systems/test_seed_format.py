"""The seed article's format: detection, lossless import -> export, and what travels in ``cotclip``."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cotclip.systems import System, SystemValidationError, dump_system, export_seed, import_seed, load_system
from cotclip.systems.seed_format import IMPORT_METHOD, LAYOUT_KEY, is_seed_data, seed_to_canonical

ARTICLE_STYLE = {
    "classification_cot": {
        "dominant_color": {"prompt": "This Pokémon’s body is mainly {} in color.", "options": ["white", "gray"]},
        "background_scene": {
            "prompt": "The background looks like {}.",
            "options": ["outer space", "a rocky battlefield"],
        },
    },
    "pokemon_rules": {
        "Absol": {"dominant_color": 0, "background_scene": 1},
        "Absol G": {"dominant_color": 0, "background_scene": 0},
        "Aggron": {"dominant_color": 1, "background_scene": 1},
    },
}


def _round_trip(seed: dict[str, Any]) -> tuple[System, dict[str, Any], System]:
    first = import_seed(copy.deepcopy(seed))
    exported = export_seed(first)
    return first, exported, import_seed(copy.deepcopy(exported))


def _assert_lossless(seed: dict[str, Any]) -> System:
    first, exported, second = _round_trip(seed)
    assert exported == seed
    assert json.dumps(exported, ensure_ascii=False) == json.dumps(seed, ensure_ascii=False)  # key order too
    assert second == first
    return first


def test_article_style_import() -> None:
    system = _assert_lossless(ARTICLE_STYLE)
    assert system.name == "pokemon"
    assert system.classes == ["Absol", "Absol G", "Aggron"]
    assert system.group_names == ["dominant_color", "background_scene"]
    assert system.rule("Absol", "background_scene") == 1
    assert system.provenance.method == IMPORT_METHOD
    assert system.provenance.details[LAYOUT_KEY] == {"groups_key": "classification_cot", "rules_key": "pokemon_rules"}


def test_classification_groups_key_and_omitted_groups_are_null_rules() -> None:
    seed = {
        "classification_groups": ARTICLE_STYLE["classification_cot"],
        "pokemon_rules": {"Absol": {"dominant_color": 0}, "Aggron": {"background_scene": 1, "dominant_color": 1}},
    }
    system = _assert_lossless(seed)
    assert system.rule("Absol", "background_scene") is None
    assert system.to_dict()["rules"]["Absol"] == {"dominant_color": 0, "background_scene": None}
    assert system.provenance.details[LAYOUT_KEY]["rule_keys"] == {"Aggron": ["background_scene", "dominant_color"]}


def test_explicit_nulls_extra_keys_orders_and_wrapper_survive() -> None:
    inner = {
        "version": 3,
        "pokemon_rules": {"Absol": {"dominant_color": 0, "background_scene": None}, "Aggron": {"dominant_color": 1}},
        "classification_cot": {
            "dominant_color": {"options": ["white", "gray"], "prompt": "mainly {}.", "comment": "from the article"},
            "background_scene": {"prompt": "behind it: {}.", "options": ["space", "rocks"], "weight": 1.0},
        },
    }
    system = _assert_lossless({"pokemon_system": inner})
    layout = system.provenance.details[LAYOUT_KEY]
    assert layout["wrapper"] == "pokemon_system"
    assert layout["extra"] == {"version": 3}
    assert layout["groups"]["dominant_color"] == {
        "keys": ["options", "prompt", "comment"],
        "extra": {"comment": "from the article"},
    }


def test_weights_and_extra_prompts_are_read_from_groups() -> None:
    seed = copy.deepcopy(ARTICLE_STYLE)
    seed["classification_cot"]["dominant_color"].update(weight=0.5, extra_prompts=["its colour: {}."])
    system = _assert_lossless(seed)
    group = system.group("dominant_color")
    assert (group.weight, group.extra_prompts) == (0.5, ["its colour: {}."])
    assert LAYOUT_KEY not in json.dumps(export_seed(system))


def test_canonical_system_exports_what_the_article_format_cannot_hold() -> None:
    system = System.from_data(
        {
            "name": "my birds",
            "classes": ["robin", "jay"],
            "groups": [{"name": "color", "prompt": "a {} bird", "options": ["red", "blue"]}],
            "rules": {"robin": {"color": 0}, "jay": {"color": 1}},
            "scoring": {"temperature": 0.01, "aggregation": "log_prob_sum"},
            "provenance": {"parent": "abc", "method": "revise", "details": {"move": "split"}},
            "locks": {"groups": ["color"], "rules": [["robin", "color"]]},
            "notes": ["hand-checked"],
        }
    )
    seed = export_seed(system)
    assert list(seed) == ["classification_cot", "my_birds_rules", "cotclip"]
    assert seed["cotclip"] == {
        "name": "my birds",
        "scoring": {"temperature": 0.01, "aggregation": "log_prob_sum"},
        "provenance": {"method": "revise", "parent": "abc", "details": {"move": "split"}},
        "locks": {"groups": ["color"], "rules": [["robin", "color"]]},
        "notes": ["hand-checked"],
    }
    back = import_seed(seed)
    assert back.provenance.details.pop(LAYOUT_KEY)["rules_key"] == "my_birds_rules"
    assert back == system
    assert export_seed(import_seed(seed)) == seed


def test_plain_canonical_system_exports_only_article_keys() -> None:
    system = import_seed(ARTICLE_STYLE).evolve(provenance={"method": IMPORT_METHOD})
    assert export_seed(system) == ARTICLE_STYLE


def test_seed_text_is_detected_by_load_system() -> None:
    text = json.dumps(ARTICLE_STYLE, ensure_ascii=False)
    assert load_system(text) == import_seed(ARTICLE_STYLE)
    assert json.loads(dump_system(load_system(text), "seed-json")) == ARTICLE_STYLE


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        ({"classification_cot": {}, "classification_groups": {}, "x_rules": {}}, "exactly one groups dict"),
        ({"classification_cot": {}}, "exactly one rules dict (a key ending in _rules) (found none)"),
        ({"classification_cot": {}, "a_rules": {}, "b_rules": {}}, "(found 'a_rules', 'b_rules')"),
        ({"classification_cot": [], "x_rules": {}}, "classification_cot must map group names to {prompt, options}"),
        ({"classification_cot": {"g": "red"}, "x_rules": {}}, "classification_cot['g'] must be an object"),
        ({"classification_cot": {}, "x_rules": {"a": 0}}, "x_rules['a'] must map group names to option indices"),
        ({"classification_cot": {}, "x_rules": {}, "cotclip": {"colour": 1}}, "'cotclip' has unknown key 'colour'"),
    ],
)
def test_broken_seed_structure(seed: dict[str, Any], expected: str) -> None:
    with pytest.raises(SystemValidationError) as info:
        seed_to_canonical(seed, source="s.json")
    assert expected in info.value.message and info.value.message.startswith("s.json: invalid system: ")


def test_seed_semantic_errors_name_class_group_and_index() -> None:
    seed = copy.deepcopy(ARTICLE_STYLE)
    seed["pokemon_rules"]["Aggron"]["background_scene"] = 4
    seed["pokemon_rules"]["Absol"]["key_trait"] = 0
    with pytest.raises(SystemValidationError) as info:
        import_seed(seed)
    assert "rule 'Aggron'/'background_scene' = 4 is out of range; use 0..1 or null" in info.value.errors
    assert any("rule 'Absol' names unknown group 'key_trait'" in e for e in info.value.errors)


def test_detection() -> None:
    assert is_seed_data(ARTICLE_STYLE)
    assert is_seed_data({"pokemon_system": ARTICLE_STYLE})
    assert not is_seed_data({"classes": [], "groups": [], "rules": {}})
    assert not is_seed_data({"a": {"b": 1}}) and not is_seed_data([ARTICLE_STYLE])
    assert not is_seed_data({"format": "cotclip.system/1", **ARTICLE_STYLE})
    assert not is_seed_data({"groups": [], **ARTICLE_STYLE})
