"""Structural repair of parsed answers: each fix is applied AND recorded; invalid systems never pass."""

import pytest
from proposer_testing import reply

from cotclip.optimizer.proposers.repair import (
    UnusableAnswerError,
    add_rules,
    draft_to_system,
    parse_answer,
    read_draft,
)

CLASSES = ["cat", "dog", "parrot"]


def draft_of(data, classes=CLASSES, max_groups=5, max_options=8):
    return read_draft(data, classes, max_groups=max_groups, max_options=max_options)


def group(name="color", prompt="It is {}.", options=("red", "blue", "green")):
    return {"name": name, "prompt": prompt, "options": list(options)}


def test_good_answer_in_the_dspy_wrapper_needs_no_repair():
    draft = draft_of(parse_answer(reply("good_answer")).data)
    assert [g.name for g in draft.groups] == ["dominant_color", "body"]
    assert draft.rules["parrot"] == {"dominant_color": 2, "body": 1}
    assert draft.repairs == () and draft.missing_classes == ()


def test_seed_article_format_with_indices_is_accepted():
    draft = draft_of(parse_answer(reply("python_dict_comments")).data)
    system = draft_to_system(draft, CLASSES, name="c", provenance={"method": "llm-propose"})
    assert system.rule("dog", "dominant_color") == 1
    assert system.group("body").options == ["furry", "feathered"]


def test_indices_as_strings_case_and_out_of_range_are_fixed_and_recorded():
    draft = draft_of(parse_answer(reply("indices_as_strings")).data)
    assert draft.rules["cat"] == {"dominant_color": 0, "body": 0}  # class 'Cat' matched
    assert draft.rules["dog"]["body"] == 0  # 'FURRY' matched 'furry'
    assert draft.rules["parrot"]["body"] is None  # index 7 out of range
    text = "\n".join(draft.repairs)
    for expected in ("'Cat' matched 'cat'", "index given as text", "ignoring case", "index 7 out of range"):
        assert expected in text


def test_duplicate_options_are_merged_and_rules_remapped():
    data = {
        "groups": [group(options=["red", "Red ", "blue"])],
        "rules": {"cat": {"color": 1}, "dog": {"color": 2}, "parrot": {"color": "RED"}},
    }
    draft = draft_of(data)
    assert draft.groups[0].options == ("red", "blue")
    assert draft.rules == {"cat": {"color": 0}, "dog": {"color": 1}, "parrot": {"color": 0}}
    assert any("duplicate option" in r for r in draft.repairs)


def test_template_without_placeholder_rejects_the_group_and_its_rules():
    data = {
        "groups": [group(), group("shape", "It is round", ["round", "flat"])],
        "rules": {c: {"color": 0, "shape": 0} for c in CLASSES},
    }
    draft = draft_of(data)
    assert [g.name for g in draft.groups] == ["color"]
    assert any("'shape': rejected" in r for r in draft.repairs)
    assert not any("unknown group 'shape'" in r for r in draft.repairs)


def test_named_placeholder_becomes_braces():
    draft = draft_of({"groups": [group(prompt="It is mainly {color}.")], "rules": {}})
    assert draft.groups[0].prompt == "It is mainly {}."
    assert draft.missing_classes == tuple(CLASSES)


def test_unknown_classes_groups_and_option_texts_are_dropped():
    data = {
        "groups": [group()],
        "rules": {"cat": {"color": "purple", "size": 0}, "unicorn": {"color": 0}, "dog": {"color": "It is blue."}},
    }
    draft = draft_of(data)
    assert draft.rules["cat"] == {"color": None}
    assert draft.rules["dog"] == {"color": 1}  # the filled sentence contains 'blue'
    text = "\n".join(draft.repairs)
    assert "unknown option 'purple'" in text and "unknown group 'size'" in text and "'unicorn'" in text


def test_rules_as_records_and_as_positional_lists():
    records = {
        "groups": [group(), group("size", "It is {}.", ["big", "small"])],
        "rules": [
            {"class_name": "cat", "choices": [{"group": "color", "option": "red"}]},
            {"class": "dog", "answers": {"color": 1, "size": 0}},
            {"name": "parrot", "rules": [2, 1]},
        ],
    }
    draft = draft_of(records)
    assert draft.rules["cat"] == {"color": 0}
    assert draft.rules["dog"] == {"color": 1, "size": 0}
    assert draft.rules["parrot"] == {"color": 2, "size": 1}
    assert any("group order" in r for r in draft.repairs)


def test_size_limits_cut_groups_and_options_and_null_rules_to_cut_options():
    data = {
        "groups": [group(options=["a", "b", "c", "d"]), group("x"), group("y")],
        "rules": {"cat": {"color": 3}, "dog": {"color": 0}, "parrot": {"color": 1}},
    }
    draft = draft_of(data, max_groups=2, max_options=3)
    assert [g.name for g in draft.groups] == ["color", "x"]
    assert draft.groups[0].options == ("a", "b", "c")
    assert draft.rules["cat"]["color"] is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"groups": []},
        {"groups": [group(options=["only"])]},
        {"groups": "colors"},
        {"groups": [group(prompt="no slot")]},
    ],
)
def test_no_usable_group_is_unusable_with_a_reason_to_feed_back(data):
    with pytest.raises(UnusableAnswerError, match="no usable group"):
        draft_of(data)


def test_missing_classes_are_completed_by_a_second_answer_then_nulled():
    draft = draft_of(parse_answer(reply("missing_classes")).data)
    assert draft.missing_classes == ("dog", "parrot")
    completed = add_rules(
        draft, parse_answer('{"rules": {"dog": [{"group": "dominant_color", "option": "gray"}]}}').data
    )
    assert completed.rules["dog"] == {"dominant_color": 1}
    assert completed.missing_classes == ("parrot",)
    system = draft_to_system(completed, CLASSES, name="c", provenance={"method": "llm-propose"})
    assert system.rule("parrot", "dominant_color") is None
    repairs = system.provenance.details["repairs"]
    assert any("asked again" in r for r in repairs) and any("no rules for 'parrot'" in r for r in repairs)


def test_the_real_smollm2_reply_repairs_into_a_valid_system():
    draft = draft_of(parse_answer(reply("smollm2_copied_example")).data)
    system = draft_to_system(draft, CLASSES, name="c", provenance={"method": "llm-propose"})
    assert system.classes == CLASSES
    assert system.rule("cat", "dominant_color") == 0
    assert any("unknown group 'dog'" in r for r in system.provenance.details["repairs"])


def test_options_that_copy_the_template_are_dropped():
    data = {
        "groups": [group(options=["red", "It is {}.", "blue"])],
        "rules": {"cat": {"color": 1}, "dog": {"color": 2}, "parrot": {"color": 0}},
    }
    draft = draft_of(data)
    assert draft.groups[0].options == ("red", "blue")
    assert draft.rules["cat"]["color"] is None and draft.rules["dog"]["color"] == 1
    assert any("holds a placeholder" in r for r in draft.repairs)
