"""What a class's note says, whether or not the LLM repeated it, and which kind each phrase is.

A small LLM under-extracts (two of a note's five clauses), joins clauses ("red; looks
like a caterpillar") and files phrases under the wrong kind ("looks like a fox" as a
colour). The note itself is data, so:

* :func:`mine_note` adds every clause of a class's note that no phrase of the LLM's
  answer covers, as a phrase of kind :data:`UNSORTED`;
* :func:`route_kinds` gives each unsorted phrase the kind whose phrases it reads most
  like: under the run's own text encoder, and by the frame words it shares with them
  ("pictured against ...", "... in build") where several classes' phrases share one
  (on replayed Qwen2.5-Coder-0.5B answers for ``menagerie``, the first fitted proposal's
  val accuracy was 41.9% without mining, 65.9% with mining sorted by the encoder alone,
  74.5% with the frame words too).
  A phrase less typical of its nearest kind than nine in ten of that kind's own
  phrases is dropped (typicality is measured against each kind's members, so no
  absolute cosine threshold is carried between encoders).

The kinds the LLM gave are kept: moving them by similarity (k-means from the LLM's
kinds, or moving only atypical phrases) was measured on replayed Qwen2.5-Coder-0.5B
answers and on scripted perfect answers, and gained nothing on the first and lost
accuracy on the second.

Rules stay one per (class, kind): after routing, the first phrase of a class in a kind
keeps its rule and later ones become options without a rule.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from cotclip.optimizer.proposers.repair import normalize_text
from cotclip.optimizer.proposers.staged_signatures import KINDS
from cotclip.optimizer.proposers.staged_stages import UNSORTED, ClassPhrase, clean_phrase, one_rule_per_kind

__all__ = ["UNSORTED", "note_clauses", "mine_note", "kinds_by_frame", "route_kinds"]

_CLAUSE_BREAKS = re.compile(r"[;\n]|\.(?:\s|$)")


def note_clauses(note: str | None) -> list[str]:
    """The clauses of a note (split at ``;``, sentence ends and line breaks), as written."""
    return [part.strip() for part in _CLAUSE_BREAKS.split(note or "") if part.strip()]


def _covered(clause: str, phrases: Sequence[str]) -> bool:
    """Whether one of ``phrases`` is inside ``clause`` or the other way round, on word boundaries."""
    text = f" {normalize_text(clause)} "
    padded = (f" {normalize_text(q)} " for q in phrases)
    return any(p.strip() and (p in text or text in p) for p in padded)


def mine_note(
    class_name: str, note: str | None, kept: Sequence[ClassPhrase], class_names: Sequence[str]
) -> tuple[list[ClassPhrase], list[str]]:
    """Unsorted phrases for the clauses of ``note`` that none of ``kept`` covers, and notes on them."""
    mined: list[ClassPhrase] = []
    notes: list[str] = []
    said = [p.phrase for p in kept]
    for clause in note_clauses(note):
        if _covered(clause, said):
            continue
        phrase, problem = clean_phrase(clause, class_names)
        if phrase is None:
            notes.append(f"{class_name}: note clause not used ({problem})")
            continue
        mined.append(ClassPhrase(class_name, UNSORTED, phrase, True))
        said.append(phrase)
    if mined:
        notes.append(
            f"{class_name}: {len(mined)} note clause(s) the answer left out, added: "
            + ", ".join(repr(p.phrase) for p in mined)
        )
    return mined, notes


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _edges(text: str) -> list[str]:
    """A phrase's edge words: its first and last word (with the next one when it is short, like "a" or "its")."""
    words = normalize_text(text).split()
    if len(words) < 2:
        return []
    first = words[0] if len(words[0]) >= 4 else " ".join(words[:2])
    last = words[-1] if len(words[-1]) >= 4 else " ".join(words[-2:])
    return [f"^{first}", f"{last}$"]


def _edge_members(pool: Sequence[ClassPhrase]) -> dict[str, list[int]]:
    """Edge word -> the positions in ``pool`` of the phrases that have it."""
    members: dict[str, list[int]] = {}
    for index, item in enumerate(pool):
        for edge in _edges(item.phrase):
            members.setdefault(edge, []).append(index)
    return members


def _frames(texts: list[str], pool: Sequence[ClassPhrase], min_classes: int = 3) -> np.ndarray:
    """Unit rows of each phrase's shared frame words: its edge words where several classes use them."""
    members = _edge_members(pool)
    shared = sorted(e for e, rows in members.items() if len({pool[i].class_name for i in rows}) >= min_classes)
    column = {e: j for j, e in enumerate(shared)}
    frames = np.zeros((len(texts), len(shared)))
    for i, text in enumerate(texts):
        for edge in _edges(text):
            if edge in column:
                frames[i, column[edge]] = 1.0
    return _unit(frames) if shared else frames


def _kind_scores(vectors: np.ndarray, labels: list[str], kinds: list[str]) -> np.ndarray:
    """``[phrase, kind]`` cosine to the kind's centroid, leaving the phrase itself out of its own kind's."""
    scores = np.full((len(labels), len(kinds)), -np.inf)
    for k, kind in enumerate(kinds):
        members = {i for i, label in enumerate(labels) if label == kind}
        total = vectors[sorted(members)].sum(axis=0)
        for i in range(len(labels)):
            own = i in members
            if own and len(members) == 1:
                continue
            centroid = (total - vectors[i]) if own else total
            scores[i, k] = float(vectors[i] @ centroid) / max(float(np.linalg.norm(centroid)), 1e-12)
    return scores


def _typical(scores: np.ndarray, labels: list[str], kinds: list[str], quantile: float) -> np.ndarray:
    """Per kind, the score a phrase needs to join it: the ``quantile`` of its own members' scores,
    or, if lower, halfway between its members' and its outsiders' median scores.

    The halfway bar matters for a tight kind: there the quantile sits a hair below its
    members, and a phrase that reads exactly like them would fall under it by noise alone.
    """
    bars = np.full(len(kinds), np.inf)
    for k, kind in enumerate(kinds):
        column = scores[:, k]
        own = [column[i] for i, label in enumerate(labels) if label == kind and np.isfinite(column[i])]
        others = [column[i] for i, label in enumerate(labels) if label not in (kind, UNSORTED)]
        if own:
            bars[k] = float(np.quantile(own, quantile))
        if own and others:
            bars[k] = min(bars[k], (float(np.median(own)) + float(np.median(others))) / 2)
    return bars


def kinds_by_frame(pool: Sequence[ClassPhrase], share: float = 0.3) -> tuple[list[ClassPhrase], list[str]]:
    """Phrases sharing a frame (an edge word used by ``share`` of the classes, at least 3) get one kind.

    The frame's kind is the one most of its phrases were given and no larger frame took
    (else a kind no phrase was given), so two frames never share a group: a note
    grammar's frames ("pictured against ...", "... in build") are more reliable than a
    small LLM's kind for each phrase. Phrases without a frame keep theirs.
    """
    classes = {p.class_name for p in pool}
    members = _edge_members(pool)
    needed = max(3, share * len(classes))
    frames = sorted(
        (e for e, rows in members.items() if len({pool[i].class_name for i in rows}) >= needed),
        key=lambda e: (-len(members[e]), e),
    )
    kinds = [p.kind for p in pool]
    spare = [k for k in KINDS if k not in set(kinds)]
    taken: set[str] = set()
    framed: set[int] = set()
    notes: list[str] = []
    for edge in frames:
        rows = [i for i in members[edge] if i not in framed]
        kind = _frame_kind([pool[i] for i in rows], taken, spare)
        if kind is None or len(rows) < needed:
            continue
        if kind in spare:
            spare.remove(kind)
        taken.add(kind)
        framed.update(rows)
        changed = sum(kinds[i] != kind for i in rows)
        for i in rows:
            kinds[i] = kind
        notes.append(f"frame {edge!r}: {len(rows)} phrase(s) as {kind} ({changed} changed)")
    notes += _move_displaced(pool, kinds, framed)
    framed_pool = [ClassPhrase(p.class_name, k, p.phrase, p.from_note) for p, k in zip(pool, kinds)]
    return framed_pool, notes


def _frame_kind(phrases: list[ClassPhrase], taken: set[str], spare: list[str]) -> str | None:
    """The kind of a frame's phrases: the free kind whose meaning shares most of their common words
    ("looks like ..." and "what animal or thing it looks like"), else the free kind most of them
    were given, else an unused kind."""
    words = Counter(w for p in phrases for w in set(normalize_text(p.phrase).split()))
    common = {w for w, n in words.items() if n * 2 >= len(phrases)}
    free = [k for k in KINDS if k not in taken]
    overlap = {k: len(common & set(KINDS[k].split())) for k in free}
    if free and max(overlap.values()) > 0:
        return max(free, key=lambda k: (overlap[k], -free.index(k)))
    votes = Counter(p.kind for p in phrases if p.kind != UNSORTED and p.kind not in taken)
    if votes:
        return votes.most_common(1)[0][0]
    return spare[0] if spare else None


def _move_displaced(pool: Sequence[ClassPhrase], kinds: list[str], framed: set[int]) -> list[str]:
    """Phrases outside every frame whose kind a frame took keep their own group under another kind (in place).

    That kind is one no frame took, the least used first (ideally none).
    The LLM's grouping of them may be right where its kind name was not ("its body
    surface is ..." filed as background); merged into the frame's group, they would
    compete with it for the group's option slots.
    """
    taken = {kinds[i] for i in framed}
    notes: list[str] = []
    for kind in sorted(taken):
        displaced = [i for i, item in enumerate(pool) if i not in framed and item.kind == kind]
        spare = sorted((k for k in KINDS if k not in taken), key=lambda k: (kinds.count(k), list(KINDS).index(k)))
        if displaced and spare:
            fresh = spare[0]
            taken.add(fresh)
            for i in displaced:
                kinds[i] = fresh
            notes.append(f"{len(displaced)} other {kind} phrase(s) kept together as {fresh}")
    return notes


def route_kinds(
    pool: Sequence[ClassPhrase], embed: Callable[[list[str]], np.ndarray]
) -> tuple[list[ClassPhrase], list[str]]:
    """The pool with every unsorted phrase given a kind or dropped (see the module docstring), and notes."""
    pool, frame_notes = kinds_by_frame(pool)
    labels = [p.kind for p in pool]
    kinds = sorted({k for k in labels if k != UNSORTED})
    if len(kinds) < 2:
        unsorted = [p for p in pool if p.kind == UNSORTED]
        dropped = [f"{len(unsorted)} unsorted phrase(s) dropped: the answers name fewer than two kinds"]
        sorted_pool = one_rule_per_kind([p for p in pool if p.kind != UNSORTED])[0]
        return sorted_pool, frame_notes + (dropped if unsorted else [])
    texts = list(dict.fromkeys(p.phrase for p in pool))
    index_of = {t: i for i, t in enumerate(texts)}
    vectors = _unit(np.hstack([_unit(embed(texts)), _frames(texts, pool)])[[index_of[p.phrase] for p in pool]])
    scores = _kind_scores(vectors, labels, kinds)
    low = _typical(scores, labels, kinds, 0.1)
    routed: list[ClassPhrase] = []
    notes: list[str] = []
    for item, row in zip(pool, scores):
        if item.kind == UNSORTED:
            best = int(np.argmax(row))
            if row[best] < low[best]:
                notes.append(f"{item.class_name}: {item.phrase!r} reads like no kind; dropped")
                continue
            notes.append(f"{item.class_name}: {item.phrase!r} sorted as {kinds[best]}")
            item = ClassPhrase(item.class_name, kinds[best], item.phrase, item.from_note)
        routed.append(item)
    return one_rule_per_kind(routed)[0], frame_notes + notes
