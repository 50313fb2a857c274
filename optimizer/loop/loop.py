"""The orchestration of ``cotclip optimize``: propose, evaluate on val, diagnose on train, move, stop.

State lives in the run dir, not in memory: every evaluated candidate is a version
file, and ``progress.json`` records finished rounds, which (parent, move) pairs were
expanded, spent budgets, LLM usage, the proposer's state and the current round's plan.
Resume is exact: a round's plan (its (parent, move) pairs) is fixed and stored when the
round starts, and before each pair the loop stores what the pair may see (how many
versions existed, the search evaluations spent, the proposer's state). A resumed run
continues the stored plan at the pair that was cut short, restores that pair's view and
replays it; candidates whose fingerprint is already recorded are not evaluated again, so
the resumed run ends with the same versions as an uninterrupted one.

Round 0 records the proposals and the class-name baseline as a system
(:func:`~cotclip.optimizer.loop.choice.baseline_system`), so the run can always fall back
to the names. Later rounds expand the ``beam`` best versions, widened by one more lineage
per stale round (a restart from the next-best lineage); the run stops as converged only
when it has stalled for ``patience`` rounds and the recent gain per evaluation, times
the evaluations left, no longer promises ``min_delta``
(:meth:`~cotclip.optimizer.loop.stopping.Convergence.converged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cotclip.optimizer.loop._base import Move, MoveContext, MoveResult, lock_violations
from cotclip.optimizer.loop.choice import BASELINE_MOVE, baseline_system, name_only_system
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import RunData
from cotclip.optimizer.loop.progress import PROGRESS, Resumable, fresh_progress, llm_use_over_sessions
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, utc_now
from cotclip.optimizer.loop.stopping import Budgets, Convergence, Spent, budget_spent, paid_llm_calls, stale_rounds
from cotclip.optimizer.proposers import ProposalTask, Proposer, ScoredVersion
from cotclip.scoring.diagnostics import Diagnostics, diagnose
from cotclip.scoring.scorer import accuracy
from cotclip.systems.errors import (
    BudgetExhaustedError,
    EncoderError,
    InputError,
    LLMUnavailableError,
    ProposerError,
    SystemValidationError,
)
from cotclip.systems.model import Provenance, System

__all__ = ["OptimizationLoop", "history_for_proposer"]

PROPOSER_LOG = "proposer_log.jsonl"


def history_for_proposer(versions: list[VersionRecord], best: int = 5, worst: int = 3) -> list[ScoredVersion]:
    """A short score history for the LLM: the best versions first, then the worst (OPRO style)."""
    ranked = sorted(versions, key=lambda v: (-v.val_accuracy, v.number))
    chosen = ranked[:best] + [v for v in ranked[best:][-worst:]]
    return [ScoredVersion(system=v.system, val_accuracy=v.val_accuracy, move=v.move) for v in chosen]


class OptimizationLoop:
    """One run of the loop over prepared data (see module docstring)."""

    def __init__(
        self,
        config: RunConfig,
        run: RunDir,
        data: RunData,
        proposer: Proposer | None,
        moves: list[Move],
        *,
        on_version: Callable[[VersionRecord, float], None] | None = None,
        started: float | None = None,
    ) -> None:
        self.config = config
        self.run = run
        self.data = data
        self.proposer = proposer
        self.moves = moves
        self.on_version = on_version
        self.versions = run.load_versions()
        self.by_fingerprint = {v.system.fingerprint(): v for v in self.versions}
        self.progress = run.read_json(PROGRESS, default=None) or fresh_progress()
        self._restore_proposer(self.progress.get("proposer_state"))
        self.budgets = Budgets(config.max_evaluations, config.max_llm_calls, config.max_usd, config.max_wall_s)
        self.convergence = Convergence(config.min_delta, config.patience)
        self._started = time.perf_counter() if started is None else started  # the session's start: wall budget
        self._llm_before = dict(self.progress["llm"])
        self._diagnostics: dict[str, Diagnostics] = {}
        self._loop_seconds = 0.0
        self._llm_seconds = 0.0
        self._records_logged = 0
        self.timing = {"evaluate_s": 0.0, "store_s": 0.0, "moves_s": 0.0}
        """Seconds this session spent evaluating on val, writing versions, and inside moves (LLM latency excluded)."""

    def _restore_proposer(self, state: dict[str, Any] | None) -> None:
        if state is not None and isinstance(self.proposer, Resumable):
            self.proposer.restore_state(state)

    def _proposer_state(self) -> dict[str, Any] | None:
        return self.proposer.state() if isinstance(self.proposer, Resumable) else None

    # ----- accounting ----------------------------------------------------------------
    def llm_usage(self) -> dict[str, Any]:
        """LLM usage over every session of this run."""
        return llm_use_over_sessions(self._llm_before, None if self.proposer is None else self.proposer.usage)

    def spent(self) -> Spent:
        """Budgets used so far over all sessions."""
        llm = self.llm_usage()
        return Spent(
            evaluations=len(self.versions) + self.progress["search_evaluations"],
            llm_calls=paid_llm_calls(llm),
            usd=float(llm["usd"] or 0.0),
            wall_s=self.progress["wall_s"] + time.perf_counter() - self._started,
        )

    def _save_progress(self) -> None:
        snapshot = dict(self.progress)
        snapshot["llm"] = self.llm_usage()
        snapshot["wall_s"] = self.spent().wall_s
        snapshot["proposer_state"] = self._proposer_state()
        self.run.write_json(PROGRESS, snapshot, durable=False)

    # ----- evaluation and recording --------------------------------------------------
    def best(self) -> VersionRecord:
        """The best version on val (ties: the earliest)."""
        return max(self.versions, key=lambda v: (v.val_accuracy, -v.number))

    def _record(
        self, system: System, move: str, parent: VersionRecord | None, round_: int, details: dict
    ) -> VersionRecord | None:
        fingerprint = system.fingerprint()
        if fingerprint in self.by_fingerprint:
            return None
        if budget_spent(self.budgets, self.spent()) == "max_evaluations":
            raise BudgetExhaustedError("evaluation budget spent")
        started = utc_now()
        number = len(self.versions) + 1
        named = system.model_copy(
            update={
                "name": f"{self.config.name}-v{number:04d}",
                "provenance": Provenance(
                    parent=parent.version_id if parent else None, method=move, details=details, created_at=started
                ),
            }
        )
        clock = time.perf_counter()
        value = accuracy(named, self.data.val, temperature=self.config.temperature)
        self.timing["evaluate_s"] += time.perf_counter() - clock
        record = VersionRecord(
            number,
            named,
            float(value),
            len(self.data.val.labels),
            move,
            parent.version_id if parent else None,
            round_,
            started,
            utc_now(),
            details,
        )
        clock = time.perf_counter()
        self.run.save_version(record)
        self.versions.append(record)
        self.by_fingerprint[fingerprint] = record
        self._save_progress()
        self.timing["store_s"] += time.perf_counter() - clock
        if self.on_version is not None:
            self.on_version(record, self.best().val_accuracy)
        return record

    def _log_proposer(
        self, move: str, parent: str | None, produced: int, errors: list[str], usage_before: dict
    ) -> None:
        records = list(getattr(self.proposer, "records", []))
        for answer in records[self._records_logged :]:
            self.run.append_jsonl(PROPOSER_LOG, {"move": move, "parent": parent, "answer": answer})
        self._records_logged = len(records)
        after = self.llm_usage()
        self.run.append_jsonl(
            PROPOSER_LOG,
            {
                "at": utc_now(),
                "move": move,
                "parent": parent,
                "candidates": produced,
                "errors": errors,
                "calls": after["calls"] - usage_before["calls"],
                "tokens": after["prompt_tokens"]
                + after["completion_tokens"]
                - usage_before["prompt_tokens"]
                - usage_before["completion_tokens"],
            },
        )

    # ----- round 0: proposals --------------------------------------------------------
    def _check_classes(self, system: System, what: str) -> None:
        if list(system.classes) != list(self.data.classes) and set(system.classes) != set(self.data.classes):
            missing = sorted(set(self.data.classes) - set(system.classes))
            extra = sorted(set(system.classes) - set(self.data.classes))
            raise InputError(
                f"{what} classes do not match the data (missing {missing[:3]}, extra {extra[:3]}); "
                "fix the system or pass --classes"
            )

    def _proposals(self, task: ProposalTask) -> list[System]:
        if self.proposer is None:
            return []
        before = self.llm_usage()
        started = time.perf_counter()
        try:
            systems = list(self.proposer.propose(task))
        except ProposerError as exc:
            self._llm_seconds += time.perf_counter() - started
            self._log_proposer("propose", None, 0, [exc.message], before)
            if self.config.init is None:
                raise
            return []
        self._llm_seconds += time.perf_counter() - started
        self._log_proposer("propose", None, len(systems), [], before)
        return systems

    def initial_round(self, task: ProposalTask, user_system: System | None) -> None:
        """Evaluate the user system (if any) and the proposer's K candidates; round 0."""
        if user_system is not None:
            self._check_classes(user_system, "the --init system's")
            self._record(user_system, "init", None, 0, {})
        try:
            proposals = self._proposals(task)
        except BudgetExhaustedError:
            if not self.versions:  # the budget ended before any proposal: the run still hands back the baseline
                self._record_baseline(name_only_system(list(self.data.classes)))
            raise
        if not proposals and user_system is None:
            raise ProposerError(
                f"the proposer ({self.config.lm}) returned no valid system; "
                "try another --lm or start from --init SYSTEM"
            )
        for system in proposals:
            self._check_classes(system, "a proposed system's")
            # keep what the proposer recorded (LM, instructions' sha256, repairs): which prompts made this version
            self._record(system, "propose", None, 0, dict(system.provenance.details))
        self._record_baseline(baseline_system(self.versions[0].system))

    def _record_baseline(self, baseline: System) -> None:
        """Record the fallback every run has (class names only) and close round 0."""
        try:
            self._record(baseline, BASELINE_MOVE, None, 0, {})
        except EncoderError as exc:  # an encoder that cannot embed class names has no name baseline
            self.progress["rejected"].append({"move": BASELINE_MOVE, "parent": None, "why": [exc.message]})
        self.progress["rounds_done"] = 0
        self.progress["round_bests"] = [self.best().val_accuracy] if self.versions else []
        self._save_progress()

    # ----- later rounds: moves -------------------------------------------------------
    def _diagnose(self, version: VersionRecord) -> Diagnostics:
        key = version.version_id
        if key not in self._diagnostics:
            self._diagnostics[key] = diagnose(version.system, self.data.train, temperature=self.config.temperature)
        return self._diagnostics[key]

    def _open_moves(self, version: VersionRecord) -> list[Move]:
        done = {tuple(pair) for pair in self.progress["expanded"]}
        return [m for m in self.moves if m.name == "llm_revise" or (version.version_id, m.name) not in done]

    def _parents(self) -> list[tuple[VersionRecord, list[Move]]]:
        """The best versions with open moves: ``beam`` of them, one more per stale round (restarts)."""
        ranked = sorted(self.versions, key=lambda v: (-v.val_accuracy, v.number))
        width = self.config.beam + stale_rounds(self.progress["round_bests"], self.config.min_delta)
        chosen = []
        for version in ranked:
            moves = self._open_moves(version)
            if moves:
                chosen.append((version, moves))
            if len(chosen) == width:
                break
        return chosen

    def _apply(self, move: Move, parent: VersionRecord, round_: int, view: dict[str, Any]) -> int:
        """Apply one move; ``view`` fixes what it sees (versions and budget at the pair's start), for exact resumes."""
        seen = self.versions[: view["versions"]]
        left = self.budgets.max_evaluations
        if left is not None:
            left = max(0, left - view["versions"] - view["search_evaluations"])
        context = MoveContext(
            train=self.data.train,
            val=self.data.val,
            diagnostics=self._diagnose(parent),
            history=history_for_proposer(seen),
            seed=self.config.seed * 1000 + round_,
            evaluation_budget=left,
        )
        before = self.llm_usage()
        clock = time.perf_counter()
        try:
            result: MoveResult = move.propose(parent.system, context)
        except SystemValidationError as exc:  # a move built an invalid system: reject it, keep the run
            result = MoveResult(candidates=[], errors=[exc.message])
            self.progress["rejected"].append({"move": move.name, "parent": parent.version_id, "why": [exc.message]})
        self._llm_seconds += result.llm_seconds
        self.timing["moves_s"] += time.perf_counter() - clock - result.llm_seconds
        self.progress["search_evaluations"] = view["search_evaluations"] + result.evaluations
        for relative, document in result.artifacts.items():
            self.run.write_json(relative, {**document, "parent": parent.version_id, "round": round_})
        if move.name == "llm_revise":
            self._log_proposer(move.name, parent.version_id, len(result.candidates), result.errors, before)
        recorded = 0
        for candidate in result.candidates:
            problems = lock_violations(parent.system, candidate)
            if problems:
                self.progress["rejected"].append({"move": move.name, "parent": parent.version_id, "why": problems})
                continue
            recorded += self._record(candidate, move.name, parent, round_, dict(result.details)) is not None
        self.progress["expanded"].append([parent.version_id, move.name])  # saved with the next pair or round
        return recorded

    def _plan(self, round_: int) -> dict[str, Any]:
        """The round's stored plan, or a new one (its (parent, move) pairs fixed now)."""
        plan = self.progress.get("plan")
        if plan is None or plan["round"] != round_:
            pairs = [[parent.version_id, move.name] for parent, moves in self._parents() for move in moves]
            plan = {"round": round_, "pairs": pairs, "next": 0, "view": None}
            self.progress["plan"] = plan
        return plan

    def one_round(self, round_: int) -> int:
        """Apply the round's plan (every open move of the best versions); returns how many new versions."""
        plan = self._plan(round_)
        by_id = {v.version_id: v for v in self.versions}
        moves = {m.name: m for m in self.moves}
        while plan["next"] < len(plan["pairs"]):
            if budget_spent(self.budgets, self.spent()):
                break  # the round ends early; _stop_reason names the budget
            parent_id, move_name = plan["pairs"][plan["next"]]
            if plan["view"] is None:  # a new pair; otherwise it was cut short: replay it as it was
                plan["view"] = {
                    "versions": len(self.versions),
                    "search_evaluations": self.progress["search_evaluations"],
                    "proposer": self._proposer_state(),
                }
                self._save_progress()
            self._restore_proposer(plan["view"]["proposer"])
            self._apply(moves[move_name], by_id[parent_id], round_, plan["view"])
            plan["next"], plan["view"] = plan["next"] + 1, None
        self.progress["rounds_done"] = round_
        self.progress["round_bests"].append(self.best().val_accuracy)
        self.progress["plan"] = None
        self._save_progress()
        return sum(1 for v in self.versions if v.round == round_)

    def _stop_reason(self, produced: int) -> str | None:
        reason = budget_spent(self.budgets, self.spent())
        if reason:
            return reason
        if self.convergence.converged(
            self.progress["round_bests"], self._evaluations_at_round_end(), self.budgets.evaluations_left(self.spent())
        ):
            return "converged"
        if produced == 0 and not self._parents():
            return "exhausted"
        return None

    def _evaluations_at_round_end(self) -> list[int]:
        """Versions recorded by the end of each finished round (search trials are not versions)."""
        rounds = self.progress["rounds_done"]
        return [sum(1 for v in self.versions if v.round <= r) for r in range(rounds + 1)]

    def optimize(self, task: ProposalTask, user_system: System | None) -> str:
        """Run (or continue) the loop until it stops; returns ``stopped_because``."""
        self.progress["sessions"] += 1
        loop_started = time.perf_counter()
        try:
            if self.progress["rounds_done"] < 0:
                self.initial_round(task, user_system)
            reason = self._stop_reason(produced=1)
            while reason is None:
                produced = self.one_round(self.progress["rounds_done"] + 1)
                reason = self._stop_reason(produced)
        except (BudgetExhaustedError, LLMUnavailableError) as exc:  # a budget, or an LLM that failed every attempt
            reason = getattr(exc, "reason", None) or (
                "max_evaluations"
                if "evaluation" in exc.message
                else budget_spent(self.budgets, self.spent()) or "max_llm_calls"
            )
        self._loop_seconds = time.perf_counter() - loop_started - self._llm_seconds
        self.progress["stopped_because"] = reason
        self._save_progress()
        return reason

    def overhead_per_evaluation(self, evaluations_this_session: int) -> float:
        """Seconds of loop time per evaluation in this session, LLM latency excluded."""
        return self._loop_seconds / max(1, evaluations_this_session)
