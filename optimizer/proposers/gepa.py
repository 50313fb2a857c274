"""GEPA over the proposer's instructions: better ``prompts/*.md`` from measured accuracy.

The optimized components are the instruction files of the LLM proposer (by default
``propose``; any of ``propose``, ``revise``, ``complete_rules``). A candidate is a
mapping ``{name: instruction text}``; to score it on one :class:`ProposerCase` the
candidate is written as a prompts folder, a proposer built on that folder
(``make_proposer(prompts_dir)``) proposes one system for the case's task, and:

* score = val accuracy of the proposed system (0 when no valid system came back);
* feedback = the diagnostics of that system on the case's train images (worst classes,
  top confusions, classes with identical rules, unreliable groups), or the proposer's
  error. GEPA's reflection LM reads score + feedback and rewrites the instructions.

Budgets: ``max_metric_calls`` bounds case evaluations (each costs the proposer's LLM
calls, bounded by its own ``Budget``); ``max_reflection_calls`` bounds the reflection
LM's calls. The best instructions are saved as ``<run_dir>/prompts/<name>.md`` (with
the unoptimized files copied beside them), a folder the proposer accepts as
``prompts_dir`` (``--prompts-dir`` of ``cotclip optimize``/``propose``) for the next task.

Every rewrite the reflection LM proposed is recorded in the result (``proposals``: its
text, the scores it got and whether GEPA kept it), so an outcome of "the given
instructions stay" shows what was tried and why it lost, rather than nothing.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cotclip.optimizer.proposers import ProposalTask, Proposer
from cotclip.optimizer.proposers.signatures import load_instructions
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import ImageSet, accuracy
from cotclip.systems.errors import CotclipError, InputError
from cotclip.systems.model import System

if TYPE_CHECKING:
    from gepa import EvaluationBatch
    from gepa.core.adapter import ProposalFn
    from gepa.core.result import GEPAResult

#: What one case's evaluation leaves for the reflection: the classes, the proposed system and its feedback.
_Trace = dict[str, Any]

__all__ = [
    "ProposerCase",
    "ProposerOptimization",
    "ProposerAdapter",
    "optimize_proposer",
    "feedback_of",
    "PROMPT_NAMES",
]

logger = logging.getLogger(__name__)
PROMPT_NAMES = ("propose", "revise", "complete_rules")


@dataclass(frozen=True)
class ProposerCase:
    """One task to propose for, with the images that score (val) and diagnose (train) the answer."""

    task: ProposalTask
    train: ImageSet
    val: ImageSet


@dataclass(frozen=True)
class ProposerOptimization:
    """Result: the best instructions, their score and where the prompts folder was written."""

    instructions: dict[str, str]
    seed_score: float
    best_score: float
    prompts_dir: Path
    candidates: int
    metric_calls: int
    reflection_calls: int
    scores: list[float] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (instruction texts included)."""
        return {
            "instructions": dict(self.instructions),
            "seed_score": self.seed_score,
            "best_score": self.best_score,
            "prompts_dir": str(self.prompts_dir),
            "candidates": self.candidates,
            "metric_calls": self.metric_calls,
            "reflection_calls": self.reflection_calls,
            "candidate_scores": list(self.scores),
            "proposals": [dict(p) for p in self.proposals],
        }


def feedback_of(system: System, train: ImageSet, val_accuracy: float) -> str:
    """Short textual diagnostics of a proposed system (what the reflection LM reads)."""
    found = diagnose(system, train)
    lines = [f"val accuracy {val_accuracy:.3f}; train accuracy {found.accuracy:.3f}"]
    worst = sorted(found.per_class.items(), key=lambda item: item[1])[:3]
    lines.append("weakest classes: " + ", ".join(f"{c} ({a:.2f})" for c, a in worst))
    if found.confusions:
        lines.append("most confused: " + "; ".join(f"{t} taken for {p} x{n}" for t, p, n in found.confusions[:3]))
    for classes in found.identical_signatures[:3]:
        lines.append(f"identical rules, can never be told apart: {', '.join(classes)}")
    weak = [g for g, r in found.group_reliability.items() if r < 0.5]
    if weak:
        lines.append("groups the encoder rarely answers as the rules say: " + ", ".join(weak))
    return "\n".join(lines)


def _write_prompts(directory: Path, instructions: dict[str, str], base: Path | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in PROMPT_NAMES:
        text = instructions.get(name)
        if text is None:
            source = base / f"{name}.md" if base else resources.files("cotclip.prompts").joinpath(f"{name}.md")
            text = source.read_text(encoding="utf-8")
        (directory / f"{name}.md").write_text(text.strip() + "\n", encoding="utf-8")
    return directory


class ProposerAdapter:
    """The ``gepa`` adapter: evaluates instruction candidates by proposing and scoring systems."""

    def __init__(self, make_proposer: Callable[[Path], Proposer], base_prompts: Path | None = None) -> None:
        self.make_proposer = make_proposer
        self.base_prompts = base_prompts
        self.metric_calls = 0
        self.evaluated: list[tuple[dict[str, str], list[float]]] = []  # (candidate, its scores) per evaluate call
        self.propose_new_texts: ProposalFn | None = None  # use GEPA's own reflective proposal

    def _score(self, proposer: Proposer, case: ProposerCase) -> tuple[float, str, str]:
        try:
            system = proposer.propose(replace(case.task, n_candidates=1))[0]
        except CotclipError as exc:
            return 0.0, "", f"no valid system: {exc.message}"
        score = accuracy(system, case.val)
        return score, system.to_json(), feedback_of(system, case.train, score)

    def evaluate(
        self, batch: Sequence[ProposerCase], candidate: dict[str, str], capture_traces: bool = False
    ) -> EvaluationBatch[_Trace, str]:
        """Propose one system per case with the candidate's instructions; score on val."""
        from gepa import EvaluationBatch

        with tempfile.TemporaryDirectory(prefix="cotclip-prompts-") as scratch:
            proposer = self.make_proposer(_write_prompts(Path(scratch), candidate, self.base_prompts))
            results = [self._score(proposer, case) for case in batch]
        self.metric_calls += len(batch)
        self.evaluated.append((dict(candidate), [s for s, _, _ in results]))
        traces = [
            {"classes": list(case.task.classes), "system": text, "feedback": feedback}
            for case, (_, text, feedback) in zip(batch, results)
        ]
        return EvaluationBatch(
            outputs=[text for _, text, _ in results],
            scores=[s for s, _, _ in results],
            trajectories=traces if capture_traces else None,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: EvaluationBatch[_Trace, str], components_to_update: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per component: the task, the proposed system and its score + diagnostics feedback."""
        records = [
            {
                "Inputs": {"classes": ", ".join(trace["classes"])},
                "Generated Outputs": trace["system"][:1500] or "(nothing valid)",
                "Feedback": f"score {score:.3f} (val accuracy of the proposed system)\n{trace['feedback']}",
            }
            for trace, score in zip(eval_batch.trajectories or [], eval_batch.scores)
        ]
        return {name: records for name in components_to_update}


def _proposals(
    evaluated: list[tuple[dict[str, str], list[float]]], seed: dict[str, str], kept: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """Each distinct non-seed candidate GEPA evaluated: its instructions, mean score per evaluation, kept or not."""
    found: list[dict[str, Any]] = []
    for candidate, scores in evaluated:
        if candidate == seed:
            continue
        entry = next((e for e in found if e["instructions"] == candidate), None)
        if entry is None:
            entry = {"instructions": candidate, "scores": [], "accepted": candidate in kept}
            found.append(entry)
        entry["scores"].append(sum(scores) / len(scores) if scores else 0.0)
    return found


class _Reflection:
    """Adapts any DSPy LM (or ``str -> str`` callable) to GEPA's reflection LM, counting calls."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.calls = 0

    def __call__(self, prompt: str | list[dict[str, Any]]) -> str:
        self.calls += 1
        answer = self.lm(messages=prompt) if isinstance(prompt, list) else self.lm(prompt)
        if isinstance(answer, list):
            answer = answer[0] if answer else ""
        if isinstance(answer, dict):
            answer = answer.get("text", "")
        return str(answer)


class _LogToLogging:
    """GEPA's logger protocol routed to this module's logger (GEPA prints to stdout otherwise)."""

    def log(self, message: str) -> None:
        """Record one GEPA progress line at DEBUG level."""
        logger.debug("gepa: %s", message)


def optimize_proposer(
    cases: Sequence[ProposerCase],
    make_proposer: Callable[[Path], Proposer],
    reflection_lm: Any,
    run_dir: str | Path,
    *,
    components: Sequence[str] = ("propose",),
    max_metric_calls: int = 24,
    max_reflection_calls: int = 8,
    base_prompts: Path | None = None,
    seed: int = 0,
) -> ProposerOptimization:
    """Run GEPA on the proposer's instruction files; save the best as ``<run_dir>/prompts``.

    ``make_proposer(prompts_dir)`` builds a proposer reading its instructions from that
    folder (e.g. ``lambda d: LLMProposer(client, budget=Budget(max_calls=...), prompts_dir=d)``).
    The reflection LM may overshoot ``max_reflection_calls`` by at most
    ``len(components)`` (the stop check runs between GEPA iterations).
    """
    import gepa

    unknown = sorted(set(components) - set(PROMPT_NAMES))
    if unknown or not components:
        raise InputError(f"unknown prompt component(s) {unknown}; choose from {', '.join(PROMPT_NAMES)}")
    if not cases or max_metric_calls < len(cases) or max_reflection_calls < 1:
        raise InputError("give at least one case, max_metric_calls >= number of cases and max_reflection_calls >= 1")
    seed_candidate = {name: load_instructions(name, base_prompts).text for name in components}
    adapter = ProposerAdapter(make_proposer, base_prompts)
    reflection = _Reflection(reflection_lm)
    result: GEPAResult[str, int] = gepa.optimize(
        seed_candidate=seed_candidate,
        trainset=list(cases),
        valset=list(cases),
        adapter=adapter,
        reflection_lm=reflection,
        max_metric_calls=max_metric_calls,
        stop_callbacks=[lambda _state: reflection.calls >= max_reflection_calls],
        reflection_minibatch_size=min(len(cases), 3),
        logger=_LogToLogging(),
        display_progress_bar=False,
        skip_perfect_score=True,
        seed=seed,
    )
    outcome = _outcome(result, adapter, reflection.calls, seed_candidate, Path(run_dir) / "prompts", base_prompts)
    logger.info(
        "proposer instructions: val accuracy %.3f -> %.3f; %d rewrite(s) proposed, %d kept",
        outcome.seed_score,
        outcome.best_score,
        len(outcome.proposals),
        sum(p["accepted"] for p in outcome.proposals),
    )
    return outcome


def _outcome(
    result: GEPAResult[str, int],
    adapter: ProposerAdapter,
    reflection_calls: int,
    seed_candidate: dict[str, str],
    prompts_dir: Path,
    base_prompts: Path | None,
) -> ProposerOptimization:
    """The result of a GEPA run; the best instructions are written to ``prompts_dir``."""
    # the candidate itself (GEPA's best_candidate unwraps string seeds; ours is a mapping)
    best = dict(result.candidates[result.best_idx])
    kept = [dict(c) for c in result.candidates]
    return ProposerOptimization(
        instructions=best,
        seed_score=float(result.val_aggregate_scores[0]),
        best_score=float(result.val_aggregate_scores[result.best_idx]),
        prompts_dir=_write_prompts(prompts_dir, best, base_prompts),
        candidates=len(result.candidates),
        metric_calls=adapter.metric_calls,
        reflection_calls=reflection_calls,
        scores=[float(s) for s in result.val_aggregate_scores],
        proposals=_proposals(adapter.evaluated, seed_candidate, kept),
    )
