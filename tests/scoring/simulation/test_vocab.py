"""The built-in vocabularies: unambiguous phrases that templates never contain by accident."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from cotclip.scoring.simulation.text import normalize_text
from cotclip.scoring.simulation.vocab import VOCABULARIES, fantasy_names


def _all_forms() -> list[str]:
    return [normalize_text(form) for v in VOCABULARIES.values() for row in v.values for form in row]


def test_every_surface_form_means_one_value():
    repeated = [form for form, count in Counter(_all_forms()).items() if count > 1]
    assert repeated == []


def test_no_template_or_note_clause_contains_a_known_phrase():
    any_form = re.compile("|".join(rf"(?<!\w){re.escape(f)}(?!\w)" for f in _all_forms()))
    for vocab in VOCABULARIES.values():
        for text in (vocab.prompt, vocab.note_clause):
            assert any_form.search(normalize_text(text)) is None, (vocab.group, text)
        assert vocab.prompt.count("{}") == 1 and vocab.note_clause.count("{}") == 1


def test_each_value_has_three_forms_and_groups_have_enough_values():
    for vocab in VOCABULARIES.values():
        assert all(len(row) == 3 for row in vocab.values), vocab.group
        assert len(vocab.values) >= 8


def test_fantasy_names_are_distinct_capitalised_and_avoid_excluded_words():
    names = fantasy_names(500, np.random.default_rng(1), exclude=frozenset(_all_forms()))
    assert len(set(names)) == 500
    assert all(name[0].isupper() and name.isalpha() for name in names)
    assert not set(n.lower() for n in names) & set(_all_forms())
