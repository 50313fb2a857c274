"""One ``cotclip optimize`` invocation: check inputs, open the run dir, run the loop, report on test.

Every user-caused problem (bad spec, empty class list, unsplittable data, unreadable
``--init``) is detected *before* the run dir is created. A start that fails later but
before its first version (an LLM that is down, ``kill -9``) leaves a run dir without
versions, which the same command with corrected flags replaces (it says so). A resume
reads ``run.yaml`` and the versions first and refuses a corrupt run dir without
changing it; it accepts new budgets and LLM connection settings, nothing that defines
the run. ``max_wall_s`` also bounds an LLM call in flight: the client stops waiting at
the deadline and the run ends with its report (``stopped: max_wall_s``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.data import Inputs, encode_inputs, load_inputs
from cotclip.optimizer.loop.final import environment
from cotclip.optimizer.loop.finish import finish_run
from cotclip.optimizer.loop.loop import PROPOSER_LOG, OptimizationLoop
from cotclip.optimizer.loop.moves import build_moves, check_moves
from cotclip.optimizer.loop.progress import PROGRESS
from cotclip.optimizer.loop.result import RunSummary
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, current_version
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.factory import build_proposer
from cotclip.optimizer.proposers.tuning import check_proposer_options
from cotclip.systems.errors import CotclipError, InputError, ProposerError, RunDirError
from cotclip.systems.io import load_system
from cotclip.systems.model import System

__all__ = ["optimize", "RESUME_OVERRIDES"]

logger = logging.getLogger(__name__)

#: Settings a resume may change: budgets, stopping and how the LLM is reached. Everything else
#: (data, encoder, classes, split, proposer, moves, search) defines the run and comes from run.yaml.
RESUME_OVERRIDES = (
    "min_delta",
    "patience",
    "max_evaluations",
    "max_llm_calls",
    "max_usd",
    "max_wall_s",
    "api_base",
    "llm_timeout_s",
    "llm_retries",
    "cache_dir",
)
#: Config fields whose flag is not ``--`` + the field name with dashes.
_FLAGS = {
    "n_proposals": "-k/--proposals",
    "llm_timeout_s": "--llm-timeout",
    "encoder_options": "--encoder-option",
    "transfer_models": "--transfer-model",
}


def _read_notes(path: str | dict[str, str] | None) -> dict[str, str]:
    if path is None:
        return {}
    if isinstance(path, dict):
        return dict(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(
            f"cannot read notes file {path} ({type(exc).__name__}); pass a YAML/JSON mapping class: note"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"notes file {path} must map each class to a note (YAML/JSON mapping)")
    return {str(key): str(value) for key, value in data.items()}


def _task(config: RunConfig, inputs: Inputs) -> ProposalTask:
    return ProposalTask(
        classes=tuple(inputs.classes),
        domain=config.domain,
        notes=_read_notes(config.notes),
        max_groups=config.max_groups,
        max_options=config.max_options,
        n_candidates=config.n_proposals,
    )


def _load_init(spec: str | None) -> System | None:
    """``--init``: a system file, or a run dir's current version (a human edit keeps its locks)."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_dir() and (path / "versions").is_dir():
        run = RunDir(path)
        return current_version(run.load_versions(), run.final_choice())[0].system
    return load_system(spec)


def _flag(key: str) -> str:
    return _FLAGS.get(key, "--" + key.replace("_", "-"))


def _changes(path: Path, key: str, value: Any) -> bool:
    """Whether ``key = value`` differs from what ``run.yaml`` records (repeating the recorded value is fine)."""
    try:
        return getattr(load_run_config(path / "run.yaml"), key) != getattr(
            load_run_config(path / "run.yaml", **{key: value}), key
        )
    except InputError:
        return True


def _refuse_overrides(path: Path, overrides: dict[str, Any]) -> None:
    """A resume continues the recorded run: settings that define it cannot change (the message says why)."""
    refused = sorted(
        key
        for key, value in overrides.items()
        if value is not None and key not in RESUME_OVERRIDES and _changes(path, key, value)
    )
    if not refused:
        return
    flags = ", ".join(_flag(key) for key in refused)
    fresh = (
        ""
        if RunDir(path).has_versions()
        else ("; it has no version yet, so the command without --resume (same --name) replaces it")
    )
    accepted = ", ".join(_flag(key) for key in RESUME_OVERRIDES)
    raise InputError(
        f"--resume continues the run recorded in {path / 'run.yaml'} and refuses {flags}: data, encoder, classes, "
        f"split, proposer, moves and search settings define what the run is, so changing them would mix two runs; "
        f"drop {flags} or start a new run with another --name{fresh} (a resume accepts {accepted})"
    )


def _open_resumed(path: Path, overrides: dict[str, Any]) -> tuple[RunConfig, RunDir]:
    if not (path / "run.yaml").is_file():
        RunDir.open_existing(path)  # raises the right error: missing dir or not a run dir
    _refuse_overrides(path, overrides)
    overrides = {key: value for key, value in overrides.items() if key in RESUME_OVERRIDES}
    run = RunDir.open_existing(path)
    try:
        config = load_run_config(path / "run.yaml", **overrides)
    except InputError as exc:
        run.release_lock()
        raise RunDirError(f"{path / 'run.yaml'} is corrupt ({exc.message}); fix it or start a new run") from None
    config = config.model_copy(update={"runs_dir": str(path.parent), "name": path.name})
    if any(value is not None for value in overrides.values()):
        run.write_text("run.yaml", config.to_yaml())  # the next resume keeps the new budgets and LLM settings
    return config, run


def _open(
    config: RunConfig | None, resume: Path | None, overrides: dict[str, Any] | None, notice: Callable[[str], None]
) -> tuple[RunConfig, RunDir, Inputs, System | None]:
    """Check everything a user can get wrong, then lock (and for a new run create) the run dir."""
    if resume is not None:
        config, run = _open_resumed(Path(resume), overrides or {})
        try:
            run.load_versions()  # refuse a corrupt run dir before anything else happens
            inputs = load_inputs(config)
            user_system = _load_init(config.init)
        except BaseException:
            run.release_lock()
            raise
        return config, run, inputs, user_system
    if config is None:
        raise InputError("nothing to run: pass --data and --model, --config run.yaml, or --resume RUN_DIR")
    check_moves(config)
    check_proposer_options(config)
    if config.lm == "none" and config.init is None:
        raise InputError("--lm none needs a starting system; pass --init SYSTEM or choose a proposer with --lm")
    inputs = load_inputs(config)
    user_system = _load_init(config.init)
    _task(config, inputs)
    if config.transfer_models:  # a bad --transfer-model fails now, not after the run
        from cotclip.optimizer.loop.transfer import check_transfer_models

        check_transfer_models(config, inputs.dataset)
    if config.lm == "simulated":  # it refuses real data: say so before a run dir exists
        from cotclip.optimizer.proposers.simulated import simulated_proposer_for

        simulated_proposer_for(inputs.dataset, seed=config.seed)
    run = RunDir.create(config.run_dir)
    if run.replaced:
        notice(f"replaced run dir {run.path}: its earlier start recorded no version")
    run.write_text("run.yaml", config.to_yaml())
    return config, run, inputs, user_system


def _deadline(config: RunConfig, run: RunDir, started: float) -> float | None:
    """When the wall-time budget ends (``time.perf_counter()``): this session's start plus what earlier ones left."""
    if config.max_wall_s is None:
        return None
    earlier = (run.read_json(PROGRESS, default=None) or {}).get("wall_s", 0.0)
    return started + config.max_wall_s - float(earlier)


def _record_llm_failures(run: RunDir, client: Any, reason: str) -> list[dict[str, Any]]:
    failures = list(getattr(client, "failures", []))
    for failure in failures:
        run.append_jsonl(PROPOSER_LOG, {**failure, "move": "llm", "stopped_because": reason})
    return failures


def _no_version_error(reason: str, client: Any) -> CotclipError:
    unavailable = getattr(client, "unavailable", None)
    if reason == "llm_unavailable" and unavailable is not None:
        return unavailable
    return ProposerError(
        f"the run stopped ({reason}) before any system was evaluated; raise the budget or pass --init SYSTEM"
    )


def _note_unstarted(exc: CotclipError, run: RunDir) -> CotclipError:
    """Add to a failed start's message that its run dir holds no version and is replaced by a rerun."""
    if not run.has_versions() and "recorded no version" not in exc.message:
        exc.message = (
            f"{exc.message} ({run.path} recorded no version: `cotclip optimize` with corrected flags "
            "and the same --name replaces it)"
        )
        exc.args = (exc.message,)
    return exc


def optimize(
    config: RunConfig | None = None,
    *,
    resume: Path | None = None,
    overrides: dict[str, Any] | None = None,
    on_version: Callable[[VersionRecord, float], None] | None = None,
    progress: bool = False,
    extra_systems: Callable[[Inputs], dict[str, System]] | None = None,
    on_step: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> RunSummary:
    """Start (``config``) or continue (``resume``) a run; returns its frozen summary.

    ``on_step`` receives the staged proposer's one-line step summaries as they happen;
    ``on_notice`` one-line notes for the user (default: logged as warnings).
    """
    started = time.perf_counter()  # the wall-time budget counts the whole session, start-up included
    config, run, inputs, user_system = _open(config, resume, overrides, on_notice or logger.warning)
    with run, contextlib.ExitStack() as stack:
        try:
            return _run(
                config,
                run,
                inputs,
                user_system,
                stack,
                started,
                resume is None,
                on_version,
                progress,
                extra_systems,
                on_step,
            )
        except CotclipError as exc:
            raise _note_unstarted(exc, run) from None


def _run(
    config: RunConfig,
    run: RunDir,
    inputs: Inputs,
    user_system: System | None,
    stack: contextlib.ExitStack,
    started: float,
    fresh: bool,
    on_version: Callable[[VersionRecord, float], None] | None,
    progress: bool,
    extra_systems: Callable[[Inputs], dict[str, System]] | None,
    on_step: Callable[[str], None] | None = None,
) -> RunSummary:
    deadline = _deadline(config, run, started)
    data = encode_inputs(inputs, config, run, progress=progress)
    if fresh:
        run.write_json("environment.json", environment(config.seed, data.encoder.identity, data.describe()))
    proposer = build_proposer(
        config, inputs, run, stack, data=data, task=_task(config, inputs), on_step=on_step, deadline=deadline
    )
    moves = build_moves(config, proposer, run.path)
    loop = OptimizationLoop(config, run, data, proposer, moves, on_version=on_version, started=started)
    client = getattr(proposer, "client", None) or getattr(getattr(proposer, "steps", None), "client", None)
    before = len(loop.versions) + loop.progress["search_evaluations"]
    reason = loop.optimize(_task(config, inputs), user_system)
    failures = _record_llm_failures(run, client, reason)
    if not loop.versions:
        raise _no_version_error(reason, client)
    evaluations = len(loop.versions) + loop.progress["search_evaluations"] - before
    others = extra_systems(inputs) if extra_systems else {}
    return finish_run(config, run, data, loop, reason, evaluations, others, failures)
