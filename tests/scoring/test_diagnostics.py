"""Diagnostics on a hand-built ImageSet whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.systems.errors import DataError
from cotclip.systems.model import System


class AxisEncoder:
    """Text i of a fixed vocabulary embeds as the unit vector e_i (an image's row says which it matches)."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.vocabulary = vocabulary
        self.calls = 0

    identity = "axis-test"

    @property
    def dim(self) -> int:
        return len(self.vocabulary)

    def encode_texts(self, texts):
        self.calls += len(texts)
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            rows[row, self.vocabulary.index(text)] = 1.0
        return rows

    def encode_images(self, images):  # pragma: no cover - never called: embeddings are given
        raise NotImplementedError


COLOR = ["it is red", "it is blue", "it is green"]
SHAPE = ["shaped round", "shaped long"]


def image(color: int, shape: int) -> np.ndarray:
    row = np.zeros(len(COLOR) + len(SHAPE), dtype=np.float32)
    row[color] = 1.0
    row[len(COLOR) + shape] = 1.0
    return row


def make_system(rules, classes=("a", "b", "c")) -> System:
    return System.from_data(
        {
            "classes": list(classes),
            "groups": [
                {"name": "color", "prompt": "it is {}", "options": ["red", "blue", "green"]},
                {"name": "shape", "prompt": "shaped {}", "options": ["round", "long"]},
            ],
            "rules": rules,
            "scoring": {"temperature": 0.1},
        }
    )


@pytest.fixture()
def images() -> ImageSet:
    # a: 4 images red/round; b: 3 blue/round + 1 green/round; c: 4 blue/long.
    rows = [image(0, 0)] * 4 + [image(1, 0)] * 3 + [image(2, 0)] + [image(1, 1)] * 4
    labels = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    return ImageSet(np.stack(rows), labels, PromptEmbedder(AxisEncoder(COLOR + SHAPE)))


def test_correct_rules_give_full_agreement_and_no_disagreement(images):
    system = make_system({"a": {"color": 0, "shape": 0}, "b": {"color": 1, "shape": 0}, "c": {"color": 1, "shape": 1}})
    result = diagnose(system, images)
    assert result.n == 12
    assert result.rule_agreement["a"] == {"color": 1.0, "shape": 1.0}
    assert result.rule_agreement["b"]["color"] == 0.75
    assert result.group_reliability == {"color": 11 / 12, "shape": 1.0}
    assert result.disagreeing_rules == []
    assert result.identical_signatures == []
    assert result.unused_options == {"color": ["green"]}
    assert result.per_class["a"] == 1.0 and result.accuracy >= 11 / 12


def test_a_wrong_rule_shows_as_disagreement_confusion_and_identical_signature(images):
    # b's color rule says red although its images answer blue: a and b become identical.
    system = make_system({"a": {"color": 0, "shape": 0}, "b": {"color": 0, "shape": 0}, "c": {"color": 1, "shape": 1}})
    result = diagnose(system, images)
    assert ("b", "color", 0, 1, 0.75) in result.disagreeing_rules
    assert result.rule_agreement["b"]["color"] == 0.0
    assert result.identical_signatures == [["a", "b"]]
    assert result.unused_options == {"color": ["green"]}
    # a and b tie on every image of a and b; ties go to the first class, a.
    assert result.per_class["b"] == 0.0
    assert result.confusions[0] == ("b", "a", 4)
    assert result.to_dict()["disagreeing_rules"][0] == ["b", "color", 0, 1, 0.75]


def test_null_rules_are_left_out_of_agreement(images):
    system = make_system(
        {"a": {"color": 0, "shape": None}, "b": {"color": 1, "shape": 0}, "c": {"color": 1, "shape": 1}}
    )
    result = diagnose(system, images)
    assert "shape" not in result.rule_agreement["a"]
    assert result.group_reliability["shape"] == 1.0


def test_labels_outside_the_system_are_a_data_error(images):
    system = make_system({"a": {"color": 0, "shape": 0}, "b": {"color": 1, "shape": 0}}, classes=("a", "b"))
    with pytest.raises(DataError, match="'c'"):
        diagnose(system, images)
