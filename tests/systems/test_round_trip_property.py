"""Random valid systems survive the json, yaml and seed-json round trips (property-style)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from cotclip.systems import System, dump_system, load_system
from cotclip.systems.seed_format import LAYOUT_KEY

# Words that YAML or JSON would misread if written unquoted, plus non-ASCII.
_TRICKY = ["null", "yes", "No", "1.5", "0x1F", "~", "- dash", "a: b", "#hash", " padded ", "é ’ δ", "[x]", "'q'"]


def _word(rng: random.Random, taken: set[str]) -> str:
    while True:
        if rng.random() < 0.3:
            word = rng.choice(_TRICKY)
        else:
            word = "".join(rng.choices("abcdefghij xyzδ\"", k=rng.randint(1, 8)))
        if word.strip() and word.strip().lower() not in taken:
            taken.add(word.strip().lower())
            return word


def _random_system(rng: random.Random) -> System:
    classes = [_word(rng, set()) for _ in range(1)]
    names: set[str] = {c.strip().lower() for c in classes}
    classes += [_word(rng, names) for _ in range(rng.randint(1, 6))]
    group_names: set[str] = set()
    groups = []
    for _ in range(rng.randint(1, 4)):
        options: set[str] = set()
        groups.append(
            {
                "name": _word(rng, group_names),
                "prompt": f"{_word(rng, set())} {{}}",
                "options": [_word(rng, options) for _ in range(rng.randint(1, 5))],
                "weight": rng.choice([1.0, 0.5, 2.0, 0.0]),
                "extra_prompts": [f"{{}} {_word(rng, set())}" for _ in range(rng.randint(0, 2))],
            }
        )
    rules = {
        c: {g["name"]: rng.choice([None, *range(len(g["options"]))]) for g in groups if rng.random() < 0.9}
        for c in classes
    }
    data: dict[str, Any] = {"name": _word(rng, set()), "classes": classes, "groups": groups, "rules": rules}
    if rng.random() < 0.5:
        data["scoring"] = {
            "temperature": rng.choice([0.01, 1.0, 0.07]),
            "aggregation": rng.choice(["prob_sum", "log_prob_sum"]),
            "name_prior_weight": rng.choice([0.0, 0.3]),
        }
    if rng.random() < 0.5:
        data["locks"] = {"groups": [groups[0]["name"]], "rules": [[classes[0], groups[-1]["name"]]]}
        data["notes"] = [_word(rng, set())]
        data["provenance"] = {"parent": "f" * 8, "method": "revise", "details": {"move": _word(rng, set())}}
    return System.from_data(data)


@pytest.mark.parametrize("seed", range(40))
def test_random_systems_round_trip(seed: int) -> None:
    system = _random_system(random.Random(seed))
    for fmt in ("json", "yaml"):
        assert load_system(dump_system(system, fmt)) == system, fmt

    seed_text = dump_system(system, "seed-json")
    back = load_system(seed_text)
    layout = back.provenance.details[LAYOUT_KEY]
    details = {k: v for k, v in back.provenance.details.items() if k != LAYOUT_KEY}
    assert back.evolve(provenance=back.provenance.model_copy(update={"details": details})) == system
    assert dump_system(back, "seed-json") == seed_text
    assert json.loads(seed_text).keys() >= {"classification_cot", layout["rules_key"]}
    assert load_system(dump_system(back, "yaml")) == back  # the recorded layout survives YAML too
