"""Reviewer edits: every op applies, every bad edit is a one-line EditError and applies nothing."""

from __future__ import annotations

import pytest

from cotclip.optimizer.review.edits import EditError, apply_edits, parse_edits
from cotclip.systems.model import System


@pytest.fixture
def system() -> System:
    return System.from_data(
        {
            "name": "pets",
            "classes": ["cat", "dog", "fox"],
            "groups": [
                {
                    "name": "color",
                    "prompt": "a {} animal",
                    "options": ["red", "blue", "grey"],
                    "extra_prompts": ["its fur is {}"],
                },
                {"name": "size", "prompt": "it is {}", "options": ["small", "large"]},
            ],
            "rules": {"cat": {"color": 2, "size": 0}, "dog": {"color": 1, "size": 1}, "fox": {"color": 0, "size": 0}},
            "provenance": {"parent": "0003", "method": "fit_rules"},
        }
    )


def _apply(system: System, *edits: dict, notes: list[str] | None = None) -> System:
    return apply_edits(system, parse_edits({"edits": list(edits), "notes": notes or []}), parent="0004")


def test_every_op_applies_and_is_recorded(system: System):
    edited = _apply(
        system,
        {"op": "set_rule", "class": "cat", "group": "color", "option": 0},
        {"op": "set_rule", "class": "fox", "group": "size", "option": None},
        {"op": "set_option", "group": "size", "index": 1, "text": "  huge "},
        {"op": "set_template", "group": "color", "template": "a photo of a {} pet"},
        {"op": "set_template", "group": "color", "index": 1, "template": "fur colour: {}"},
        {"op": "lock_rule", "class": "dog", "group": "size"},
        {"op": "lock_group", "group": "color"},
        notes=["cats here are ginger", "  "],
    )
    assert edited.rule("cat", "color") == 0 and edited.rule("fox", "size") is None
    assert edited.group("size").options == ["small", "huge"]
    assert edited.group("color").templates == ["a photo of a {} pet", "fur colour: {}"]
    assert edited.locks.rules == [("dog", "size")] and edited.locks.groups == ["color"]
    assert edited.notes == ["cats here are ginger"]
    assert edited.provenance.method == "human-edit" and edited.provenance.parent == "0004"
    assert len(edited.provenance.details["edits"]) == 7
    assert edited.provenance.details["edits"][0] == {"op": "set_rule", "class": "cat", "group": "color", "option": 0}
    assert edited.provenance.details["notes"] == ["cats here are ginger"]


def test_unlock_removes_locks_and_relocking_does_not_duplicate(system: System):
    locked = _apply(
        system,
        {"op": "lock_rule", "class": "cat", "group": "size"},
        {"op": "lock_rule", "class": "cat", "group": "size"},
        {"op": "lock_group", "group": "size"},
    )
    assert locked.locks.rules == [("cat", "size")] and locked.locks.groups == ["size"]
    unlocked = _apply(
        locked, {"op": "unlock_rule", "class": "cat", "group": "size"}, {"op": "unlock_group", "group": "size"}
    )
    assert unlocked.locks.rules == [] and unlocked.locks.groups == []


def test_a_reviewer_may_edit_locked_items(system: System):
    locked = _apply(system, {"op": "lock_group", "group": "color"})
    assert _apply(locked, {"op": "set_rule", "class": "cat", "group": "color", "option": 1}).rule("cat", "color") == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            {"op": "set_rule", "class": "cat", "group": "color", "option": 3},
            "edit 2 (set_rule): option 3 of group 'color' is out of range; use 0..2",
        ),
        ({"op": "set_rule", "class": "cat", "group": "color", "option": -1}, "out of range"),
        ({"op": "set_rule", "class": "wolf", "group": "color", "option": 0}, "unknown class 'wolf'"),
        (
            {"op": "set_rule", "class": "cat", "group": "shape", "option": 0},
            "unknown group 'shape'; known groups: color, size",
        ),
        ({"op": "set_option", "group": "size", "index": 2, "text": "tiny"}, "option 2 of group 'size' is out of range"),
        ({"op": "set_option", "group": "size", "index": 0, "text": "   "}, "option text is empty"),
        ({"op": "set_option", "group": "size", "index": 0, "text": "Large"}, "duplicates an earlier option"),
        ({"op": "set_template", "group": "size", "template": "no placeholder"}, "exactly one {} placeholder"),
        ({"op": "set_template", "group": "size", "template": "{} and {}"}, "exactly one {} placeholder"),
        (
            {"op": "set_template", "group": "size", "index": 1, "template": "it is {}"},
            "template 1 of group 'size' is out of range",
        ),
        ({"op": "lock_rule", "class": "cow", "group": "size"}, "unknown class 'cow'"),
        ({"op": "lock_group", "group": "mood"}, "unknown group 'mood'"),
    ],
)
def test_bad_edits_raise_one_line_and_change_nothing(system: System, edit: dict, message: str):
    before = system.to_json()
    with pytest.raises(EditError) as caught:
        _apply(system, {"op": "set_rule", "class": "dog", "group": "size", "option": 0}, edit)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert system.to_json() == before


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "expected a mapping"),
        ({"edits": [{"op": "delete_everything"}]}, "edits.0"),
        ({"edits": [{"op": "set_rule", "class": "cat", "group": "color"}]}, "option"),
        ({"edits": [{"op": "set_rule", "class": "cat", "group": "color", "option": "two"}]}, "option"),
        ({"edits": [], "comment": "x"}, "comment"),
        ({"edits": [], "notes": []}, "nothing to save"),
    ],
)
def test_malformed_edit_files_are_one_line_errors(data, message: str):
    with pytest.raises(EditError) as caught:
        parse_edits(data, source="edits.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("edits.yaml")
    assert "\n" not in str(caught.value)


def test_notes_alone_are_a_valid_review(system: System):
    edited = _apply(system, notes=["checked every rule; all fine"])
    assert edited.fingerprint() == system.fingerprint()
    assert edited.notes == ["checked every rule; all fine"]
