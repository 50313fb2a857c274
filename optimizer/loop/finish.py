"""The end of a run: choose the final version, score it and its rivals on test, write the results.

What one finished session leaves in the run dir: ``best.json`` (the final choice),
``summary.json`` (:class:`~cotclip.optimizer.loop.result.RunSummary`) and ``report.md``
with its plots. Test images are used here only, never by the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cotclip.optimizer.loop.choice import BASELINE_MOVE, choose_final, versus_baseline
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import RunData, encoder_calls, unique_inputs
from cotclip.optimizer.loop.final import baseline_on_test, pick_comparisons, score_on_test
from cotclip.optimizer.loop.knob_move import PARETO_FILE
from cotclip.optimizer.loop.loop import OptimizationLoop
from cotclip.optimizer.loop.report import write_report
from cotclip.optimizer.loop.result import HeldOutScore, RunSummary
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, current_version
from cotclip.optimizer.proposers.factory import llm_concurrency, proposer_mode
from cotclip.optimizer.proposers.tuning import PROPOSER_OPT_FILE
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.systems.model import System

if TYPE_CHECKING:
    from cotclip.optimizer.search import SearchResult  # imports Optuna: only when a search ran

__all__ = ["finish_run"]


def _on_test(config: RunConfig, data: RunData, label: str, record: VersionRecord) -> HeldOutScore:
    return score_on_test(
        label,
        record.system,
        data.test,
        temperature=config.temperature,
        n_resamples=config.bootstrap,
        seed=config.seed,
        version=record.version_id,
    )


def _test_scores(
    config: RunConfig, data: RunData, versions: list[VersionRecord], chosen: VersionRecord
) -> tuple[HeldOutScore, HeldOutScore | None, HeldOutScore | None]:
    """Test scores of the final choice, the best initial proposal and the ``--init`` system (None if absent)."""
    picked = pick_comparisons(versions)
    initial, user = picked["initial"], picked["user"]
    return (
        _on_test(config, data, "best (final choice on val)", chosen),
        None if initial is None else _on_test(config, data, "initial proposal", initial),
        None if user is None else _on_test(config, data, "--init system", user),
    )


def _run_reports(run: RunDir) -> tuple[SearchResult | None, dict[str, Any] | None, dict[str, Any]]:
    """The last knob search (as a SearchResult), the proposer optimization, and their summary entries."""
    pareto, tuning = run.read_json(PARETO_FILE), run.read_json(PROPOSER_OPT_FILE)
    entries: dict[str, Any] = {}
    search = None
    if pareto is not None:
        from cotclip.optimizer.search import SearchResult

        search = SearchResult.from_dict(pareto)
        entries["knob_search"] = {
            "file": PARETO_FILE,
            "parent": pareto.get("parent"),
            "study_name": search.study_name,
            "storage": search.storage,
            "n_trials": search.n_trials,
            "front": [{"trial": p.trial, "val_accuracy": p.accuracy, "prompts": p.prompts} for p in search.front],
        }
    if tuning is not None:
        entries["proposer_optimization"] = {k: v for k, v in tuning.items() if k != "instructions"}
    return search, tuning, entries


def _transfer(config: RunConfig, loop: OptimizationLoop) -> dict[str, Any]:
    """``{"transfer": table}`` when ``--transfer-model`` asked for one (the run's own row comes from the cache)."""
    if not config.transfer_models:
        return {}
    from cotclip.optimizer.loop.transfer import transfer_table

    settings = EncoderSettings(trust_remote_code=config.trust_remote_code)
    return {"transfer": transfer_table(config, loop.versions, config.transfer_models, settings=settings).to_dict()}


def _top_test_accuracy(
    config: RunConfig, data: RunData, loop: OptimizationLoop, top_id: str, chosen: VersionRecord, best: HeldOutScore
) -> float:
    """Test accuracy of the val-top version (the final choice's own score when they are the same version)."""
    top = next(v for v in loop.versions if v.version_id == top_id)
    if top is chosen:
        return best.accuracy
    return score_on_test(
        "top", top.system, data.test, temperature=config.temperature, n_resamples=100, seed=config.seed
    ).accuracy


def _others_on_test(config: RunConfig, data: RunData, systems: dict[str, System]) -> list[HeldOutScore]:
    """Test scores of systems from outside the run (e.g. a synthetic world's oracle), by label."""
    return [
        score_on_test(
            label, system, data.test, temperature=config.temperature, n_resamples=config.bootstrap, seed=config.seed
        )
        for label, system in systems.items()
    ]


def finish_run(
    config: RunConfig,
    run: RunDir,
    data: RunData,
    loop: OptimizationLoop,
    reason: str,
    session_evaluations: int,
    extra_systems: dict[str, System],
    llm_failures: list[dict[str, Any]],
) -> RunSummary:
    """Choose the final version, score on test, write ``best.json``, ``summary.json`` and ``report.md``."""
    chosen, choice = choose_final(loop.versions, data.train, data.val, temperature=config.temperature)
    best, initial, user = _test_scores(config, data, loop.versions, chosen)
    baseline, note = baseline_on_test(data.classes, data.test, n_resamples=config.bootstrap, seed=config.seed)
    extra = _others_on_test(config, data, extra_systems)
    current, why = current_version(loop.versions, chosen.version_id)
    top_test = _top_test_accuracy(config, data, loop, choice.top, chosen, best)
    baseline_val = next((v.val_accuracy for v in loop.versions if v.move == BASELINE_MOVE), None)
    verdict = versus_baseline(
        chosen.val_accuracy, baseline_val, best.accuracy, None if baseline is None else baseline.accuracy
    )
    search, tuning, reports = _run_reports(run)
    summary = RunSummary(
        run_dir=str(run.path),
        stopped_because=reason,
        versions=len(loop.versions),
        evaluations=loop.spent().evaluations,
        best_version=chosen.version_id,
        best_val_accuracy=chosen.val_accuracy,
        best=best,
        baseline=baseline,
        baseline_note=note,
        initial=initial,
        user_system=user,
        encoder_calls=encoder_calls(run),
        unique_inputs=unique_inputs(run, data),
        llm=loop.llm_usage(),
        wall_s=loop.spent().wall_s,
        loop_overhead_s_per_evaluation=loop.overhead_per_evaluation(session_evaluations),
        sessions=loop.progress["sessions"],
        versus_baseline=verdict,
        extra={
            "other_systems": [s.to_dict() for s in extra],
            "timing": dict(loop.timing),
            "session_evaluations": session_evaluations,
            "proposer": proposer_mode(config),
            "llm_concurrency": llm_concurrency(config) if proposer_mode(config) in ("staged", "oneshot") else None,
            "llm_failures": llm_failures,
            "current": {"version": current.version_id, "why": why},
            "final_choice": {**choice.to_dict(), "top_test_accuracy": top_test},
            **reports,
            **_transfer(config, loop),
        },
    )
    best_file = {"version": chosen.version_id, "val_accuracy": chosen.val_accuracy, "test_accuracy": best.accuracy}
    run.write_json("best.json", {**best_file, "system": chosen.system.to_dict()})
    run.write_json("summary.json", summary.to_dict())
    write_report(run.path, summary, loop.versions, extra, knob_search=search, proposer_optimization=tuning)
    return summary
