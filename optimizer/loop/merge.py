"""``merge``: pool the groups and options of the best versions, then let the data fit the rules.

Proposals differ in what they got right: one names "teal", another "a frog". Merging
adds to the parent every option (and every group) the other top versions use under
the same group name, then refits all unlocked rules on train (:class:`FitRulesMove`),
so the new options are used only where the images favour them. Locked groups keep
their options exactly; new groups start with null rules before fitting.
"""

from __future__ import annotations

from typing import Any

from cotclip.optimizer.loop._base import MoveContext, MoveResult
from cotclip.optimizer.loop.moves import FitRulesMove
from cotclip.systems.model import System

__all__ = ["MergeMove"]


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def merged_structure(parent: System, donors: list[System], max_options: int) -> tuple[list[dict[str, Any]], int]:
    """Parent groups extended with donors' options and groups; returns (groups, options added)."""
    groups = [group.model_dump(mode="json") for group in parent.groups]
    by_name = {group["name"]: group for group in groups}
    added = 0
    for donor in donors:
        for group in donor.groups:
            target = by_name.get(group.name)
            if target is None:
                target = group.model_dump(mode="json")
                groups.append(target)
                by_name[group.name] = target
                added += len(group.options)
                continue
            if group.name in parent.locks.groups:
                continue
            known = {_key(option) for option in target["options"]}
            for option in group.options:
                if _key(option) not in known and len(target["options"]) < max_options:
                    target["options"].append(option)
                    known.add(_key(option))
                    added += 1
    return groups, added


class MergeMove:
    """Pool options/groups of the ``donors`` best versions into the parent, then fit the rules."""

    name = "merge"

    def __init__(self, fit: FitRulesMove, *, donors: int = 4, max_options: int = 24) -> None:
        self.fit = fit
        self.donors = donors
        self.max_options = max_options

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """One merged-and-fitted candidate (none when the donors add nothing)."""
        donors = [v.system for v in context.history if v.system.fingerprint() != parent.fingerprint()][: self.donors]
        groups, added = merged_structure(parent, donors, self.max_options)
        if added == 0:
            return MoveResult(candidates=[], details={"added_options": 0})
        rules = {c: {g["name"]: parent.rule(c, g["name"]) for g in groups} for c in parent.classes}
        widened = parent.evolve(groups=groups, rules=rules)
        fitted = self.fit.propose(widened, context)
        candidate = fitted.candidates[0] if fitted.candidates else widened
        return MoveResult(candidates=[candidate], details={"added_options": added, **fitted.details})
