"""The moves the loop applies to its best versions (see :mod:`._base` for the contract).

* :class:`FitRulesMove` (``fit_rules``): data-driven rule fitting on train.
* :class:`~cotclip.optimizer.loop.refine.RefineRulesMove` (``refine_rules``): coordinate
  ascent of the rules on train accuracy.
* :class:`LLMRevisionMove` (``llm_revise``): the proposer revises the system from its
  diagnostics and the score history.
* :class:`~cotclip.optimizer.loop.knob_move.KnobSearchMove` (``knob_search``): Optuna
  search of the scoring knobs in a persistent study, reporting its Pareto front.
* :class:`FunctionMove` (``select_groups``): wraps a selection function of
  ``cotclip.optimizer.selection``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cotclip.optimizer.loop._base import Move, MoveContext, MoveResult, SearchFunction
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.knob_move import KnobSearchMove, check_storage
from cotclip.optimizer.loop.refine import RefineRulesMove
from cotclip.optimizer.loop.scoring_move import TuneScoringMove
from cotclip.scoring.scorer import ImageSet, group_probabilities
from cotclip.systems.errors import BudgetExhaustedError, InputError, LLMServerError, LLMUnavailableError, ProposerError
from cotclip.systems.model import System

__all__ = ["FitRulesMove", "LLMRevisionMove", "FunctionMove", "SEARCH_FUNCTIONS", "check_moves", "build_moves"]

SEARCH_FUNCTIONS = {
    "select_groups": ("cotclip.optimizer.selection", "select_groups"),
}


def _evidence(diff: np.ndarray) -> float:
    """Paired t-statistic of per-image probability differences (inf when they never vary)."""
    mean = float(diff.mean())
    spread = float(diff.std(ddof=1)) if diff.size > 1 else 0.0
    if spread == 0.0:
        return float("inf") if mean > 0 else 0.0
    return mean / (spread / np.sqrt(diff.size))


class _TrainImages(Protocol):
    """What rule fitting reads of a move context: the train images (a proposer refits with just these)."""

    @property
    def train(self) -> ImageSet: ...


class FitRulesMove:
    """Set each unlocked (class, group) rule to the option the encoder favours on that class's train images.

    The favoured option maximises the mean group probability over the class's train
    images. A rule changes only when the class has at least ``min_images`` train
    images and the evidence (paired t-statistic of favoured minus current option's
    probability; against the uniform 1/k for a null rule) reaches ``min_evidence``;
    otherwise the rule is kept. Locked rules are never touched.
    """

    name = "fit_rules"

    def __init__(self, *, min_images: int = 2, min_evidence: float = 1.0, temperature: float | None = None) -> None:
        self.min_images = min_images
        self.min_evidence = min_evidence
        self.temperature = temperature

    def fitted_rules(
        self, parent: System, context: _TrainImages
    ) -> tuple[dict[str, dict[str, int | None]], list[list[Any]]]:
        """The refitted rules and the list of changes ``[class, group, old, new, evidence]``."""
        probabilities = group_probabilities(parent, context.train, temperature=self.temperature)
        truth = np.asarray(context.train.label_indices(parent.classes))
        rules = {c: {g.name: parent.rule(c, g.name) for g in parent.groups} for c in parent.classes}
        changes: list[list[Any]] = []
        for group, probs in zip(parent.groups, probabilities):
            for class_index, class_name in enumerate(parent.classes):
                class_probs = probs[truth == class_index]
                if len(class_probs) < self.min_images or parent.locks.rule_locked(class_name, group.name):
                    continue
                favoured = int(class_probs.mean(axis=0).argmax())
                current = rules[class_name][group.name]
                if favoured == current:
                    continue
                reference = class_probs[:, current] if current is not None else 1.0 / probs.shape[1]
                evidence = _evidence(class_probs[:, favoured] - reference)
                if evidence >= self.min_evidence:
                    rules[class_name][group.name] = favoured
                    changes.append([class_name, group.name, current, favoured, round(evidence, 3)])
        return rules, changes

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """One candidate with the refitted rules (none when nothing changes)."""
        rules, changes = self.fitted_rules(parent, context)
        if not changes:
            return MoveResult(candidates=[], details={"changed_rules": 0})
        return MoveResult(
            candidates=[parent.evolve(rules=rules)], details={"changed_rules": len(changes), "changes": changes}
        )


class LLMRevisionMove:
    """Ask the proposer ``n_revisions`` times to revise the parent from its diagnostics and history.

    With ``fit`` set, each revision is also recorded with its rules refitted on train
    (the LLM changes the questions, the data decides the answers). A revision the
    proposer cannot turn into a valid system (:class:`ProposerError`) or whose answer
    failed or came late (:class:`LLMServerError`) is reported in ``MoveResult.errors``;
    the run goes on with the other moves. An endpoint that failed every attempt
    (:class:`LLMUnavailableError`) propagates so that the loop stops cleanly; so does a
    spent budget (:class:`BudgetExhaustedError`, the wall time included) when no revision
    was made (revisions already paid for are kept, and the loop's budget check stops it).
    """

    name = "llm_revise"

    def __init__(self, proposer: Any, *, n_revisions: int = 2, fit: FitRulesMove | None = None) -> None:
        self.proposer = proposer
        self.n_revisions = n_revisions
        self.fit = fit

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """Up to ``n_revisions`` revised systems, in revision order.

        A proposer with ``revise_many`` (the LLM proposer) is asked for all revisions at
        once, so that they go out concurrently up to its concurrency. Revisions paid for
        before the budget ran out are kept; the error propagates only when none was made.
        """
        started = time.perf_counter()
        outcomes = self._revisions(parent, list(context.history), context.diagnostics)
        waited = time.perf_counter() - started
        candidates: list[System] = []
        errors: list[str] = []
        unavailable = next((o for o in outcomes if isinstance(o, LLMUnavailableError)), None)
        if unavailable is not None:  # the loop stops, with its report
            raise unavailable
        for outcome in outcomes:
            if isinstance(outcome, (ProposerError, LLMServerError, BudgetExhaustedError)):
                errors.append(outcome.message)  # a bad or late answer costs this revision only
                continue
            candidates.append(outcome)
            if self.fit is not None:
                candidates.extend(self.fit.propose(outcome, context).candidates)
        spent = next((o for o in outcomes if isinstance(o, BudgetExhaustedError)), None)
        if spent is not None and not candidates:
            raise spent
        return MoveResult(candidates=candidates, errors=errors, llm_seconds=waited)

    def _revisions(self, parent: System, history: list, diagnostics: Any) -> list:
        """Each revision's system or error, in order (serially for a proposer without ``revise_many``)."""
        if hasattr(self.proposer, "revise_many"):
            return list(self.proposer.revise_many(parent, diagnostics, history, self.n_revisions))
        outcomes: list = []
        for _ in range(self.n_revisions):
            try:
                outcomes.append(self.proposer.revise(parent, diagnostics, history))
            except (ProposerError, LLMServerError, BudgetExhaustedError) as exc:
                outcomes.append(exc)
                if isinstance(exc, (BudgetExhaustedError, LLMUnavailableError)):
                    break
        return outcomes


class FunctionMove:
    """A search/selection function (:class:`SearchFunction` shape) as a move.

    Every call is charged its whole ``budget`` of val evaluations (an upper bound on
    what the function may spend), so the loop's evaluation budget is never exceeded.
    """

    def __init__(self, name: str, function: SearchFunction, *, budget: int) -> None:
        self.name = name
        self.function = function
        self.budget = budget

    def propose(self, parent: System, context: MoveContext) -> MoveResult:
        """The function's improved system(s)."""
        budget = self.budget if context.evaluation_budget is None else min(self.budget, context.evaluation_budget)
        if budget <= 0:
            return MoveResult(candidates=[])
        found = self.function(parent, context.train, context.val, seed=context.seed, budget=budget)
        candidates = list(found) if isinstance(found, (list, tuple)) else [found]
        return MoveResult(candidates=candidates, evaluations=budget)


def _search_function(move_name: str) -> SearchFunction:
    module_name, attribute = SEARCH_FUNCTIONS[move_name]
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise InputError(
            f"move {move_name!r} is unavailable ({module_name}.{attribute} is not installed); remove it from --moves"
        ) from None


def check_moves(config: RunConfig) -> None:
    """Raise InputError when a configured move cannot run (checked before a run dir is created)."""
    if "llm_revise" in config.moves and config.lm == "none":
        raise InputError("move 'llm_revise' needs a proposer; pass --lm or remove it from --moves")
    for name in config.moves:
        if name in SEARCH_FUNCTIONS:
            _search_function(name)
    if config.storage is not None and "knob_search" not in config.moves:
        raise InputError("--storage holds the knob_search move's studies; add knob_search to --moves or drop --storage")
    check_storage(config.storage)


def build_moves(config: RunConfig, proposer: Any | None, run_dir: str | Path | None = None) -> list[Move]:
    """The moves named in ``config.moves``, in that order (InputError when one is unavailable).

    ``run_dir`` holds the knob search's default journal (in memory without one).
    """
    from cotclip.optimizer.loop.merge import MergeMove

    fit = FitRulesMove(
        min_images=config.fit_min_images, min_evidence=config.fit_min_evidence, temperature=config.temperature
    )
    moves: list[Move] = []
    for name in config.moves:
        if name == "fit_rules":
            moves.append(fit)
        elif name == "merge":
            moves.append(MergeMove(fit, max_options=max(config.max_options, 2) * 2))
        elif name == "refine_rules":
            moves.append(RefineRulesMove(temperature=config.temperature))
        elif name == "llm_revise":
            if proposer is None:
                raise InputError("move 'llm_revise' needs a proposer; pass --lm or remove it from --moves")
            moves.append(
                LLMRevisionMove(
                    proposer, n_revisions=config.revisions_per_round, fit=fit if config.fit_after_revise else None
                )
            )
        elif name == "tune_scoring":
            moves.append(TuneScoringMove())
        elif name == "knob_search":
            moves.append(KnobSearchMove(budget=config.search_budget, run_dir=run_dir, storage=config.storage))
        else:
            moves.append(FunctionMove(name, _search_function(name), budget=config.search_budget))
    return moves
