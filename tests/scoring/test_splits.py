"""Stratified, deterministic splits and their one-line errors."""

from __future__ import annotations

from collections import Counter

import pytest

from cotclip.scoring.splits import Splits, select, split_dataset
from cotclip.systems.errors import DataError

LABELS = ["a"] * 10 + ["b"] * 5 + ["c"] * 3 + ["a", "b"]


def test_splits_partition_every_position_and_stratify() -> None:
    splits = split_dataset(LABELS, (0.6, 0.2, 0.2), seed=0)
    assert sorted(select(splits, "all")) == list(range(len(LABELS)))
    assert len(set(splits.train) | set(splits.val) | set(splits.test)) == len(LABELS)
    counts = {name: Counter(LABELS[p] for p in select(splits, name)) for name in ("train", "val", "test")}
    assert counts["train"] == {"a": 7, "b": 4, "c": 1}
    assert counts["val"] == {"a": 2, "b": 1, "c": 1} and counts["test"] == {"a": 2, "b": 1, "c": 1}
    assert all(part == sorted(part) for part in (splits.train, splits.val, splits.test))


def test_same_seed_same_split_other_seed_other_split() -> None:
    assert split_dataset(LABELS, seed=3) == split_dataset(LABELS, seed=3)
    assert split_dataset(LABELS, seed=3) != split_dataset(LABELS, seed=4)


def test_adding_a_class_leaves_other_classes_alone() -> None:
    before = split_dataset(LABELS, seed=1)
    after = split_dataset(LABELS + ["d"] * 4, seed=1)
    assert before.to_dict() == {name: [p for p in part if p < len(LABELS)] for name, part in after.to_dict().items()}


def test_too_small_classes_are_named_not_dropped() -> None:
    with pytest.raises(DataError, match=r"2 class\(es\).*'c' \(2\), 'd' \(1\); add images"):
        split_dataset(["a"] * 5 + ["c"] * 2 + ["d"], seed=0)


def test_zero_fractions_need_fewer_images() -> None:
    splits = split_dataset(["a", "a", "b", "b"], (0.5, 0.0, 0.5))
    assert splits.val == [] and len(splits.train) == 2 and len(splits.test) == 2


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.5), (0.6, 0.3, 0.3), (0.0, 0.5, 0.5), (1.2, -0.1, -0.1), ("x", 0, 1), (float("nan"), 0, 1)]
)
def test_bad_fractions(fractions: tuple) -> None:
    with pytest.raises(DataError, match="fractions"):
        split_dataset(LABELS, fractions)


def test_select_names() -> None:
    splits = Splits(train=[0, 2], val=[1], test=[3])
    assert select(splits, "val") == [1] and select(splits, "all") == [0, 1, 2, 3]
    assert splits.to_dict() == {"train": [0, 2], "val": [1], "test": [3]}
    with pytest.raises(DataError, match="unknown split 'dev'"):
        select(splits, "dev")
