"""``cotclip optimize`` (the main job) and ``cotclip demo`` (an offline end-to-end run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from cotclip._optimize import RunOverrides, given, optimize
from cotclip.cli._app import app, console, emit_json, err_console
from cotclip.optimizer.loop.config import MOVE_NAMES, RunConfig, load_run_config
from cotclip.optimizer.loop.demo import demo_config
from cotclip.optimizer.loop.result import RunSummary
from cotclip.optimizer.loop.runs import VersionRecord
from cotclip.systems.errors import InputError

__all__ = ["optimize_command", "demo_command"]


def _floats(text: str | None, count: int, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise InputError(f"{flag} needs {count} comma-separated numbers, got {text!r}")
    return values


def _classes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    path = Path(text)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        names = [part.strip() for part in text.split(",")]
    names = [name for name in names if name]
    if not names:
        raise InputError(f"--classes {text!r} names no class; pass a,b,c or a file with one class per line")
    return names


def _default(field: str) -> str:
    """A RunConfig default as ``--help`` shows it (the options themselves default to None: run.yaml wins)."""
    return str(RunConfig.model_fields[field].default)


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


def _proposer_choice(value: str | None) -> str | None:
    if value is not None and value not in ("auto", "staged", "oneshot"):
        raise InputError(f"--proposer {value!r} is not a proposer mode; use staged, oneshot or auto")
    return value


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
    data: str | None = typer.Option(
        None, "--data", help="Dataset spec (folder, manifest, hf:, precomputed:, synthetic:)."
    ),
    model: str | None = typer.Option(None, "--model", help="Encoder spec (hf:, precomputed:, open_clip:, synthetic)."),
    image_column: str | None = typer.Option(
        None,
        "--image-column",
        help="Manifest / HF dataset column of the images.",
        show_default=_default("image_column"),
    ),
    label_column: str | None = typer.Option(
        None,
        "--label-column",
        help="Manifest / HF dataset column of the labels.",
        show_default=_default("label_column"),
    ),
    classes: str | None = typer.Option(
        None, "--classes", help="a,b,c or a file with one class per line (default: all labels)."
    ),
    init: str | None = typer.Option(
        None,
        "--init",
        help="Start also from this system file (seed or canonical format) or run dir (its current version, locks "
        "kept).",
    ),
    lm: str | None = typer.Option(
        None,
        "--lm",
        help="Proposer: simulated, local[:smollm2|:qwen2.5-coder-0.5b|:qwen2.5-coder-1.5b|:file.gguf], none, or a DSPy "
        "LM string.",
        show_default=_default("lm"),
    ),
    proposer: str | None = typer.Option(
        None,
        "--proposer",
        help="staged, oneshot or auto (default: staged for local and small models, oneshot otherwise).",
    ),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible endpoint for --lm."),
    llm_timeout: float | None = typer.Option(
        None, "--llm-timeout", help="Seconds one LLM attempt may take (default 120, --lm local 1800)."
    ),
    llm_retries: int | None = typer.Option(
        None,
        "--llm-retries",
        help="Attempts after a failed LLM call; a run stops (llm_unavailable) once all fail.",
        show_default=_default("llm_retries"),
    ),
    llm_concurrency: int | None = typer.Option(
        None,
        "--llm-concurrency",
        help="LLM calls in flight at once (default 4, --lm local 1; 1: one after the other); --lm local starts "
        "that many llama-server slots.",
    ),
    domain: str | None = typer.Option(None, "--domain", help="One line about the images, for the proposer."),
    notes: str | None = typer.Option(None, "--notes", help="YAML/JSON mapping class -> note, for the proposer."),
    proposals: int | None = typer.Option(
        None, "-k", "--proposals", help="Initial proposals (K).", show_default=_default("n_proposals")
    ),
    max_groups: int | None = typer.Option(None, "--max-groups", help="Most groups a proposal may have."),
    max_options: int | None = typer.Option(None, "--max-options", help="Most options per group in a proposal."),
    moves: str | None = typer.Option(
        None,
        "--moves",
        help=f"Comma list of moves, applied in order: {','.join(MOVE_NAMES)} (default: all but the last two).",
    ),
    fractions: str | None = typer.Option(None, "--fractions", help="train,val,test fractions, e.g. 0.6,0.2,0.2."),
    seed: int | None = typer.Option(None, "--seed", help="Split and loop seed."),
    crop: str | None = typer.Option(None, "--crop", help="Crop box left,top,right,bottom as fractions."),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    temperature: float | None = typer.Option(
        None, "--temperature", help="Override every system's softmax temperature."
    ),
    min_delta: float | None = typer.Option(
        None, "--min-delta", help="Smallest val gain that counts as progress.", show_default=_default("min_delta")
    ),
    patience: int | None = typer.Option(
        None, "--patience", help="Rounds without progress before stopping.", show_default=_default("patience")
    ),
    max_evaluations: int | None = typer.Option(
        None, "--max-evaluations", help="Val evaluation budget.", show_default=_default("max_evaluations")
    ),
    max_llm_calls: int | None = typer.Option(None, "--max-llm-calls", help="LLM call budget."),
    max_usd: float | None = typer.Option(None, "--max-usd", help="LLM dollar budget."),
    max_wall_s: float | None = typer.Option(
        None, "--max-wall-s", help="Wall-time budget in seconds (the whole session); cuts an LLM call in flight."
    ),
    search_budget: int | None = typer.Option(
        None, "--search-budget", help="Val evaluations (trials) per knob_search/select_groups call (default 30)."
    ),
    storage: str | None = typer.Option(
        None,
        "--storage",
        help="Optuna storage of knob_search: sqlite:///x.db (any RDB URL) or a .journal path; runs with one storage "
        "share identical searches (default: the run dir's search.journal).",
    ),
    prompts_dir: str | None = typer.Option(
        None,
        "--prompts-dir",
        help="Proposer instructions folder (propose.md, revise.md, complete_rules.md), e.g. an earlier run's prompts/.",
    ),
    optimize_proposer: bool | None = typer.Option(
        None,
        "--optimize-proposer",
        help="First tune the LLM proposer's instructions with GEPA on this task; saved in the run's prompts/.",
    ),
    proposer_opt_calls: int | None = typer.Option(
        None,
        "--proposer-opt-calls",
        help="LLM calls --optimize-proposer may spend (default 12; separate from --max-llm-calls).",
    ),
    encoder_option: list[str] | None = typer.Option(
        None,
        "--encoder-option",
        help="KEY=VALUE for the model's encode calls (text.KEY / image.KEY for one side), repeatable; hf: remote-code "
        "models.",
    ),
    similarity: str | None = typer.Option(
        None, "--similarity", help="cosine (default) or maxsim (multi-vector late interaction)."
    ),
    trust_remote_code: bool | None = typer.Option(
        None, "--trust-remote-code", help="Run the model folder's own Python code (jina-clip, jina-embeddings-v4)."
    ),
    transfer_model: list[str] | None = typer.Option(
        None,
        "--transfer-model",
        help="Also score best, first proposal and baseline on this encoder in the report (repeatable).",
    ),
    runs_dir: str | None = typer.Option(None, "--runs-dir", help="Parent folder of run dirs (default: runs)."),
    name: str | None = typer.Option(None, "--name", help="Run name (default: a timestamp)."),
    config: Path | None = typer.Option(None, "--config", help="A run.yaml to start from (flags override it)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this run dir."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Optimize a classification system for a frozen encoder: propose, evaluate, fit, revise, stop, report."""
    flags = RunOverrides(
        min_delta=min_delta,
        patience=patience,
        max_evaluations=max_evaluations,
        max_llm_calls=max_llm_calls,
        max_usd=max_usd,
        max_wall_s=max_wall_s,
        llm_timeout_s=llm_timeout,
        llm_retries=llm_retries,
        data=data,
        model=model,
        image_column=image_column,
        label_column=label_column,
        classes=_classes(classes),
        init=init,
        lm=lm,
        api_base=api_base,
        proposer=_proposer_choice(proposer),
        llm_concurrency=llm_concurrency,
        domain=domain,
        notes=notes,
        n_proposals=proposals,
        seed=seed,
        cache_dir=cache_dir,
        max_groups=max_groups,
        max_options=max_options,
        moves=[m.strip() for m in moves.split(",") if m.strip()] if moves else None,
        fractions=_floats(fractions, 3, "--fractions"),
        crop=_floats(crop, 4, "--crop"),
        temperature=temperature,
        runs_dir=runs_dir,
        name=name,
        storage=storage,
        search_budget=search_budget,
        prompts_dir=prompts_dir,
        optimize_proposer=optimize_proposer,
        proposer_opt_calls=proposer_opt_calls,
        encoder_options=encoder_option,
        similarity=similarity,
        trust_remote_code=trust_remote_code,
        transfer_models=transfer_model,
    )
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
    llm_timeout: float = typer.Option(600.0, "--llm-timeout", min=0.0, help="Seconds one LLM attempt may take."),
    llm_retries: int = typer.Option(2, "--llm-retries", min=0, help="Attempts after a failed LLM call."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Offline end-to-end run on a synthetic (simulated) world: baseline, first proposal, best and oracle on test."""
    from cotclip.scoring.simulation.world import load_world

    config = demo_config(world, lm, _proposer_choice(proposer), runs_dir=runs_dir, cache_dir=cache_dir).model_copy(
        update={"llm_timeout_s": llm_timeout, "llm_retries": llm_retries}
    )
    _quiet_optuna()
    oracle = load_world(world).oracle_system()
    summary = optimize(
        config,
        on_version=_printer(as_json),
        progress=not as_json,
        extra_systems=lambda inputs: {"oracle (simulation only)": oracle},
        on_step=None if as_json else _step_printer,
    )
    if as_json:
        emit_json({**summary.to_cli_json(), "oracle_test_accuracy": summary.extra["other_systems"][0]["accuracy"]})
    else:
        _print_summary(summary, extra_rows=True)
