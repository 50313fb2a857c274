"""Reading raw LLM text into a mapping: every accepted form and every refusal."""

import pytest
from proposer_testing import reply

from cotclip.optimizer.proposers.repair import UnusableAnswerError, parse_answer


def test_plain_json_needs_no_repair():
    parsed = parse_answer('{"a": 1, "b": [1, 2]}')
    assert parsed.data == {"a": 1, "b": [1, 2]}
    assert parsed.repairs == ()


def test_python_dict_with_comments_in_a_fence_is_read_without_eval():
    parsed = parse_answer(reply("python_dict_comments"))
    assert parsed.data["rules"]["parrot"] == {"dominant_color": 2, "body": 1}
    assert parsed.data["classification_groups"]["body"]["options"] == ["furry", "feathered"]
    assert any("comments" in r for r in parsed.repairs)
    assert any("Python dict" in r for r in parsed.repairs)
    assert any("prose or markdown" in r for r in parsed.repairs)


def test_json_literals_and_trailing_commas_in_python_text():
    parsed = parse_answer("{'a': true, 'b': null, 'c': [false,],}")
    assert parsed.data == {"a": True, "b": None, "c": [False]}


def test_quotes_and_hashes_inside_strings_are_not_comments():
    parsed = parse_answer('{"a": "it\'s # not a comment", "b": "x // y"}  # real comment')
    assert parsed.data == {"a": "it's # not a comment", "b": "x // y"}


def test_apostrophe_inside_a_comment_does_not_open_a_string():
    parsed = parse_answer("{\n 'a': 1,  # the cat's colour\n 'b': 2\n}")
    assert parsed.data == {"a": 1, "b": 2}


def test_prose_around_json_is_dropped():
    parsed = parse_answer(reply("prose_around_json"))
    assert set(parsed.data) == {"groups", "rules"}
    assert parsed.repairs


def test_truncated_answer_is_completed_dropping_the_unfinished_value():
    parsed = parse_answer(reply("truncated"))
    rules = parsed.data["answer"]["rules"]
    assert rules["cat"][1] == {"group": "body", "option": "furry"}
    assert rules["dog"][0] == {"group": "dominant_color", "option": "gray"}
    assert "fur" not in str(rules["dog"][1:])  # the half-written value is dropped, not kept
    assert any("truncated" in r for r in parsed.repairs)


def test_truncated_inside_a_key_falls_back_to_the_last_complete_item():
    parsed = parse_answer('{"groups": [{"name": "a", "options": ["x", "y"]}, {"na')
    assert parsed.data["groups"][0] == {"name": "a", "options": ["x", "y"]}


@pytest.mark.parametrize("text", ["", "   ", "no json here at all", "[1, 2, 3]", '{"a": }'])
def test_unusable_text_raises_with_a_reason(text):
    with pytest.raises(UnusableAnswerError, match="JSON|empty"):
        parse_answer(text)


def test_code_is_never_executed():
    with pytest.raises(UnusableAnswerError):
        parse_answer("{'a': __import__('os').system('echo pwned')}")
