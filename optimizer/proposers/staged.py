"""The staged LLM proposer: small steps a small local model can do, with the data having the last word.

A one-shot answer must hold a whole system (groups, options, a rule per class and
group) at once, which small models get wrong. Here the LLM does four short steps:

1. *describe* (a few classes per call): each class's visible attributes as
   ``(kind, phrase)`` pairs, from its note when there is one;
2. *questions* (one call): a prompt template per attribute kind;
3. *expand* (one call per group): more values of the kind, as candidate options;
4. *assign* (only for phrases that match no option): the class's option, or none.

The data-side steps (:mod:`.staged_stages`) organize the phrase pool into groups
(merging near-duplicates by the run's own text embeddings), assign rules from each
class's own phrases, *ground* the candidate on train images (unreadable and
indistinguishable options dropped) and fit rules where the images' evidence is
strong (``fit``, the loop's rule fitting). Revision asks, for the most confused pair,
what visibly tells the two classes apart, and adds that as options or a group.

Every answer is validated; a garbage answer is repaired or dropped with a note in
:attr:`StagedProposer.records`, and a stage that yields nothing falls back to the
others (built-in templates, notes-free rules fitted from images) and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.llm.usage import Budget, Usage
from cotclip.optimizer.proposers._base import ProposalTask, ScoredVersion
from cotclip.optimizer.proposers._feedback import keep_locks
from cotclip.optimizer.proposers.phrase_vectors import phrase_vectors
from cotclip.optimizer.proposers.staged_llm import StagedSteps
from cotclip.optimizer.proposers.staged_notes import mine_note, route_kinds
from cotclip.optimizer.proposers.staged_stages import (
    ClassPhrase,
    StagedGroup,
    assign,
    clean_attributes,
    ground,
    organize,
)
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.errors import BudgetExhaustedError, ProposerError
from cotclip.systems.model import System

__all__ = ["StagedProposer"]

logger = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StagedProposer:
    """A :class:`~cotclip.optimizer.proposers._base.Proposer` built from short LLM steps (module docstring).

    ``train`` is the run's train split (grounding and text embeddings); ``fit`` refits a
    system's rules on train images (the loop's ``fit_rules``); ``on_step`` receives one
    line per finished step (the demo prints them); ``seed`` varies the LLM's sampling;
    ``concurrency``: how many LLM calls of one step may be in flight at once.
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        train: ImageSet,
        fit: Callable[[System], System] | None = None,
        budget: Budget | None = None,
        prompts_dir: Path | None = None,
        batch_size: int = 4,
        on_step: Callable[[str], None] | None = None,
        seed: int = 0,
        concurrency: int = 1,
    ) -> None:
        self.steps = StagedSteps(
            client, budget=budget or Budget(), prompts_dir=prompts_dir, seed=seed, concurrency=concurrency
        )
        self.train = train
        self.fit = fit
        self.batch_size = max(1, batch_size)
        self.on_step = on_step
        self.stopped_because: str | None = None
        self._task: ProposalTask | None = None
        self._pool: list[ClassPhrase] = []
        self._contrasted: set[tuple[str, str]] = set()
        self._kind_groups: dict[str, tuple[str, str]] = {}  # kind -> (group name, template) of the proposal

    @property
    def usage(self) -> Usage:
        """LLM use so far (every call, cached ones included)."""
        return self.steps.usage

    @property
    def records(self) -> list[dict[str, Any]]:
        """One JSON-able line per answer and per step summary."""
        return list(self.steps.records)

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to ask the same questions again (the loop stores it in progress.json)."""
        return {
            "steps_asked": self.steps.steps_asked,
            "contrasted": sorted(list(pair) for pair in self._contrasted),
            "kind_groups": {k: list(v) for k, v in self._kind_groups.items()},
            "task": self._task.to_dict() if self._task is not None else None,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` (LLM seeds, pairs already asked about, the proposal's questions)."""
        self.steps.steps_asked = int(state.get("steps_asked", 0))
        self._contrasted = {tuple(pair) for pair in state.get("contrasted", [])}
        self._kind_groups = {k: (v[0], v[1]) for k, v in state.get("kind_groups", {}).items()}
        task = state.get("task")
        self._task = ProposalTask(**{**task, "classes": tuple(task["classes"])}) if task else None

    def _say(self, step: str, line: str, notes: list[str] | None = None) -> None:
        self.steps.note(step, line, notes or [])
        if self.on_step is not None:
            self.on_step(f"{step}: {line}")

    # ----- propose -------------------------------------------------------------------
    def propose(self, task: ProposalTask) -> list[System]:
        """Up to ``task.n_candidates`` valid systems: from the notes, fitted, and with extra options."""
        self._task = task
        try:
            return self._propose(task)
        except BudgetExhaustedError as exc:
            self.stopped_because = exc.message
            raise

    def _propose(self, task: ProposalTask) -> list[System]:
        pool = self._describe(task)
        groups = self._organize(task, pool)
        groups = self._expand(task, groups)
        rules = self._assign(task, pool, groups)
        base = self._system(task, groups, rules, "staged-notes")
        grounded, notes = ground(base, self.train)
        if grounded is None:
            raise ProposerError(
                "the staged proposer found no option the encoder can read on train images; "
                "give per-class notes (`cotclip optimize --notes`) with visible attributes or try "
                "another --lm"
            )
        self._say(
            "ground",
            f"{sum(len(g.options) for g in grounded.groups)} of "
            f"{sum(len(g.options) for g in base.groups)} options readable",
            notes,
        )
        candidates = [grounded]
        if self.fit is not None:
            fitted = self.fit(grounded)
            if fitted.fingerprint() != grounded.fingerprint():
                candidates.append(fitted.evolve(name=f"{grounded.name}-fitted"))
                self._say("fit", f"{_changed_rules(grounded, fitted)} rule(s) refitted from train images")
        return candidates[: max(1, task.n_candidates)]

    def _describe(self, task: ProposalTask) -> list[ClassPhrase]:
        pool: list[ClassPhrase] = []
        classes = list(task.classes)
        batches = [classes[start : start + self.batch_size] for start in range(0, len(classes), self.batch_size)]
        answers = self.steps.describe_batches(batches, task.domain, task.notes)
        for number, (batch, answered) in enumerate(zip(batches, answers), 1):
            found = 0
            for name in batch:
                kept, notes = clean_attributes(name, task.notes.get(name), answered.get(name, []), classes)
                mined, mine_notes = mine_note(name, task.notes.get(name), kept, classes)
                kept, notes = kept + mined, notes + mine_notes
                if name not in answered:
                    notes.append(f"{name}: no description in the answer; its rules come from the images")
                self.steps.note("describe", f"{name}: {len(kept)} phrase(s)", notes)
                pool.extend(kept)
                found += len(kept)
            if self.on_step is not None:
                self.on_step(
                    f"describe: batch {number}/{len(batches)}: {found} phrases for {len(answered)} "
                    f"of {len(batch)} classes"
                )
        pool, route_notes = route_kinds(pool, phrase_vectors(self.train.prompts.embed))
        described = len({p.class_name for p in pool if p.from_note})
        self._say(
            "describe",
            f"{len(pool)} phrases for {described} of {len(classes)} classes ({len({p.kind for p in pool})} kinds)",
        )
        self._say(
            "sort",
            f"{sum(' sorted as ' in n for n in route_notes)} unsorted phrase(s) given a kind, "
            f"{sum(n.endswith('dropped') for n in route_notes)} dropped",
            route_notes,
        )
        if not pool:
            raise ProposerError(
                f"the LLM {self.steps.model} described no class usably; "
                "give per-class notes (`cotclip optimize --notes`) or try another --lm (see the proposer log)"
            )
        self._pool = pool
        return pool

    def _organize(self, task: ProposalTask, pool: list[ClassPhrase]) -> list[StagedGroup]:
        kinds = list(dict.fromkeys(p.kind for p in pool))
        examples = {k: [p.phrase for p in pool if p.kind == k][:3] for k in kinds}
        templates = self.steps.templates(kinds, examples, task.domain)
        self._kind_groups.update(templates)
        groups, notes = organize(
            pool,
            templates,
            embed=phrase_vectors(self.train.prompts.embed),
            max_groups=task.max_groups,
            max_options=task.max_options,
        )
        if not groups:
            raise ProposerError(
                "the described phrases form no group of two or more options; "
                "give per-class notes (`cotclip optimize --notes`) or try another --lm"
            )
        shown = ", ".join(f"{g.name}({len(g.options)})" for g in groups)
        self._say("organize", f"{len(groups)} groups: {shown}", notes)
        return groups

    def _expand(self, task: ProposalTask, groups: list[StagedGroup]) -> list[StagedGroup]:
        expanded, added = [], 0
        open_groups = [g for g in groups if task.max_options > len(g.options)]
        answers = self.steps.more_values_all([(g.kind, list(g.options)) for g in open_groups], task.domain)
        more_of = {id(g): more for g, more in zip(open_groups, answers)}
        for group in groups:
            room = task.max_options - len(group.options)
            more = more_of.get(id(group), [])
            known = {o.casefold() for o in group.options}
            fresh: list[str] = []
            for value in more:
                if value.casefold() not in known and len(fresh) < room:
                    known.add(value.casefold())
                    fresh.append(value)
            added += len(fresh)
            expanded.append(replace(group, options=group.options + tuple(fresh)))
        self._say("expand", f"{added} candidate option(s) added for the images to judge")
        return expanded

    def _assign(self, task: ProposalTask, pool: list[ClassPhrase], groups: list[StagedGroup]) -> dict:
        rules, unmatched = assign(pool, groups, list(task.classes))
        pending_of = {
            id(group): [(c, phrase) for c, g, phrase in unmatched if g is group and rules[c][group.name] is None]
            for group in groups
        }
        asks = [(group, pending_of[id(group)]) for group in groups if pending_of[id(group)]]
        asked = sum(len(pending) for _, pending in asks)
        for (group, _), chosen in zip(asks, self.steps.choose_options_all(asks)):
            for name, index in chosen.items():
                rules[name][group.name] = index
        set_rules = sum(1 for c in rules for v in rules[c].values() if v is not None)
        self._say(
            "assign",
            f"{set_rules} of {len(task.classes) * len(groups)} rules from the classes' own phrases"
            + (f" ({asked} asked of the LLM)" if asked else "")
            + "; the rest null",
        )
        return rules

    def _system(self, task: ProposalTask, groups: list[StagedGroup], rules: dict, name: str) -> System:
        details = {
            "lm": self.steps.model,
            "stages": ["describe", "questions", "expand", "assign", "ground"],
            "prompts_sha256": self.steps.prompt_hashes(),
        }
        data = {
            "name": name,
            "classes": list(task.classes),
            "groups": [{"name": g.name, "prompt": g.prompt, "options": list(g.options)} for g in groups],
            "rules": {c: {g.name: rules[c][g.name] for g in groups} for c in task.classes},
            "provenance": {"parent": None, "method": "llm-staged", "created_at": _now(), "details": details},
        }
        return System.from_data(data)

    # ----- revise --------------------------------------------------------------------
    def revise(self, system: System, diagnostics: Any, history: list[ScoredVersion]) -> System:
        """Add what visibly separates the most confused pair not asked about yet; locks are kept."""
        pair = next(
            (
                (t, p)
                for t, p, _ in getattr(diagnostics, "confusions", [])
                if tuple(sorted((t, p))) not in self._contrasted
            ),
            None,
        )
        if pair is None:
            raise ProposerError("no confused pair left to ask the LLM about")
        self._contrasted.add(tuple(sorted(pair)))
        notes = self._task.notes if self._task else {}
        first, second = self.steps.contrast(pair, notes, self._task.domain if self._task else None)
        revised = _add_differences(
            system, first + second, lambda kind: self._kind_groups.get(kind) or self.steps.default_template(kind)
        )
        if revised is None:
            raise ProposerError(f"the LLM named no new visible difference between {pair[0]} and {pair[1]}")
        grounded, ground_notes = ground(revised, self.train)
        if grounded is None:
            raise ProposerError(f"no difference between {pair[0]} and {pair[1]} is readable on train images")
        result = keep_locks(system, self.fit(grounded) if self.fit is not None else grounded)
        self._say(
            "revise",
            f"{pair[0]} vs {pair[1]}: {len(first) + len(second)} difference(s) asked, "
            f"{len(result.prompt_texts()) - len(system.prompt_texts())} prompt(s) added",
            ground_notes,
        )
        return result


def _changed_rules(before: System, after: System) -> int:
    return sum(1 for c in before.classes for g in before.groups if before.rule(c, g.name) != after.rule(c, g.name))


def _add_differences(
    system: System, phrases: list[ClassPhrase], group_of_kind: Callable[[str], tuple[str, str]]
) -> System | None:
    """``system`` with each phrase added as an option of its kind's group (a new group if none).

    A phrase from its class's note also becomes that class's rule (unless locked); any
    other phrase is only an option, for rule fitting to give to the classes that show it.
    """
    data = system.to_dict()
    by_name = {g["name"]: g for g in data["groups"]}
    changed = False
    for item in phrases:
        name, prompt = group_of_kind(item.kind)
        group = by_name.get(name)
        if group is None:
            group = {"name": name, "prompt": prompt, "options": [], "weight": 1.0, "extra_prompts": []}
            by_name[name] = group
            data["groups"].append(group)
        if name in system.locks.groups:
            continue
        lowered = [o.casefold() for o in group["options"]]
        if item.phrase.casefold() not in lowered:
            group["options"].append(item.phrase)
            lowered.append(item.phrase.casefold())
            changed = True
        if item.from_note and not system.locks.rule_locked(item.class_name, name):
            rules = data["rules"].setdefault(item.class_name, {})
            changed = changed or rules.get(name) != lowered.index(item.phrase.casefold())
            rules[name] = lowered.index(item.phrase.casefold())
    data["groups"] = [g for g in data["groups"] if len(g["options"]) >= 2]
    kept = {g["name"] for g in data["groups"]}
    data["rules"] = {c: {g: v for g, v in r.items() if g in kept} for c, r in data["rules"].items()}
    return System.from_data(data) if changed else None
