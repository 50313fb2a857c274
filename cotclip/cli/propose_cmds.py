"""``cotclip propose``: K validated candidate systems from a class list, written as they arrive.

``--lm`` is any DSPy LM string (``openai/gpt-4o-mini``, ``anthropic/...``,
``ollama_chat/...``; ``--api-base`` for OpenAI-compatible endpoints), ``local`` (start
the bundled SmolLM2 llama-server on 127.0.0.1 for this command) or ``simulated`` (a
simulation for ``--data synthetic:<world>`` only). The output folder gets
``candidate_01.json`` ... and ``proposer_log.jsonl`` (raw answers, repairs, usage),
both written incrementally so that an error later loses nothing already made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from cotclip._propose import Proposals, propose
from cotclip.cli._app import app, console, emit_json
from cotclip.optimizer.llm.usage import Budget
from cotclip.systems.errors import InputError

__all__ = ["propose_command", "read_classes", "read_notes"]


def read_classes(spec: str) -> list[str]:
    """Class names from a file (JSON/YAML list, or one per line, ``#`` comments) or ``a,b,c``."""
    path = Path(spec)
    if path.is_file() or spec.endswith((".txt", ".json", ".yaml", ".yml")):
        text = _read_text(path, "--classes")
        if path.suffix in (".json", ".yaml", ".yml"):
            loaded = _safe_yaml(text, path, "--classes")
            if not isinstance(loaded, list):
                raise InputError(f"--classes {path} must hold a list of class names")
            names = [str(item) for item in loaded]
        else:
            names = [line.split("#", 1)[0] for line in text.splitlines()]
    else:
        names = spec.split(",")
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise InputError(f"--classes {spec!r} lists no class; pass a,b,c or a file with one class per line")
    return names


def read_notes(path: Path | None) -> dict[str, str]:
    """A YAML/JSON mapping class -> note (``{}`` when no file is given)."""
    if path is None:
        return {}
    loaded = _safe_yaml(_read_text(path, "--notes"), path, "--notes")
    if not isinstance(loaded, dict):
        raise InputError(f"--notes {path} must be a mapping of class name to note text")
    return {" ".join(str(k).split()): " ".join(str(v).split()) for k, v in loaded.items() if v is not None}


def _read_text(path: Path, flag: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"{flag} {path}: cannot read ({reason}); pass a readable UTF-8 file") from None


def _safe_yaml(text: str, path: Path, flag: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{flag} {path} is not valid YAML/JSON ({str(exc).splitlines()[0]}); fix the file") from None


def _report(made: Proposals, as_json: bool) -> None:
    payload = made.to_dict()
    if as_json:
        emit_json(payload)
        return
    table = Table(title=f"{len(made.files)}/{made.requested} candidate(s) in {made.directory}")
    for column in ("file", "groups", "prompts", "repairs"):
        table.add_column(column)
    for row in payload["candidates"]:
        table.add_row(Path(row["file"]).name, str(row["groups"]), str(row["prompts"]), str(row["repairs"]))
    console.print(table)
    if made.simulated_world is not None:
        console.print(f"SIMULATED proposer on synthetic world {made.simulated_world}: no LLM was called")
    usage = made.usage
    usd = "unknown" if usage.usd is None else f"${usage.usd:.4f}"
    console.print(f"LLM: {usage.calls} call(s), {usage.tokens} tokens, {usd}; log: {payload['log']}")
    if made.stopped_because:
        console.print(f"stopped early: {made.stopped_because}")


@app.command("propose")
def propose_command(
    classes: str | None = typer.Option(
        None, "--classes", help="Class names: a,b,c or a file (one per line, or a JSON/YAML list)."
    ),
    lm: str = typer.Option(
        ...,
        "--lm",
        help="DSPy LM string (openai/gpt-4o-mini, ...), local[:model|:file.gguf], or simulated (one-shot proposer).",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder for candidate_NN.json and proposer_log.jsonl."),
    notes: Path | None = typer.Option(None, "--notes", help="YAML/JSON mapping class -> note for the LLM."),
    domain: str | None = typer.Option(None, "--domain", help="One line about what the images show."),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible endpoint URL for --lm."),
    data: str | None = typer.Option(None, "--data", help="synthetic:<world> (required by --lm simulated)."),
    n_candidates: int = typer.Option(3, "-n", "--n-candidates", help="How many diverse candidates to make."),
    max_groups: int = typer.Option(5, "--max-groups", help="At most this many attribute groups."),
    max_options: int = typer.Option(8, "--max-options", help="At most this many options per group."),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0.0, help="LLM sampling temperature, >= 0 (default 0.7)."
    ),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Longest answer in tokens."),
    timeout: float | None = typer.Option(
        None, "--llm-timeout", "--timeout", min=0.0, help="Seconds to wait for one answer (default 120, local 1800)."
    ),
    retries: int | None = typer.Option(
        None,
        "--llm-retries",
        "--retries",
        min=0,
        help="Retries (exponential backoff) after a failed answer (default 2).",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--llm-concurrency",
        min=1,
        help="LLM calls in flight at once (1: one after the other; default 4, local 1); local starts that many "
        "llama-server slots.",
    ),
    max_calls: int | None = typer.Option(None, "--max-calls", help="Budget: at most this many LLM calls."),
    max_llm_tokens: int | None = typer.Option(None, "--max-llm-tokens", help="Budget: at most this many tokens."),
    max_usd: float | None = typer.Option(None, "--max-usd", help="Budget: at most this many dollars."),
    cache_dir: Path | None = typer.Option(
        None, "--llm-cache", help="Folder caching answers by request (default: none)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulated proposer."),
    prompts_dir: Path | None = typer.Option(
        None,
        "--prompts-dir",
        help="Instructions folder (propose.md, revise.md, complete_rules.md), e.g. a run's optimized prompts/.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of a table."),
) -> None:
    """Propose K validated candidate systems for a class list."""
    if lm == "simulated" and classes is None and data:
        from cotclip.optimizer.proposers.simulated import simulated_proposer_for
        from cotclip.scoring.registry import load_dataset

        class_names = simulated_proposer_for(load_dataset(data), seed=seed).world.classes
    elif classes is None:
        raise InputError("--classes is required; pass a,b,c or a file with one class per line")
    else:
        class_names = read_classes(classes)
    budget = Budget(max_calls=max_calls, max_tokens=max_llm_tokens, max_usd=max_usd)
    llm = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "timeout_s": timeout,
        "retries": retries,
        "cache_dir": cache_dir,
    }
    made = propose(
        class_names,
        lm,
        out,
        n_candidates=n_candidates,
        domain=domain,
        notes=read_notes(notes),
        max_groups=max_groups,
        max_options=max_options,
        api_base=api_base,
        data=data,
        budget=budget,
        concurrency=concurrency,
        seed=seed,
        prompts_dir=prompts_dir,
        **{key: value for key, value in llm.items() if value is not None},
    )
    _report(made, as_json)
