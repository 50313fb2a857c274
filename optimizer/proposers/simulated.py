"""A SIMULATED proposer for planted-attribute worlds (``--lm simulated``): no LLM involved.

It plays an LLM that read the world's field notes: it recovers each class's values
from the notes' wording (omitted clauses become null rules, wrong notes wrong rules),
then makes an LLM's typical mistakes at configurable rates: a wrong option in a rule,
a paraphrased or unknown option phrasing, a missing group, a spurious option.
Revising uses the diagnostics as an LLM would: it switches some disagreeing rules to
the option the images favour, rephrases options of unreliable groups in the words it
knows best, adds back a missing group when classes are confused, and drops unused
options. It obeys the :class:`~cotclip.optimizer.proposers._base.Proposer` contract.

It refuses real data: it needs a synthetic :class:`~cotclip.scoring.simulation.world.World`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cotclip.optimizer.llm.usage import Usage
from cotclip.optimizer.proposers._base import ProposalTask, ScoredVersion
from cotclip.optimizer.proposers._feedback import keep_locks
from cotclip.optimizer.proposers.repair import normalize_text
from cotclip.systems.errors import InputError, ProposerError
from cotclip.systems.model import System

__all__ = ["SimulationErrors", "SimulatedProposer", "simulated_proposer_for"]

#: ``{class: {group: value index or None}}``: what the field notes say each class shows.
Beliefs = dict[str, dict[str, int | None]]

_REFUSAL = (
    "the simulated proposer works only on synthetic worlds (--data synthetic:<world>); "
    "use --lm local or a real LM for real data"
)


@dataclass(frozen=True)
class SimulationErrors:
    """Per-item probabilities of the simulated LLM's mistakes and of its notes' defects."""

    wrong_option: float = 0.15
    paraphrase: float = 0.2
    unknown_phrase: float = 0.05
    missing_group: float = 0.15
    spurious_option: float = 0.1
    notes_omit: float = 0.1
    notes_error: float = 0.05
    fix_disagreeing: float = 0.6
    rephrase_unreliable: float = 0.5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not 0.0 <= value <= 1.0:
                raise InputError(f"simulation rate {name} is {value}; use a probability between 0 and 1")


def _clause_pattern(clause: str) -> re.Pattern:
    head, _, tail = clause.partition("{}")
    return re.compile(rf"^{re.escape(head.lower())}(.+?){re.escape(tail.lower())}$")


class SimulatedProposer:
    """Proposes and revises systems for one synthetic ``world`` (see the module docstring)."""

    def __init__(self, world: Any, *, errors: SimulationErrors | None = None, seed: int = 0) -> None:
        from cotclip.scoring.simulation.world import World

        if not isinstance(world, World):
            raise ProposerError(_REFUSAL)
        self.world = world
        self.errors = errors or SimulationErrors()
        self.seed = seed
        self._records: list[dict[str, Any]] = []
        self._revisions = 0

    @property
    def usage(self) -> Usage:
        """Always zero: nothing is called."""
        return Usage()

    def state(self) -> dict[str, Any]:
        """What the next answers depend on besides their inputs (the loop stores it so that a resume is exact)."""
        return {"revisions": self._revisions}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` stored by an earlier session."""
        self._revisions = int(state.get("revisions", 0))

    @property
    def records(self) -> list[dict[str, Any]]:
        """One line per simulated answer (what was made, the mistakes injected)."""
        return list(self._records)

    def _rng(self, *parts: Any) -> np.random.Generator:
        # crc32, not hash(): str hashes change between processes and would break reproducibility.
        return np.random.default_rng([self.seed, *[zlib.crc32(str(p).encode()) for p in parts]])

    # ----- reading the notes ---------------------------------------------------------
    def read_notes(self) -> Beliefs:
        """``{class: {group: value index or None}}`` as recovered from the field notes' wording."""
        notes = self.world.field_notes(
            omit_rate=self.errors.notes_omit, error_rate=self.errors.notes_error, seed=self.seed
        )
        patterns = [(g, _clause_pattern(g.note_clause)) for g in self.world.groups]
        read: Beliefs = {}
        for class_name, note in notes.items():
            found: dict[str, int | None] = {g.name: None for g in self.world.groups}
            for clause in note.rstrip(".").split("; "):
                clause = clause[:1].lower() + clause[1:]
                for group, pattern in patterns:
                    match = pattern.match(clause)
                    if match:
                        found[group.name] = self._value_of(group, match.group(1))
            read[class_name] = found
        return read

    @staticmethod
    def _value_of(group, phrase: str) -> int | None:
        wanted = normalize_text(phrase)
        for index, forms in enumerate(group.surface_forms):
            if wanted in {normalize_text(f) for f in forms}:
                return index
        return None

    def _phrase(self, group, index: int, rng: np.random.Generator) -> str:
        """How the simulated LLM words one value: canonical, a synonym, or an unknown phrase."""
        roll = rng.random()
        if roll < self.errors.unknown_phrase:
            return f"{group.values[index]}-ish looking thing"
        if roll < self.errors.unknown_phrase + self.errors.paraphrase and len(group.surface_forms[index]) > 1:
            return str(rng.choice(list(group.surface_forms[index][1:])))
        return group.values[index]

    # ----- propose -------------------------------------------------------------------
    def propose(self, task: ProposalTask) -> list[System]:
        """``task.n_candidates`` simulated systems, each with its own draw of mistakes."""
        unknown = [c for c in task.classes if c not in self.world.classes]
        if unknown:
            raise ProposerError(f"class {unknown[0]!r} is not in the synthetic world {self.world.name}; {_REFUSAL}")
        beliefs = self.read_notes()
        return [self._candidate(task, beliefs, index) for index in range(task.n_candidates)]

    def _candidate(self, task: ProposalTask, beliefs: Beliefs, index: int) -> System:
        rng = self._rng("propose", index)
        kept = [g for g in self.world.groups if rng.random() >= self.errors.missing_group][: task.max_groups]
        kept = kept or [self.world.groups[int(rng.integers(len(self.world.groups)))]]
        groups: list[dict[str, Any]] = []
        rules: dict[str, dict[str, int | None]] = {c: {} for c in task.classes}
        mistakes = 0
        for group in kept:
            values = _believed_values(beliefs, task.classes, group.name)
            if len(values) < 2:
                continue
            values = values[: task.max_options]
            options = [self._phrase(group, v, rng) for v in values]
            if rng.random() < self.errors.spurious_option and len(options) < task.max_options:
                spare = [v for v in range(len(group.values)) if v not in values]
                extra = self._phrase(group, int(rng.choice(spare)), rng) if spare else f"no visible {group.name}"
                options.append(extra)
            options = list(dict.fromkeys(options))
            if len(options) < 2:
                continue
            groups.append({"name": group.name, "prompt": group.prompt, "options": options})
            for class_name in task.classes:
                believed = beliefs[class_name][group.name]
                position = values.index(believed) if believed in values else None
                if position is not None and position < len(options) and rng.random() < self.errors.wrong_option:
                    position = int((position + 1 + rng.integers(len(options) - 1)) % len(options))
                    mistakes += 1
                rules[class_name][group.name] = position if position is None or position < len(options) else None
        if not groups:
            raise ProposerError(
                f"the simulation found no usable group in world {self.world.name}'s notes; "
                "lower the simulated omission/error rates"
            )
        record = {
            "kind": "simulated-propose",
            "candidate": index + 1,
            "groups": [g["name"] for g in groups],
            "wrong_rules": mistakes,
            "simulation": True,
        }
        self._records.append(record)
        return System.from_data(
            {
                "name": f"simulated_{index + 1:02d}",
                "classes": list(task.classes),
                "groups": groups,
                "rules": rules,
                "provenance": {"method": "simulated-propose", "details": {**record, "errors": asdict(self.errors)}},
                "notes": ["Proposed by a SIMULATION of an LLM on a synthetic world."],
            }
        )

    # ----- revise --------------------------------------------------------------------
    def revise(self, system: System, diagnostics: Any, history: list[ScoredVersion]) -> System:
        """A revision driven by the diagnostics (see the module docstring); locks are kept."""
        self._revisions += 1
        rng = self._rng("revise", self._revisions, system.fingerprint())
        data = system.to_dict()
        fixed = self._fix_disagreeing(data, diagnostics, rng)
        rephrased = self._rephrase_unreliable(data, diagnostics, rng)
        added = self._add_missing_group(data, diagnostics, rng)
        data["groups"], data["rules"] = _drop_unused(data["groups"], data["rules"])
        record = {
            "kind": "simulated-revise",
            "parent": system.name,
            "fixed_rules": fixed,
            "rephrased_options": rephrased,
            "added_group": added,
            "simulation": True,
        }
        self._records.append(record)
        data["name"] = f"{system.name}-simrev{self._revisions}"
        data["provenance"] = {"parent": system.name, "method": "simulated-revise", "details": record}
        return keep_locks(system, System.from_data(data))

    def _fix_disagreeing(self, data, diagnostics, rng) -> int:
        fixed = 0
        for class_name, group, _rule, favoured, _share in diagnostics.disagreeing_rules:
            if rng.random() < self.errors.fix_disagreeing and class_name in data["rules"]:
                data["rules"][class_name][group] = int(favoured)
                fixed += 1
        return fixed

    def _rephrase_unreliable(self, data, diagnostics, rng) -> int:
        rephrased = 0
        for group in data["groups"]:
            if diagnostics.group_reliability.get(group["name"], 1.0) >= 0.5:
                continue
            try:
                world_group = self.world.group(group["name"])
            except Exception:  # noqa: BLE001 - a group the world does not know cannot be reworded
                continue
            for position, option in enumerate(group["options"]):
                value = self._value_of(world_group, option)
                canonical = world_group.values[value] if value is not None else None
                if (
                    canonical
                    and canonical != option
                    and canonical not in group["options"]
                    and rng.random() < self.errors.rephrase_unreliable
                ):
                    group["options"][position] = canonical
                    rephrased += 1
        return rephrased

    def _add_missing_group(self, data, diagnostics, rng) -> str | None:
        if not (diagnostics.confusions or diagnostics.identical_signatures):
            return None
        present = {g["name"] for g in data["groups"]}
        missing = [g for g in self.world.groups if g.name not in present]
        if not missing:
            return None
        group = missing[int(rng.integers(len(missing)))]
        beliefs = self.read_notes()
        values = _believed_values(beliefs, data["classes"], group.name)
        if len(values) < 2:
            return None
        data["groups"].append(
            {
                "name": group.name,
                "prompt": group.prompt,
                "options": [group.values[v] for v in values],
                "weight": 1.0,
                "extra_prompts": [],
            }
        )
        for class_name in data["classes"]:
            believed = beliefs[class_name][group.name]
            data["rules"][class_name][group.name] = values.index(believed) if believed in values else None
        return group.name


def _believed_values(beliefs: Beliefs, classes: Sequence[str], group: str) -> list[int]:
    """The value indices of ``group`` that the notes give to at least one of ``classes``, ascending."""
    return sorted({value for c in classes if (value := beliefs[c][group]) is not None})


def _drop_unused(groups: list[dict], rules: dict[str, dict]) -> tuple[list[dict], dict[str, dict]]:
    """Remove options no class uses (keeping >= 2 per group) and remap the rules."""
    for group in groups:
        used = {rule.get(group["name"]) for rule in rules.values()} - {None}
        keep = [i for i in range(len(group["options"])) if i in used]
        if len(keep) < 2 or len(keep) == len(group["options"]):
            continue
        remap = {old: new for new, old in enumerate(keep)}
        group["options"] = [group["options"][i] for i in keep]
        for rule in rules.values():
            if rule.get(group["name"]) is not None:
                rule[group["name"]] = remap[rule[group["name"]]]
    return groups, rules


def simulated_proposer_for(dataset: Any, *, seed: int = 0, errors: SimulationErrors | None = None) -> SimulatedProposer:
    """The simulated proposer for a ``synthetic:<world>`` dataset; ProposerError for anything else."""
    from cotclip.scoring.simulation.world import load_world

    source = str(getattr(dataset, "source", ""))
    identity = str(getattr(dataset, "identity", ""))
    if not source.startswith("synthetic:") or not identity.startswith("synthetic:"):
        raise ProposerError(_REFUSAL)
    world = load_world(source.split(":", 1)[1])
    if identity != f"synthetic:{world.hash}":
        raise ProposerError(_REFUSAL)
    return SimulatedProposer(world, errors=errors, seed=seed)
