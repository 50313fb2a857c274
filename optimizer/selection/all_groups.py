"""The reference selector: every group, whole (the system as given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cotclip.optimizer.selection._base import Selection, candidate_questions, prior_prompts
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.model import System

__all__ = ["AllGroupsSelector"]


@dataclass(frozen=True)
class AllGroupsSelector:
    """Keeps every group unchanged; ``budget`` is reported against, never enforced by dropping."""

    name: ClassVar[str] = "all-groups"

    def select(
        self, system: System, train: ImageSet | None = None, val: ImageSet | None = None, *, budget: int | None = None
    ) -> Selection:
        """The system itself as a selection (``stopped_because`` notes a budget it exceeds)."""
        questions = [q for q in candidate_questions(system, prune_options=False)]
        prompts = prior_prompts(system) + sum(q.cost for q in questions)
        stopped = "every group is chosen"
        if budget is not None and prompts > budget:
            stopped = f"every group is chosen; {prompts} prompts exceed the budget of {budget}"
        return Selection(self.name, system, tuple(q.label for q in questions), (), prompts, prompts, stopped)
