"""The data-side steps of the staged proposer (pure functions, no LLM).

* :func:`clean_attributes` validates one class's described attributes (the LLM's
  answer) against its note: phrases the note does not contain become candidate
  options without a rule, never a rule;
* :func:`organize` turns the phrase pool into groups (one per attribute kind), merging
  near-duplicate phrases by text-embedding similarity from the run's own encoder;
* :func:`assign` gives each class the option its own phrase names (exact or merged);
* :func:`ground` drops options the encoder cannot read on train images (no class's
  images favour them, or two options are indistinguishable) and groups left with
  fewer than two options.

Every step returns what it did as short notes for the proposer log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cotclip.optimizer.proposers.repair import normalize_text
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.model import System

__all__ = [
    "ClassPhrase",
    "StagedGroup",
    "clean_attributes",
    "one_rule_per_kind",
    "organize",
    "assign",
    "ground",
    "favoured_options",
    "MAX_PROFILE_CORRELATION",
    "UNSORTED",
    "clean_phrase",
]

#: Options whose similarity profiles over train images correlate above this are indistinguishable.
MAX_PROFILE_CORRELATION = 0.98
#: The kind of a phrase whose kind the LLM did not give (a mined note clause, the tail of a joined phrase).
UNSORTED = ""
_MAX_WORDS = 6
_FILLERS = ("mostly ", "mainly ", "usually ", "often ", "typically ", "generally ", "very ")
_BAD_CHARS = re.compile(r"[{}\[\]<>:=#*_\\|]|\d")


@dataclass(frozen=True)
class ClassPhrase:
    """One phrase about one class: its kind, and whether the class's note contains it."""

    class_name: str
    kind: str
    phrase: str
    from_note: bool


@dataclass(frozen=True)
class StagedGroup:
    """A group in the making: its kind, name, template and options (phrases)."""

    kind: str
    name: str
    prompt: str
    options: tuple[str, ...]
    merged: dict[str, str] = field(default_factory=dict)  # normalized phrase -> option it was merged into


def clean_phrase(phrase: str, class_names: Sequence[str]) -> tuple[str | None, str]:
    """``phrase`` without fillers and edge punctuation, or ``None`` and why it is unusable."""
    text = " ".join(str(phrase).split()).strip(" .,;:'\"")
    lowered = text.lower()
    for filler in _FILLERS:
        if lowered.startswith(filler):
            text, lowered = text[len(filler) :], lowered[len(filler) :]
    if not text:
        return None, "empty phrase"
    if _BAD_CHARS.search(text):
        return None, f"phrase {text!r:.40} has digits or markup"
    if len(text.split()) > _MAX_WORDS:
        return None, f"phrase {text!r:.50} is longer than {_MAX_WORDS} words"
    if any(normalize_text(name) and normalize_text(name) in normalize_text(text).split() for name in class_names):
        return None, f"phrase {text!r:.40} names a class"
    return text, ""


def clean_attributes(
    class_name: str, note: str | None, attributes: Sequence[tuple[str, str]], class_names: Sequence[str]
) -> tuple[list[ClassPhrase], list[str]]:
    """Valid phrases of one class (one per kind, first wins) and notes on what was dropped or flagged.

    A phrase joining clauses with ``;`` is split: the first part keeps the answer's kind,
    the others are :data:`UNSORTED` (their kind is settled by text similarity later).
    """
    kept: list[ClassPhrase] = []
    notes: list[str] = []
    note_text = normalize_text(note or "")
    for kind, raw in _split_joined(attributes):
        phrase, problem = clean_phrase(raw, class_names)
        if phrase is None:
            notes.append(f"{class_name}: {problem}; dropped")
            continue
        from_note = bool(note_text) and normalize_text(phrase) in note_text
        if note_text and not from_note:
            notes.append(f"{class_name}: {phrase!r} is not in its note; kept as an option without a rule")
        kept.append(ClassPhrase(class_name, kind, phrase, from_note or not note_text))
    kept, demoted = one_rule_per_kind(kept)
    notes += [f"{class_name}: second {p.kind} phrase {p.phrase!r} kept as an option without a rule" for p in demoted]
    return kept, notes


def one_rule_per_kind(pool: Sequence[ClassPhrase]) -> tuple[list[ClassPhrase], list[ClassPhrase]]:
    """The pool with only the first rule-worthy phrase of each class and kind left rule-worthy, and the demoted.

    A class has one rule per group, and a kind becomes one group: a second phrase of
    the same kind stays an option without a rule. :data:`UNSORTED` phrases are exempt
    until their kind is known.
    """
    seen: set[tuple[str, str]] = set()
    settled: list[ClassPhrase] = []
    demoted: list[ClassPhrase] = []
    for item in pool:
        key = (item.class_name, item.kind)
        if item.from_note and item.kind != UNSORTED and key in seen:
            item = ClassPhrase(item.class_name, item.kind, item.phrase, False)
            demoted.append(item)
        elif item.from_note:
            seen.add(key)
        settled.append(item)
    return settled, demoted


def _split_joined(attributes: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    split: list[tuple[str, str]] = []
    for kind, raw in attributes:
        parts = [part for part in str(raw).split(";") if part.strip()] or [str(raw)]
        split.append((kind, parts[0]))
        split.extend((UNSORTED, part) for part in parts[1:])
    return split


def _merge_similar(phrases: list[str], embed: Callable[[list[str]], np.ndarray], min_z: float) -> dict[str, str]:
    """Map each phrase to the first earlier phrase it is a near-duplicate of (else to itself).

    Two phrases are near-duplicates when their text cosine under the run's encoder
    stands out from the phrase's cosines with every other phrase of its kind by at
    least ``min_z`` robust standard deviations (median absolute deviation; at least 0.5
    in cosine): absolute thresholds do not carry over between encoders (CLIP puts any
    two colours near 0.8).
    """
    if len(phrases) < 4:
        return {p: p for p in phrases}
    vectors = np.asarray(embed(phrases), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similar = vectors @ vectors.T
    others = similar[~np.eye(len(phrases), dtype=bool)].reshape(len(phrases), -1)
    centre = np.median(others, axis=1)  # robust: one synonym among the others must not hide itself
    spread = np.maximum(1.4826 * np.median(np.abs(others - centre[:, None]), axis=1), 0.02)
    target: dict[str, str] = {}
    for index, phrase in enumerate(phrases):
        earlier = [
            j
            for j in range(index)
            if phrases[j] == target[phrases[j]]
            and similar[index, j] >= 0.5
            and (similar[index, j] - centre[index]) / spread[index] >= min_z
        ]
        target[phrase] = phrases[earlier[0]] if earlier else phrase
    return target


def organize(
    pool: Sequence[ClassPhrase],
    templates: dict[str, tuple[str, str]],
    *,
    embed: Callable[[list[str]], np.ndarray],
    max_groups: int,
    max_options: int,
    merge_z: float = 4.0,
) -> tuple[list[StagedGroup], list[str]]:
    """One group per kind (the kinds that describe most classes first), options by frequency.

    ``templates[kind] = (name, prompt)``. Near-duplicate phrases (see :func:`_merge_similar`)
    become one option.
    """
    notes: list[str] = []
    by_kind: dict[str, dict[str, tuple[str, set[str]]]] = {}
    for item in pool:
        entry = by_kind.setdefault(item.kind, {}).setdefault(normalize_text(item.phrase), (item.phrase, set()))
        if item.from_note:
            entry[1].add(item.class_name)
    ranked_kinds = sorted(by_kind, key=lambda k: (-len(set().union(*(c for _, c in by_kind[k].values()))), k))
    groups: list[StagedGroup] = []
    for kind in ranked_kinds:
        entries = sorted(by_kind[kind].values(), key=lambda e: -len(e[1]))  # stable: first seen wins ties
        phrases = [text for text, _ in entries]
        target = _merge_similar(phrases, embed, merge_z)
        for phrase, kept in target.items():
            if phrase != kept:
                notes.append(f"{kind}: {phrase!r} merged into {kept!r} (text similarity)")
        options = [p for p in phrases if target[p] == p]
        if len(options) > max_options:
            notes.append(f"{kind}: kept the {max_options} most used of {len(options)} phrases")
            options = options[:max_options]
        if len(options) < 2:
            notes.append(f"{kind}: fewer than two distinct phrases; no group")
            continue
        if len(groups) >= max_groups:
            notes.append(f"{kind}: dropped (at most {max_groups} groups)")
            continue
        name, prompt = templates[kind]
        merged = {normalize_text(p): target[p] for p in phrases}
        groups.append(StagedGroup(kind, name, prompt, tuple(options), merged))
    return groups, notes


def assign(
    pool: Sequence[ClassPhrase], groups: Sequence[StagedGroup], classes: Sequence[str]
) -> tuple[dict[str, dict[str, int | None]], list[tuple[str, StagedGroup, str]]]:
    """Rules from each class's own phrases, and the (class, group, phrase) left without an option."""
    rules: dict[str, dict[str, int | None]] = {c: {g.name: None for g in groups} for c in classes}
    unmatched: list[tuple[str, StagedGroup, str]] = []
    for item in pool:
        if not item.from_note:
            continue
        group = next((g for g in groups if g.kind == item.kind), None)
        if group is None:
            continue
        option = group.merged.get(normalize_text(item.phrase), item.phrase)
        index = next((i for i, o in enumerate(group.options) if normalize_text(o) == normalize_text(option)), None)
        if index is None:
            unmatched.append((item.class_name, group, item.phrase))
        elif rules[item.class_name][group.name] is None:
            rules[item.class_name][group.name] = index
    return rules, unmatched


def favoured_options(system: System, train: ImageSet) -> list[set[int]]:
    """Per group, the options some class's train images favour, by raw or by standardised similarity.

    *Raw*: the option with the highest mean cosine over the class's images (what the
    scorer's argmax sees). *Standardised*: each option's cosines z-scored over all
    train images first, so that an option whose wording sits closer to every image
    does not hide one that responds to this class. An option favoured in neither way
    cannot win a rule from the data. Neither test has a threshold that changes with
    the number of images (with many images even random phrases vary by class).
    """
    truth = np.asarray(train.label_indices(system.classes))
    classes = np.unique(truth)
    favoured = []
    for group in system.groups:
        sims = train.averaged_similarities([group.option_texts(i) for i in range(len(group.options))])
        standard = (sims - sims.mean(axis=0)) / np.maximum(sims.std(axis=0), 1e-9)
        chosen = {int(sims[truth == c].mean(axis=0).argmax()) for c in classes}
        chosen |= {int(standard[truth == c].mean(axis=0).argmax()) for c in classes}
        favoured.append(chosen)
    return favoured


def _indistinguishable(sims: np.ndarray, keep: list[int], used: dict[int, int]) -> list[tuple[int, int]]:
    """(dropped, kept) pairs of options whose similarity profiles correlate above the limit."""
    pairs: list[tuple[int, int]] = []
    if len(keep) < 2:
        return pairs
    profiles = sims[:, keep] - sims[:, keep].mean(axis=0)
    profiles /= np.maximum(np.linalg.norm(profiles, axis=0), 1e-12)
    correlation = profiles.T @ profiles
    dropped: set[int] = set()
    order = sorted(range(len(keep)), key=lambda k: -used.get(keep[k], 0))  # the more used option survives
    for a_pos, a in enumerate(order):
        for b in order[a_pos + 1 :]:
            if keep[a] not in dropped and keep[b] not in dropped and correlation[a, b] >= MAX_PROFILE_CORRELATION:
                dropped.add(keep[b])
                pairs.append((keep[b], keep[a]))
    return pairs


def ground(system: System, train: ImageSet) -> tuple[System | None, list[str]]:
    """The system without unreadable or indistinguishable options (rules remapped); None if no group is left.

    An option is unreadable when no class's train images favour it (:func:`favoured_options`);
    a rule on such an option becomes null, for rule fitting to decide from the images.
    """
    notes: list[str] = []
    groups: list[dict[str, Any]] = []
    rules: dict[str, dict[str, int | None]] = {c: {} for c in system.classes}
    for group, favoured in zip(system.groups, favoured_options(system, train)):
        used: dict[int, int] = {}
        for c in system.classes:
            if (r := system.rule(c, group.name)) is not None:
                used[r] = used.get(r, 0) + 1
        keep = [i for i in range(len(group.options)) if i in favoured]
        for i in range(len(group.options)):
            if i not in keep:
                notes.append(f"{group.name}: no class's images favour {group.options[i]!r}; dropped")
        sims = train.averaged_similarities([group.option_texts(i) for i in range(len(group.options))])
        remap = {i: i for i in keep}
        for gone, kept in _indistinguishable(sims, keep, used):
            notes.append(f"{group.name}: {group.options[gone]!r} reads like {group.options[kept]!r}; merged")
            keep.remove(gone)
            remap[gone] = kept
        if len(keep) < 2:
            notes.append(f"{group.name}: fewer than two readable options; group dropped")
            continue
        position = {old: new for new, old in enumerate(keep)}
        groups.append({**group.model_dump(mode="json"), "options": [group.options[i] for i in keep]})
        for c in system.classes:
            old = system.rule(c, group.name)
            rules[c][group.name] = position.get(remap.get(old, -1)) if old is not None else None
    if not groups:
        return None, notes
    return system.evolve(groups=groups, rules=rules), notes
