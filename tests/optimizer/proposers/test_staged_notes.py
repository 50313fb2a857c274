"""Note mining and kind sorting for the staged proposer: clauses the LLM left out, joined phrases, unsorted kinds."""

from __future__ import annotations

import zlib

import numpy as np

from cotclip.optimizer.proposers.staged_notes import kinds_by_frame, mine_note, note_clauses, route_kinds
from cotclip.optimizer.proposers.staged_stages import UNSORTED, ClassPhrase, clean_attributes

CLASSES = ["Ada", "Bo", "Cy", "Di"]


def _random_embed(texts):
    """Uninformative text vectors: only the shared frame words can sort phrases."""
    return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=16) for t in texts])


def test_note_clauses_split_at_semicolons_sentences_and_lines():
    assert note_clauses("Mostly red; looks like a fox. Pictured against a cave\nlanky in build.") == [
        "Mostly red",
        "looks like a fox",
        "Pictured against a cave",
        "lanky in build",
    ]
    assert note_clauses(None) == [] and note_clauses("  ") == []
    assert note_clauses("a 2.5 m tall tree") == ["a 2.5 m tall tree"]  # a decimal point is no sentence end


def test_clauses_the_answer_left_out_are_mined_as_unsorted_rule_phrases():
    note = "Mostly red; looks like a fox; usually pictured against a cave; notable for a very long and curly tail"
    kept = [ClassPhrase("Ada", "color", "red", True)]
    mined, notes = mine_note("Ada", note, kept, CLASSES)
    assert [(p.kind, p.phrase, p.from_note) for p in mined] == [
        (UNSORTED, "looks like a fox", True),
        (UNSORTED, "pictured against a cave", True),
    ]
    assert any("longer than" in n for n in notes)  # the 8-word clause is not used, and the log says why
    assert mine_note("Ada", "red", kept, CLASSES) == ([], [])


def test_a_joined_phrase_is_split_and_its_tail_left_unsorted():
    kept, _ = clean_attributes("Ada", "red; looks like a fox", [("color", "red; looks like a fox")], CLASSES)
    assert [(p.kind, p.phrase, p.from_note) for p in kept] == [
        ("color", "red", True),
        (UNSORTED, "looks like a fox", True),
    ]


def test_phrases_sharing_a_frame_get_one_kind_named_after_the_frames_words():
    # a small LLM's kinds: scattered, and "its body surface is ..." filed as background
    pool = [
        ClassPhrase(c, kind, f"pictured against a {place}", True)
        for c, kind, place in zip(
            CLASSES, ["color", "background", "shape", "background"], ["cave", "desert", "swamp", "lake"]
        )
    ]
    pool += [
        ClassPhrase(c, "background", f"its body surface is {s}", True)
        for c, s in zip(CLASSES, ["furry", "slimy", "scaly"])
    ]
    pool += [
        ClassPhrase(c, "color", f"{build} in build", True) for c, build in zip(CLASSES, ["lanky", "round", "flat"])
    ]
    pool += [
        ClassPhrase("Di", UNSORTED, "squat in build", True),
        ClassPhrase("Ada", "color", "red", True),
        ClassPhrase("Bo", "background", "a glowing aura", True),
    ]
    framed, notes = kinds_by_frame(pool)
    kinds = {p.phrase: p.kind for p in framed}
    assert {kinds[f"pictured against a {p}"] for p in ["cave", "desert", "swamp", "lake"]} == {"background"}  # votes
    assert {kinds[f"its body surface is {s}"] for s in ["furry", "slimy", "scaly"]} == {
        "texture"
    }  # "what its surface is like"
    assert {kinds[f"{b} in build"] for b in ["lanky", "round", "flat", "squat"]} == {
        "shape"
    }  # "its body shape or build"
    assert kinds["red"] == "color"  # no frame: the LLM's kind stands
    # the other phrase the LLM called background keeps a group of its own rather than join the frame's
    assert kinds["a glowing aura"] not in {"background", "texture", "shape", "color"}
    assert any("kept together" in n for n in notes)


def test_frameless_unsorted_phrases_join_the_kind_they_read_most_like():
    colours, animals = ["red", "teal", "navy", "plum", "gold"], ["a fox", "a crab", "a newt", "a wren", "a mole"]

    def embed(texts):  # a text encoder that puts colours together and animals together
        return np.stack(
            [
                np.r_[
                    1.0 if t in colours + ["rust"] else 0.0,
                    1.0 if t in animals + ["a yak"] else 0.0,
                    0.01 * _random_embed([t])[0],
                ]
                for t in texts
            ]
        )

    pool = [ClassPhrase(f"C{i}", "color", c, True) for i, c in enumerate(colours)]
    pool += [ClassPhrase(f"C{i}", "resembles", a, True) for i, a in enumerate(animals)]
    pool += [ClassPhrase("C9", UNSORTED, "rust", True), ClassPhrase("C8", UNSORTED, "a yak", True)]
    routed, notes = route_kinds(pool, embed)
    kinds = {p.phrase: p.kind for p in routed}
    assert kinds["rust"] == "color" and kinds["a yak"] == "resembles"
    assert sum("sorted as" in n for n in notes) == 2


def test_an_unsorted_phrase_that_reads_like_no_kind_is_dropped():
    colours, animals = ["red", "teal", "navy", "plum", "gold"], ["a fox", "a crab", "a newt", "a wren", "a mole"]

    def embed(texts):  # colours on one axis, animals on another, the stray phrase on a third
        return np.stack([np.r_[float(t in colours), float(t in animals), float(t == "quickly")] for t in texts])

    pool = [ClassPhrase(f"C{i}", "color", c, True) for i, c in enumerate(colours)]
    pool += [ClassPhrase(f"C{i}", "resembles", a, True) for i, a in enumerate(animals)]
    pool += [ClassPhrase("C9", UNSORTED, "quickly", True)]
    routed, notes = route_kinds(pool, embed)
    assert "quickly" not in {p.phrase for p in routed} and len(routed) == 10
    assert any("'quickly' reads like no kind" in n for n in notes)


def test_unsorted_phrases_are_dropped_when_fewer_than_two_kinds_are_known():
    pool = [ClassPhrase("Ada", "color", "red", True), ClassPhrase("Bo", UNSORTED, "a fox", True)]
    routed, notes = route_kinds(pool, _random_embed)
    assert routed == pool[:1] and "fewer than two kinds" in notes[0]
