"""One ``cotclip optimize`` invocation: check inputs, open the run dir, run the loop, report on test.

Every user-caused problem (bad spec, empty class list, unsplittable data, unreadable
``--init``) is detected *before* the run dir is created, so a failed start leaves
nothing behind. A resume reads ``run.yaml`` and the versions first and refuses a
corrupt run dir without changing it.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.data import Inputs, RunData, encode_inputs, encoder_calls, load_inputs, unique_inputs
from cotclip.optimizer.loop.final import baseline_on_test, environment, pick_comparisons, score_on_test
from cotclip.optimizer.loop.knob_move import PARETO_FILE
from cotclip.optimizer.loop.loop import OptimizationLoop
from cotclip.optimizer.loop.moves import build_moves, check_moves
from cotclip.optimizer.loop.proposer_factory import build_proposer, proposer_mode
from cotclip.optimizer.loop.proposer_tuning import PROPOSER_OPT_FILE, check_proposer_options
from cotclip.optimizer.loop.report import write_report
from cotclip.optimizer.loop.result import HeldOutScore, RunSummary
from cotclip.optimizer.loop.runs import RunDir, VersionRecord
from cotclip.optimizer.proposers._base import ProposalTask
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.systems.errors import InputError, ProposerError, RunDirError
from cotclip.systems.io import load_system
from cotclip.systems.model import System

__all__ = ["optimize", "RESUME_OVERRIDES"]

#: Settings a resume may change (budgets and stopping); everything else comes from run.yaml.
RESUME_OVERRIDES = ("min_delta", "patience", "max_evaluations", "max_llm_calls", "max_usd", "max_wall_s")


def _read_notes(path: str | dict[str, str] | None) -> dict[str, str]:
    if path is None:
        return {}
    if isinstance(path, dict):
        return dict(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read notes file {path} ({type(exc).__name__}); pass a YAML/JSON mapping class: note") from None
    if not isinstance(data, dict):
        raise InputError(f"notes file {path} must map each class to a note (YAML/JSON mapping)")
    return {str(key): str(value) for key, value in data.items()}


def _task(config: RunConfig, inputs: Inputs) -> ProposalTask:
    return ProposalTask(
        classes=tuple(inputs.classes), domain=config.domain, notes=_read_notes(config.notes),
        max_groups=config.max_groups, max_options=config.max_options, n_candidates=config.n_proposals,
    )


def _test_scores(config: RunConfig, data: RunData, versions: list[VersionRecord]) -> dict[str, HeldOutScore | None]:
    picked = pick_comparisons(versions)
    labels = {"best": "best (val)", "initial": "initial proposal", "user": "--init system"}
    scores: dict[str, HeldOutScore | None] = {}
    for key, record in picked.items():
        scores[key] = None if record is None else score_on_test(
            labels[key], record.system, data.test, temperature=config.temperature,
            n_resamples=config.bootstrap, seed=config.seed, version=record.version_id,
        )
    return scores


def _run_reports(run: RunDir) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
    """The last knob search (as a SearchResult), the proposer optimization, and their summary entries."""
    pareto, tuning = run.read_json(PARETO_FILE), run.read_json(PROPOSER_OPT_FILE)
    entries: dict[str, Any] = {}
    search = None
    if pareto is not None:
        from cotclip.optimizer.search import SearchResult

        search = SearchResult.from_dict(pareto)
        entries["knob_search"] = {
            "file": PARETO_FILE, "parent": pareto.get("parent"), "study_name": search.study_name,
            "storage": search.storage, "n_trials": search.n_trials,
            "front": [{"trial": p.trial, "val_accuracy": p.accuracy, "prompts": p.prompts} for p in search.front],
        }
    if tuning is not None:
        entries["proposer_optimization"] = {k: v for k, v in tuning.items() if k != "instructions"}
    return search, tuning, entries


def _finish(config: RunConfig, run: RunDir, data: RunData, loop: OptimizationLoop, reason: str,
            session_evaluations: int, extra_systems: dict[str, System]) -> RunSummary:
    scores = _test_scores(config, data, loop.versions)
    baseline, note = baseline_on_test(data.classes, data.test, n_resamples=config.bootstrap, seed=config.seed)
    extra = [score_on_test(label, system, data.test, temperature=config.temperature, n_resamples=config.bootstrap,
                           seed=config.seed) for label, system in extra_systems.items()]
    best = loop.best()
    search, tuning, reports = _run_reports(run)
    summary = RunSummary(
        run_dir=str(run.path), stopped_because=reason, versions=len(loop.versions), evaluations=loop.spent().evaluations,
        best_version=best.version_id, best_val_accuracy=best.val_accuracy, best=scores["best"], baseline=baseline,
        baseline_note=note, initial=scores["initial"], user_system=scores["user"], encoder_calls=encoder_calls(run),
        unique_inputs=unique_inputs(run, data), llm=loop.llm_usage(), wall_s=loop.spent().wall_s,
        loop_overhead_s_per_evaluation=loop.overhead_per_evaluation(session_evaluations),
        sessions=loop.progress["sessions"],
        extra={"other_systems": [s.to_dict() for s in extra], "timing": dict(loop.timing),
               "session_evaluations": session_evaluations, "proposer": proposer_mode(config), **reports,
               **_transfer(config, loop)},
    )
    run.write_json("best.json", {"version": best.version_id, "val_accuracy": best.val_accuracy,
                                 "test_accuracy": summary.best.accuracy, "system": best.system.to_dict()})
    run.write_json("summary.json", summary.to_dict())
    write_report(run.path, summary, loop.versions, extra, knob_search=search, proposer_optimization=tuning)
    return summary


def _transfer(config: RunConfig, loop: OptimizationLoop) -> dict[str, Any]:
    """``{"transfer": table}`` when ``--transfer-model`` asked for one (the run's own row comes from the cache)."""
    if not config.transfer_models:
        return {}
    from cotclip.optimizer.loop.transfer import transfer_table

    settings = EncoderSettings(trust_remote_code=config.trust_remote_code)
    return {"transfer": transfer_table(config, loop.versions, config.transfer_models, settings=settings).to_dict()}


def _open_resumed(path: Path, overrides: dict[str, Any]) -> tuple[RunConfig, RunDir]:
    unknown = sorted(key for key, value in overrides.items() if value is not None and key not in RESUME_OVERRIDES)
    if unknown:
        raise InputError(f"--resume takes its settings from run.yaml; drop --{unknown[0].replace('_', '-')}")
    run = RunDir.open_existing(path)
    try:
        config = load_run_config(path / "run.yaml", **overrides)
    except InputError as exc:
        run.release_lock()
        raise RunDirError(f"{path / 'run.yaml'} is corrupt ({exc.message}); fix it or start a new run") from None
    return config.model_copy(update={"runs_dir": str(path.parent), "name": path.name}), run


def optimize(
    config: RunConfig | None = None,
    *,
    resume: Path | None = None,
    overrides: dict[str, Any] | None = None,
    on_version: Callable[[VersionRecord, float], None] | None = None,
    progress: bool = False,
    extra_systems: Callable[[Inputs], dict[str, System]] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RunSummary:
    """Start (``config``) or continue (``resume``) a run; returns its frozen summary.

    ``on_step`` receives the staged proposer's one-line step summaries as they happen.
    """
    if resume is not None:
        config, run = _open_resumed(Path(resume), overrides or {})
        try:
            run.load_versions()  # refuse a corrupt run dir before anything else happens
            inputs = load_inputs(config)
            user_system = load_system(config.init) if config.init else None
        except BaseException:
            run.release_lock()
            raise
    else:
        if config is None:
            raise InputError("nothing to run: pass --data and --model, --config run.yaml, or --resume RUN_DIR")
        check_moves(config)
        check_proposer_options(config)
        if config.lm == "none" and config.init is None:
            raise InputError("--lm none needs a starting system; pass --init SYSTEM or choose a proposer with --lm")
        inputs = load_inputs(config)
        user_system = load_system(config.init) if config.init else None
        _task(config, inputs)
        if config.transfer_models:  # a bad --transfer-model fails now, not after the run
            from cotclip.optimizer.loop.transfer import check_transfer_models

            check_transfer_models(config, inputs.dataset)
        run = RunDir.create(config.run_dir)
        run.write_text("run.yaml", config.to_yaml())
    with run, contextlib.ExitStack() as stack:
        data = encode_inputs(inputs, config, run, progress=progress)
        if resume is None:
            run.write_json("environment.json", environment(config.seed, data.encoder.identity, data.describe()))
        proposer = build_proposer(config, inputs, run, stack, data=data, task=_task(config, inputs), on_step=on_step)
        moves = build_moves(config, proposer, run.path)
        loop = OptimizationLoop(config, run, data, proposer, moves, on_version=on_version)
        before = len(loop.versions) + loop.progress["search_evaluations"]
        reason = loop.optimize(_task(config, inputs), user_system)
        if not loop.versions:
            raise ProposerError(
                f"the run stopped ({reason}) before any system was evaluated; raise the budget or pass --init SYSTEM"
            )
        evaluations = len(loop.versions) + loop.progress["search_evaluations"] - before
        others = extra_systems(inputs) if extra_systems else {}
        return _finish(config, run, data, loop, reason, evaluations, others)
