"""``optimize``: one run (propose, evaluate, fit, revise, stop, report) from a :class:`RunConfig`, or a resumed one."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from cotclip._types import need_path
from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.result import RunSummary
from cotclip.systems.errors import InputError, WrongTypeError

__all__ = ["RunOverrides", "optimize"]

#: Every :class:`RunConfig` field, optional and unchecked: the settings given on top of a run.yaml
#: (or of a resumed run's). Built from RunConfig so that the two cannot drift apart;
#: the values are checked once, by RunConfig, when they are applied.
RunOverrides: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "RunOverrides",
    __config__=ConfigDict(extra="forbid", frozen=True),
    __doc__="RunConfig settings given on top of a run.yaml or a resumed run (None: not given).",
    **{name: (Any, None) for name in RunConfig.model_fields},
)


def given(overrides: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings actually given (not None), as a dict; unknown names are an InputError."""
    if overrides is None:
        return {}
    if isinstance(overrides, BaseModel):
        return {key: value for key, value in overrides.model_dump().items() if value is not None}
    if not isinstance(overrides, Mapping):
        raise WrongTypeError(f"overrides must be a dict of RunConfig fields, not {type(overrides).__name__}")
    try:
        return given(RunOverrides(**overrides))
    except ValidationError as exc:
        name = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise InputError(f"{name!r} is not a RunConfig setting; see RunConfig.model_fields for the names") from None


def _config(config: RunConfig | Mapping[str, Any] | str | os.PathLike[str], settings: dict[str, Any]) -> RunConfig:
    if isinstance(config, RunConfig):
        return load_run_config(config.model_dump(), **settings) if settings else config
    if isinstance(config, Mapping):
        return load_run_config(dict(config), **settings)
    if isinstance(config, (str, os.PathLike)):
        return load_run_config(Path(config), **settings)
    raise WrongTypeError(f"config must be a RunConfig, a dict or a run.yaml path, not {type(config).__name__}")


def optimize(
    config: RunConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    resume: str | os.PathLike[str] | None = None,
    overrides: BaseModel | Mapping[str, Any] | None = None,
    on_version: Callable[[Any, float], None] | None = None,
    on_step: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    progress: bool = False,
    extra_systems: Callable[[Any], dict[str, Any]] | None = None,
) -> RunSummary:
    """Run the optimization loop and return its frozen :class:`RunSummary` (``best_version``, test scores, ``run_dir``).

    ``config`` is a :class:`RunConfig`, a dict of its fields (``data`` and ``model`` are
    required; ``lm`` is ``simulated``, ``local[:model]`` or a DSPy LM string such as
    ``openai/gpt-4o-mini``; ``storage`` an Optuna storage URL) or a ``run.yaml`` path;
    ``overrides`` (a dict or :data:`RunOverrides`) are applied on top. ``resume`` continues
    the run in that run dir instead (with ``overrides``, never a ``config``). The run dir
    (``runs_dir/name``) gets every version, ``report.md`` and ``run.yaml``. ``on_version``
    sees each recorded version and the best val accuracy so far, ``on_step`` the staged
    proposer's step lines, ``on_notice`` one-line notes (default: logged as warnings);
    ``extra_systems`` maps the run's inputs to more systems the final report scores.
    """
    from cotclip.optimizer.loop.session import optimize as run_session

    settings = given(overrides)
    hooks: dict[str, Any] = {
        "on_version": on_version,
        "progress": progress,
        "on_step": on_step,
        "on_notice": on_notice,
        "extra_systems": extra_systems,
    }
    if resume is not None:
        if config is not None:
            raise InputError("--resume reads the run's own run.yaml; drop --config")
        return run_session(resume=Path(need_path(resume, "resume")), overrides=settings, **hooks)
    if config is None:
        raise InputError(
            "pass a RunConfig, a dict with at least data and model, or a run.yaml path (or resume=RUN_DIR)"
        )
    return run_session(_config(config, settings), **hooks)
