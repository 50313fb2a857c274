"""``cotclip optimize`` (the main job) and ``cotclip demo`` (an offline end-to-end run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from cotclip._optimize import given, optimize
from cotclip.cli import _optimize_options as opt
from cotclip.cli._app import app, console, emit_json, err_console
from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.result import RunSummary
from cotclip.optimizer.loop.runs import VersionRecord
from cotclip.systems.errors import InputError

__all__ = ["optimize_command", "demo_command"]


def _printer(as_json: bool):
    if as_json:
        return None

    def show(record: VersionRecord, best: float) -> None:
        parent = f" <- {record.parent}" if record.parent else ""
        err_console.print(
            f"[dim]v{record.version_id}[/] {record.move:<13}{parent:<8} val {record.val_accuracy:6.1%}  best "
            f"{best:6.1%}"
        )

    return show


def _step_printer(line: str) -> None:
    err_console.print(f"[cyan]proposer[/] {line}")


def _quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the loop reports versions itself (``-v`` keeps Optuna's lines)."""
    import logging

    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)


def _print_summary(summary: RunSummary, extra_rows: bool = False) -> None:
    def line(label: str, score: Any) -> None:
        if score is not None:
            console.print(
                f"  {label:<26} {score.accuracy:6.1%}  [dim](95% CI {score.ci[0]:.1%} - {score.ci[1]:.1%})[/]"
            )

    console.print(
        f"stopped: [bold]{summary.stopped_because}[/] after {summary.versions} versions, {summary.evaluations} "
        "evaluations"
    )
    console.print("test accuracy:")
    line("class-name baseline", summary.baseline)
    line("initial proposal", summary.initial)
    line("--init system", summary.user_system)
    line(f"best (v{summary.best_version})", summary.best)
    for other in summary.extra.get("other_systems", []) if extra_rows else []:
        console.print(
            f"  {other['label']:<26} {other['accuracy']:6.1%}  [dim](95% CI {other['ci'][0]:.1%} - "
            f"{other['ci'][1]:.1%})[/]"
        )
    console.print(f"report: {Path(summary.run_dir) / 'report.md'}")


@app.command("optimize")
def optimize_command(
    data: opt.Data = None,
    model: opt.Model = None,
    image_column: opt.ImageColumn = None,
    label_column: opt.LabelColumn = None,
    classes: opt.Classes = None,
    init: opt.Init = None,
    lm: opt.Lm = None,
    proposer: opt.Proposer = None,
    api_base: opt.ApiBase = None,
    llm_timeout: opt.LlmTimeout = None,
    llm_retries: opt.LlmRetries = None,
    llm_concurrency: opt.LlmConcurrency = None,
    domain: opt.Domain = None,
    notes: opt.Notes = None,
    proposals: opt.Proposals = None,
    max_groups: opt.MaxGroups = None,
    max_options: opt.MaxOptions = None,
    moves: opt.Moves = None,
    fractions: opt.Fractions = None,
    seed: opt.Seed = None,
    crop: opt.Crop = None,
    cache_dir: opt.CacheDir = None,
    temperature: opt.Temperature = None,
    min_delta: opt.MinDelta = None,
    patience: opt.Patience = None,
    max_evaluations: opt.MaxEvaluations = None,
    max_llm_calls: opt.MaxLlmCalls = None,
    max_usd: opt.MaxUsd = None,
    max_wall_s: opt.MaxWallS = None,
    search_budget: opt.SearchBudget = None,
    storage: opt.Storage = None,
    prompts_dir: opt.PromptsDir = None,
    optimize_proposer: opt.OptimizeProposer = None,
    proposer_opt_calls: opt.ProposerOptCalls = None,
    encoder_option: opt.EncoderOption = None,
    similarity: opt.Similarity = None,
    trust_remote_code: opt.TrustRemoteCode = None,
    transfer_model: opt.TransferModel = None,
    runs_dir: opt.RunsDir = None,
    name: opt.Name = None,
    config: opt.Config = None,
    resume: opt.Resume = None,
    as_json: opt.Json = False,
) -> None:
    """Optimize a classification system for a frozen encoder: propose, evaluate, fit, revise, stop, report."""
    flags = opt.run_overrides(locals())  # first: the parameters, nothing else, are the locals here
    _show(_start_or_resume(flags, config, resume, as_json), as_json)


def _show(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.to_cli_json())
    else:
        _print_summary(summary)


def _start_or_resume(flags: BaseModel, config: Path | None, resume: Path | None, as_json: bool) -> RunSummary:
    """A new run from flags (over an optional run.yaml, as a typed RunConfig), or resume's run with overrides."""
    _quiet_optuna()
    hooks = {
        "on_version": _printer(as_json),
        "progress": not as_json,
        "on_step": None if as_json else _step_printer,
        "on_notice": _notice,
    }
    if resume is not None:
        if config is not None:
            raise InputError("--resume reads the run's own run.yaml; drop --config")
        return optimize(resume=resume, overrides=flags, **hooks)
    if config is None and (getattr(flags, "data", None) is None or getattr(flags, "model", None) is None):
        raise InputError("pass --data and --model (or --config run.yaml, or --resume RUN_DIR)")
    run_config: RunConfig = load_run_config(config if config is not None else {}, **given(flags))
    return optimize(run_config, **hooks)


def _notice(message: str) -> None:
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo_command(
    lm: str = typer.Option("local", "--lm", help="local (the default local model), local:<name>, or simulated."),
    proposer: str = typer.Option("auto", "--proposer", help="staged, oneshot or auto (staged for local models)."),
    world: str = typer.Option("pokemon-like-xl", "--world", help="Synthetic world preset or world.yaml."),
    runs_dir: str = typer.Option("runs", "--runs-dir", help="Parent folder of the demo's run dir."),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    llm_timeout: float | None = typer.Option(
        None, "--llm-timeout", min=0.0, help="Seconds one LLM attempt may take (default 120, --lm local 1800)."
    ),
    llm_retries: int = typer.Option(2, "--llm-retries", min=0, help="Attempts after a failed LLM call."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Offline end-to-end run on a synthetic (simulated) world: baseline, first proposal, best and oracle on test."""
    from cotclip._demo import demo

    _quiet_optuna()
    result = demo(
        world,
        lm=lm,
        proposer=proposer,
        runs_dir=runs_dir,
        cache_dir=cache_dir,
        llm_timeout_s=llm_timeout,
        llm_retries=llm_retries,
        on_version=_printer(as_json),
        on_step=None if as_json else _step_printer,
        progress=not as_json,
    )
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_summary(result.summary, extra_rows=True)
