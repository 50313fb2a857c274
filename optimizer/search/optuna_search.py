"""Multi-objective Optuna search over a system's scoring knobs (see ``_base`` for the contract).

Storage and several workers
---------------------------
``storage=None`` with a ``run_dir`` keeps the study in a journal file,
``<run_dir>/search.journal`` (append-only, fast, resumable: calling again with the
same arguments continues until the study holds ``n_trials`` complete trials).
Without a run dir the study lives in memory. Any Optuna RDB URL
(``sqlite:///study.db``, ``postgresql://user@host/db``) or a ``*.journal`` file path
shares one study between worker processes or machines: start the same call (same
system, val set, space and ``study_name``) in each worker::

    knob_search(system, val, n_trials=400, storage="sqlite:///runs/x/search.db", study_name="x")

Every worker stops once the study holds ``n_trials`` complete trials, and each
returns the front over *all* workers' trials. A journal file works for processes
on one machine (file locks); use an RDB server (PostgreSQL) across machines: there
a worker that dies mid-trial is noticed by heartbeats and its trial failed and
retried by the others (:mod:`cotclip.optimizer.search.storage`).

Logging: Optuna logs each trial at INFO level through its own ``optuna`` logger.
This library never changes that (its verbosity is global state); the CLI decides,
e.g. ``optuna.logging.set_verbosity(optuna.logging.WARNING)`` unless ``--verbose``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import optuna

from cotclip.optimizer.search._base import Knobs, ParetoPoint, SearchResult, SearchSpace, SearchTiming
from cotclip.optimizer.search.evaluator import KnobEvaluator
from cotclip.optimizer.search.storage import GRACE_S, HEARTBEAT_S, JOURNAL_NAME, open_storage
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.errors import InputError
from cotclip.systems.model import Aggregation, System

__all__ = ["knob_search", "open_storage", "JOURNAL_NAME"]

logger = logging.getLogger(__name__)


def _suggest(trial: optuna.trial.BaseTrial, evaluator: KnobEvaluator, start: Knobs) -> Knobs:
    space, system = evaluator.space, evaluator.system
    temperature = trial.suggest_float("temperature", *space.temperature, log=True)
    aggregation = _member(trial.suggest_categorical("aggregation", list(space.aggregations)), space.aggregations)
    prior = start.name_prior_weight
    if space.search_name_prior and evaluator.name_cosines is not None:
        prior = 0.0
        if trial.suggest_categorical("name_prior", [False, True]):
            prior = trial.suggest_float("name_prior_weight", *space.name_prior_weight, log=True)
    weights, templates = dict(start.weights), dict(start.templates)
    for group in system.groups:
        if group.name in system.locks.groups:
            continue
        on = trial.suggest_categorical(f"on:{group.name}", [True, False]) if space.allow_removing_groups else True
        weights[group.name] = trial.suggest_float(f"weight:{group.name}", *space.weight, log=True) if on else 0.0
        variants = evaluator.variants(group.name)
        chosen = [
            v for i, v in enumerate(variants) if trial.suggest_categorical(f"template:{group.name}:{i}", [False, True])
        ]
        templates[group.name] = tuple(chosen)
    return Knobs(temperature, aggregation, prior, weights, templates)


def _member(value: str, choices: tuple[Aggregation, ...]) -> Aggregation:
    """The choice ``value`` equals, typed as one (Optuna hands categorical choices back as plain ``str``)."""
    for choice in choices:
        if choice == value:
            return choice
    raise ValueError(f"{value!r} is not one of {choices}")


def _start_params(evaluator: KnobEvaluator, start: Knobs) -> dict:
    space = evaluator.space
    clip = lambda value, bounds: min(max(value, bounds[0]), bounds[1])  # noqa: E731
    params: dict = {"temperature": clip(start.temperature, space.temperature), "aggregation": start.aggregation}
    if space.search_name_prior and evaluator.name_cosines is not None:
        params["name_prior"] = start.name_prior_weight > 0
        if start.name_prior_weight > 0:
            params["name_prior_weight"] = clip(start.name_prior_weight, space.name_prior_weight)
    for group in evaluator.system.groups:
        if group.name in evaluator.system.locks.groups:
            continue
        params[f"on:{group.name}"] = group.weight > 0
        if group.weight > 0:
            params[f"weight:{group.name}"] = clip(group.weight, space.weight)
        for i, variant in enumerate(evaluator.variants(group.name)):
            params[f"template:{group.name}:{i}"] = variant in group.extra_prompts
    return params


def _check_start(system: System, space: SearchSpace) -> None:
    if system.scoring.aggregation not in space.aggregations:
        raise InputError(f"the system's aggregation {system.scoring.aggregation!r} is not in the search space; add it")
    if not system.groups:
        raise InputError("the system has no groups to search over; add at least one group")


def _front(study: optuna.Study, evaluator: KnobEvaluator, start: Knobs) -> list[ParetoPoint]:
    seen: dict[tuple[float, int], ParetoPoint] = {}
    for trial in sorted(study.best_trials, key=lambda t: t.number):
        accuracy, prompts = trial.values[0], int(trial.values[1])
        if (accuracy, prompts) in seen:
            continue
        knobs = _suggest(optuna.trial.FixedTrial(trial.params, trial.number), evaluator, start)
        system = evaluator.to_system(knobs, details={"trial": trial.number, "val_accuracy": accuracy})
        seen[(accuracy, prompts)] = ParetoPoint(trial.number, accuracy, prompts, knobs, system)
    return sorted(seen.values(), key=lambda p: (p.prompts, -p.accuracy))


def _sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=20)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise InputError(f"unknown sampler {name!r}; use 'tpe', 'nsga2' or 'random'")


def _open_study(
    system: System,
    storage: str | None,
    run_dir: str | Path | None,
    study_name: str | None,
    seed: int,
    sampler: str,
    heartbeat: tuple[int, int] = (HEARTBEAT_S, GRACE_S),
) -> tuple[optuna.Study, str]:
    sampler_object = _sampler(sampler, seed)
    backend, shown = open_storage(storage, run_dir, heartbeat_s=heartbeat[0], grace_s=heartbeat[1])
    name = study_name or f"knobs-{system.fingerprint()[:12]}"
    study = optuna.create_study(
        storage=backend,
        study_name=name,
        directions=["maximize", "minimize"],
        sampler=sampler_object,
        load_if_exists=True,
    )
    owner = study.user_attrs.get("system_fingerprint")
    if owner is None:
        study.set_user_attr("system_fingerprint", system.fingerprint())
    elif owner != system.fingerprint():
        raise InputError(f"study {name!r} in {shown} belongs to another system; pass a new study_name or storage")
    return study, shown


def _complete(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


class _Objective:
    """Optuna's objective: (val accuracy, prompts per image) of the suggested knobs.

    It counts the trials this process scored and the seconds spent scoring them.
    """

    def __init__(self, evaluator: KnobEvaluator, start: Knobs) -> None:
        self.evaluator, self.start = evaluator, start
        self.trials, self.scoring_s = 0, 0.0

    def __call__(self, trial: optuna.Trial) -> Sequence[float]:
        knobs = _suggest(trial, self.evaluator, self.start)
        if not knobs.active_groups():
            raise optuna.TrialPruned("every group is off; a system needs at least one group")
        began = time.perf_counter()
        result = self.evaluator.evaluate(knobs)
        self.scoring_s += time.perf_counter() - began
        self.trials += 1
        return result.accuracy, result.prompts


def _run_until(study: optuna.Study, objective: _Objective, n_trials: int, timeout_s: float | None) -> float:
    """Optimize until the study holds ``n_trials`` complete trials (or time is up); the wall time."""
    stop = optuna.study.MaxTrialsCallback(n_trials, states=(optuna.trial.TrialState.COMPLETE,))
    began = time.perf_counter()
    while _complete(study) < n_trials:  # pruned trials (every group off) do not count
        left = None if timeout_s is None else timeout_s - (time.perf_counter() - began)
        if left is not None and left <= 0:
            break
        study.optimize(objective, n_trials=n_trials - _complete(study), timeout=left, callbacks=[stop])
    return time.perf_counter() - began


def knob_search(
    system: System,
    val: ImageSet,
    *,
    n_trials: int = 200,
    space: SearchSpace | None = None,
    storage: str | None = None,
    run_dir: str | Path | None = None,
    study_name: str | None = None,
    seed: int = 0,
    timeout_s: float | None = None,
    sampler: str = "tpe",
    heartbeat: tuple[int, int] = (HEARTBEAT_S, GRACE_S),
) -> SearchResult:
    """Search ``system``'s knobs on ``val``; return the best system and the Pareto front.

    ``n_trials`` is the total of complete trials the study should hold (all workers
    together; a resumed study only runs what is missing). ``timeout_s`` bounds this
    process's wall time. ``sampler``: ``tpe`` (multi-objective TPE, the default: fewest
    trials to a good front), ``nsga2`` (cheaper per trial) or ``random``. See the module
    docstring for ``storage``/``run_dir``; ``heartbeat`` is (seconds between a running
    trial's heartbeats, seconds of silence after which it counts as dead) for RDB
    servers (:mod:`cotclip.optimizer.search.storage`).
    """
    if n_trials < 1:
        raise InputError(f"n_trials must be >= 1 (got {n_trials})")
    space = space or SearchSpace()
    _check_start(system, space)
    evaluator = KnobEvaluator(system, val, space)
    start = Knobs.of(system)
    start_eval = evaluator.evaluate(start)
    study, shown = _open_study(system, storage, run_dir, study_name, seed, sampler, heartbeat)
    if not study.get_trials(deepcopy=False):
        study.enqueue_trial(_start_params(evaluator, start), skip_if_exists=True)
    objective = _Objective(evaluator, start)
    wall_s = _run_until(study, objective, n_trials, timeout_s)
    front = _front(study, evaluator, start)
    if not front:
        raise InputError(f"no search trial finished within {timeout_s} s; raise the timeout or lower n_trials")
    best = max(front, key=lambda p: (p.accuracy, -p.prompts, -p.trial))
    logger.info(
        "knob search: %d trials, best val accuracy %.4f with %d prompts", _complete(study), best.accuracy, best.prompts
    )
    return SearchResult(
        study_name=study.study_name,
        storage=shown,
        start_accuracy=start_eval.accuracy,
        start_prompts=start_eval.prompts,
        best=best,
        front=tuple(front),
        n_trials=_complete(study),
        timing=SearchTiming(trials=objective.trials, wall_s=wall_s, scoring_s=objective.scoring_s),
        notes=tuple(evaluator.notes),
    )
