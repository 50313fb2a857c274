"""The LLM proposer: DSPy signatures, repair of every answer, retries with feedback, budgets.

Each candidate is one conversation of at most ``max_attempts`` answers: an answer
that cannot be repaired into a system is answered with its problem (``feedback``)
and asked again; after the last attempt the candidate counts as failed. Classes the
answer forgot are asked for once more (``complete_rules``), then set to null.
Every answer, with its repairs and usage, is appended to :attr:`LLMProposer.records`.

With ``concurrency`` > 1 the K conversations of :meth:`LLMProposer.propose_iter` and
the ``n`` revisions of :meth:`LLMProposer.revise_many` run at the same time through an
:class:`~cotclip.optimizer.llm.concurrency.LLMExecutor` (budget reserved before each
paid call); their systems and records are kept in candidate order, so the same seeds
and cached answers give the same systems and log at any concurrency.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cotclip.optimizer.llm.concurrency import LLMExecutor, LLMRequest
from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.llm.usage import Budget, Usage
from cotclip.optimizer.proposers import _feedback as feedback_text
from cotclip.optimizer.proposers._base import ProposalTask, ScoredVersion
from cotclip.optimizer.proposers.repair import (
    Draft,
    UnusableAnswerError,
    add_rules,
    draft_to_system,
    parse_answer,
    read_draft,
)
from cotclip.optimizer.proposers.signatures import (
    answer_model,
    complete_rules_signature,
    load_instructions,
    propose_signature,
    revise_signature,
)
from cotclip.systems.errors import BudgetExhaustedError, CotclipError, ProposerError, SystemValidationError
from cotclip.systems.model import System

__all__ = ["EMPHASES", "LLMProposer"]

logger = logging.getLogger(__name__)

#: What each of the K candidates is asked to emphasise (cycled), for diversity.
EMPHASES = (
    "the most visible colors and the overall body shape",
    "distinctive body parts and features (horns, wings, tails, ears)",
    "texture, pattern and the typical background scene",
    "pose, size and proportions",
    "questions that separate the most similar classes",
)


#: Seed distance between the revisions of one parent (a prime, far from the 1000 per attempt).
_REVISION_SEED_STEP = 7919
#: Seed distance between runs of different ``seed`` (a prime beyond any request's own offsets).
_RUN_SEED_STEP = 1_000_003


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class LLMProposer:
    """A :class:`~cotclip.optimizer.proposers._base.Proposer` backed by any DSPy LM.

    ``concurrency``: how many LLM calls may be in flight at once (1: one after the other).
    ``seed``: the run's seed; every request's sampling seed is offset by it, so runs of
    different seeds ask different samples (seed 0 asks what it always asked).
    """

    def __init__(
        self,
        client: LLMClient,
        *,
        budget: Budget | None = None,
        prompts_dir: Path | None = None,
        max_attempts: int = 3,
        temperature_step: float = 0.15,
        concurrency: int = 1,
        seed: int = 0,
    ) -> None:
        self.client = client
        self.seed_offset = _RUN_SEED_STEP * seed
        self.budget = budget or Budget()
        self.prompts_dir = prompts_dir
        self.max_attempts = max(1, max_attempts)
        self.temperature_step = temperature_step
        self.stopped_because: str | None = None
        self.executor = LLMExecutor(client, budget=self.budget, concurrency=concurrency)
        self._records: list[dict[str, Any]] = []
        self._limits: tuple[int, int] | None = None

    @property
    def usage(self) -> Usage:
        """LLM use so far (every call, cached ones included)."""
        return self.executor.usage

    @property
    def records(self) -> list[dict[str, Any]]:
        """One JSON-able line per answer: raw text, repairs, error, usage."""
        return list(self._records)

    # ----- propose -------------------------------------------------------------------
    def propose(self, task: ProposalTask) -> list[System]:
        """Up to ``task.n_candidates`` valid systems (see the Proposer contract)."""
        systems = list(self.propose_iter(task))
        if not systems:
            raise ProposerError(self.failure_message(task.n_candidates))
        return systems

    def propose_iter(self, task: ProposalTask) -> Iterator[System]:
        """Yield each valid candidate as soon as it exists (failed candidates are skipped).

        Stops early, setting :attr:`stopped_because`, when the budget is spent after at
        least one candidate; raises :class:`BudgetExhaustedError` if none was made.
        """
        self._limits = (task.max_groups, task.max_options)
        instructions = load_instructions("propose", self.prompts_dir)
        signature = propose_signature(answer_model(list(task.classes), *self._limits), instructions)

        def candidate(index: int) -> tuple[System | None, list[dict[str, Any]], CotclipError | None]:
            inputs, meta = self._candidate_request(task, index)
            log: list[dict[str, Any]] = []
            try:
                return (
                    self._conversation(
                        signature,
                        inputs,
                        list(task.classes),
                        instructions,
                        meta,
                        name=f"candidate_{index + 1:02d}",
                        parent=None,
                        log=log,
                    ),
                    log,
                    None,
                )
            except CotclipError as exc:  # answers paid before it are still recorded
                return None, log, exc

        made, exhausted, failed, serial = 0, None, None, self.executor.concurrency == 1
        for result in self.executor.imap(candidate, range(task.n_candidates)):
            system, log, error = (None, [], result) if isinstance(result, CotclipError) else result
            self._records.extend(log)
            if isinstance(error, BudgetExhaustedError):
                exhausted = self.stopped_because = error.message
            elif error is not None:
                failed = failed or error
            elif system is not None:
                made += 1
                yield system
            if serial and (exhausted or failed):  # one by one, nothing after this candidate was asked
                break
        if failed is not None:  # raised after every candidate already paid for was handed out
            raise failed
        if made == 0 and exhausted is not None:
            raise BudgetExhaustedError(exhausted)

    def _candidate_request(self, task: ProposalTask, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The signature inputs and the record metadata of candidate ``index`` (its emphasis and temperature)."""
        emphasis = EMPHASES[index % len(EMPHASES)]
        temperature = self.client.config.temperature + self.temperature_step * index
        inputs = {
            "classes": list(task.classes),
            "domain": task.domain or "images of the listed classes",
            "notes": "\n".join(f"- {c}: {n}" for c, n in task.notes.items()),
            "limits": self._limits_text(),
            "emphasis": emphasis,
        }
        meta = {
            "method": "llm-propose",
            "candidate": index + 1,
            "emphasis": emphasis,
            "temperature": round(temperature, 3),
            "seed": self.seed_offset + index,
        }
        return inputs, meta

    # ----- revise --------------------------------------------------------------------
    def revise(self, system: System, diagnostics: Any, history: list[ScoredVersion]) -> System:
        """One improved system from the diagnostics and the score history; locks are kept."""
        (outcome,) = self.revise_many(system, diagnostics, history, 1)
        if isinstance(outcome, CotclipError):
            raise outcome
        return outcome

    def revise_many(
        self, system: System, diagnostics: Any, history: list[ScoredVersion], n: int
    ) -> list[System | CotclipError]:
        """``n`` revisions asked at once (up to ``concurrency`` in flight), in order.

        Each slot holds the revised system or the error that revision ended with
        (:class:`ProposerError`, :class:`LLMServerError`, :class:`BudgetExhaustedError`).
        Revision ``i`` is asked with seed ``len(history) + 7919 * i`` (plus the run's
        offset), so the ``n`` answers differ (revision 0 is exactly what :meth:`revise` asks).
        """
        max_groups, max_options = self._limits or (
            max(len(system.groups) + 1, 5),
            max(8, max(len(g.options) for g in system.groups) + 2),
        )
        self._limits = (max_groups, max_options)
        instructions = load_instructions("revise", self.prompts_dir)
        signature = revise_signature(answer_model(list(system.classes), max_groups, max_options), instructions)
        own = [v.val_accuracy for v in history if v.system.fingerprint() == system.fingerprint()]
        inputs = {
            "current_system": feedback_text.compact_json(feedback_text.system_as_answer(system)),
            "scores": feedback_text.describe_scores(system, diagnostics, own[-1] if own else None),
            "diagnostics": feedback_text.describe_diagnostics(system, diagnostics),
            "history": feedback_text.describe_history(history),
            "limits": self._limits_text(),
        }

        def revision(index: int) -> tuple[System | CotclipError, list[dict[str, Any]]]:
            meta = {
                "method": "llm-revise",
                "temperature": self.client.config.temperature,
                "seed": self.seed_offset + len(history) + _REVISION_SEED_STEP * index,
            }
            log: list[dict[str, Any]] = []
            try:
                revised = self._conversation(
                    signature,
                    inputs,
                    list(system.classes),
                    instructions,
                    meta,
                    name=f"{system.name}-revised",
                    parent=system.name,
                    log=log,
                )
                if revised is None:
                    return ProposerError(self.failure_message(1, what="revision", log=log)), log
                return feedback_text.keep_locks(system, revised), log
            except CotclipError as exc:  # answers paid before it are still recorded
                return exc, log

        outcomes: list[System | CotclipError] = []
        for result in self.executor.imap(revision, range(n)):
            outcome, log = (result, []) if isinstance(result, CotclipError) else result
            self._records.extend(log)
            outcomes.append(outcome)
        return outcomes

    # ----- one conversation ----------------------------------------------------------
    def _size_limits(self) -> tuple[int, int]:
        """(max groups, max options) of the current task; propose/revise set them (5 and 8 before either)."""
        return self._limits or (5, 8)

    def _limits_text(self) -> str:
        groups, options = self._size_limits()
        return f"at most {groups} groups; each group has 2 to {options} options"

    def _conversation(
        self, signature, inputs, classes, instructions, meta, *, name, parent, log: list[dict[str, Any]] | None = None
    ) -> System | None:
        """Ask up to ``max_attempts`` times, feeding problems back; the system or None (failed).

        Its answers' records go to ``log`` (default: :attr:`records`).
        """
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            answer = self._ask(
                signature,
                {**inputs, "feedback": problem},
                meta,
                attempt,
                seed=meta["seed"] + 1000 * (attempt - 1),
                log=log,
            )
            try:
                parsed = parse_answer(answer["text"])
                max_groups, max_options = self._size_limits()
                draft = read_draft(parsed.data, classes, max_groups=max_groups, max_options=max_options)
                draft = replace(draft, repairs=parsed.repairs + draft.repairs)
                if draft.missing_classes:
                    draft = self._complete_rules(draft, meta, log)
                provenance = {
                    "parent": parent,
                    "method": meta["method"],
                    "created_at": _now(),
                    "details": {
                        **{k: v for k, v in meta.items() if k != "method"},
                        "lm": self.client.config.model,
                        "prompt": instructions.name,
                        "prompt_sha256": instructions.sha256,
                        "attempts": attempt,
                    },
                }
                system = draft_to_system(draft, classes, name=name, provenance=provenance)
            except (UnusableAnswerError, SystemValidationError) as exc:
                problem = str(exc)
                answer["record"]["error"] = problem
                logger.info("answer %d of %s unusable: %s", attempt, name, problem)
                continue
            answer["record"]["repairs"] = system.provenance.details["repairs"]
            answer["record"]["system"] = name
            return system
        return None

    def _ask(
        self, signature, inputs, meta, attempt: int, seed: int, log: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """One budgeted call; its log record is appended (to ``log`` or :attr:`records`) and returned."""
        completion = self.executor.complete(LLMRequest(signature, inputs, meta["temperature"], seed))
        record = {
            "kind": meta["method"],
            "candidate": meta.get("candidate"),
            "attempt": attempt,
            "raw": completion.text,
            "repairs": [],
            "error": None,
            "usage": completion.usage.to_dict(),
            "request": completion.request_key,
        }
        (self._records if log is None else log).append(record)
        return {"text": completion.text, "record": record}

    def _complete_rules(self, draft: Draft, meta: dict[str, Any], log: list[dict[str, Any]] | None = None) -> Draft:
        """Ask once for the rules of classes the answer forgot; keep the draft if that fails."""
        if self.executor.ledger.spent():
            return replace(draft, repairs=draft.repairs + ("rules not asked again: the LLM budget is spent",))
        missing = list(draft.missing_classes)
        instructions = load_instructions("complete_rules", self.prompts_dir)
        signature = complete_rules_signature(missing, instructions)
        groups = [{"name": g.name, "options": list(g.options)} for g in draft.groups]
        answer = self._ask(
            signature,
            {"groups": feedback_text.compact_json(groups), "classes": missing},
            {**meta, "method": "llm-complete-rules"},
            1,
            seed=meta["seed"],
            log=log,
        )
        try:
            parsed = parse_answer(answer["text"]).data
        except UnusableAnswerError as exc:
            answer["record"]["error"] = str(exc)
            return draft
        completed = add_rules(draft, parsed)
        answer["record"]["repairs"] = list(completed.repairs[len(draft.repairs) :])
        return completed

    def failure_message(self, wanted: int, what: str = "candidate", log: list[dict[str, Any]] | None = None) -> str:
        """One line saying that no valid system came out, with the last problem seen (in ``log``)."""
        records = self._records if log is None else log
        last = next((r["error"] for r in reversed(records) if r.get("error")), "no answer")
        return (
            f"the LLM {self.client.config.model} gave no valid system for {wanted} {what}(s) in "
            f"{self.max_attempts} attempt(s) each (last problem: {last}); try a stronger --lm or fewer classes"
        )
