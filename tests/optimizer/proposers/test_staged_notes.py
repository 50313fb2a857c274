"""Note mining and kind sorting for the staged proposer: clauses the LLM left out, joined phrases, unsorted kinds."""

from __future__ import annotations

import numpy as np

from cotclip.optimizer.proposers.staged_notes import mine_note, note_clauses, route_kinds
from cotclip.optimizer.proposers.staged_stages import UNSORTED, ClassPhrase, clean_attributes

CLASSES = ["Ada", "Bo", "Cy", "Di"]


def _random_embed(texts):
    """Uninformative text vectors: only the shared frame words can sort phrases."""
    return np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=16) for t in texts])


def test_note_clauses_split_at_semicolons_sentences_and_lines():
    assert note_clauses("Mostly red; looks like a fox. Pictured against a cave\nlanky in build.") == [
        "Mostly red", "looks like a fox", "Pictured against a cave", "lanky in build"]
    assert note_clauses(None) == [] and note_clauses("  ") == []
    assert note_clauses("a 2.5 m tall tree") == ["a 2.5 m tall tree"]  # a decimal point is no sentence end


def test_clauses_the_answer_left_out_are_mined_as_unsorted_rule_phrases():
    note = "Mostly red; looks like a fox; usually pictured against a cave; notable for a very long and curly tail"
    kept = [ClassPhrase("Ada", "color", "red", True)]
    mined, notes = mine_note("Ada", note, kept, CLASSES)
    assert [(p.kind, p.phrase, p.from_note) for p in mined] == [
        (UNSORTED, "looks like a fox", True), (UNSORTED, "pictured against a cave", True)]
    assert any("longer than" in n for n in notes)  # the 8-word clause is not used, and the log says why
    assert mine_note("Ada", "red", kept, CLASSES) == ([], [])


def test_a_joined_phrase_is_split_and_its_tail_left_unsorted():
    kept, _ = clean_attributes("Ada", "red; looks like a fox", [("color", "red; looks like a fox")], CLASSES)
    assert [(p.kind, p.phrase, p.from_note) for p in kept] == [("color", "red", True),
                                                             (UNSORTED, "looks like a fox", True)]


def test_unsorted_phrases_join_the_kind_whose_frame_words_they_share():
    pool = [ClassPhrase(c, "background", f"pictured against a {place}", True)
            for c, place in zip(CLASSES, ["cave", "desert", "swamp", "lake"])]
    pool += [ClassPhrase(c, "shape", f"{build} in build", True) for c, build in zip(CLASSES, ["lanky", "round", "flat"])]
    pool += [ClassPhrase("Di", UNSORTED, "pictured against a forest", True),
             ClassPhrase("Di", UNSORTED, "squat in build", True),
             ClassPhrase("Cy", UNSORTED, "pictured against a glacier", True)]
    routed, notes = route_kinds(pool, _random_embed)
    kinds = {p.phrase: (p.kind, p.from_note) for p in routed}
    assert kinds["pictured against a forest"] == ("background", False)  # Di already has a background rule
    assert kinds["squat in build"] == ("shape", True)
    assert kinds["pictured against a glacier"] == ("background", False)  # so has Cy
    assert all(p.kind != UNSORTED for p in routed)
    assert sum("sorted as" in n for n in notes) == 3


def test_unsorted_phrases_are_dropped_when_fewer_than_two_kinds_are_known():
    pool = [ClassPhrase("Ada", "color", "red", True), ClassPhrase("Bo", UNSORTED, "a fox", True)]
    routed, notes = route_kinds(pool, _random_embed)
    assert routed == pool[:1] and "fewer than two kinds" in notes[0]
