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
from typing import Annotated, Any

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


Classes = Annotated[
    str | None, typer.Option("--classes", help="Class names: a,b,c or a file (one per line, or a JSON/YAML list).")
]
Lm = Annotated[
    str,
    typer.Option(
        "--lm",
        help="DSPy LM string (openai/gpt-4o-mini, ...), local[:model|:file.gguf], or simulated (one-shot proposer).",
    ),
]
Out = Annotated[Path, typer.Option("--out", help="Output folder for candidate_NN.json and proposer_log.jsonl.")]
Notes = Annotated[Path | None, typer.Option("--notes", help="YAML/JSON mapping class -> note for the LLM.")]
Domain = Annotated[str | None, typer.Option("--domain", help="One line about what the images show.")]
ApiBase = Annotated[str | None, typer.Option("--api-base", help="OpenAI-compatible endpoint URL for --lm.")]
Data = Annotated[str | None, typer.Option("--data", help="synthetic:<world> (required by --lm simulated).")]
NCandidates = Annotated[int, typer.Option("-n", "--n-candidates", help="How many diverse candidates to make.")]
MaxGroups = Annotated[int, typer.Option("--max-groups", help="At most this many attribute groups.")]
MaxOptions = Annotated[int, typer.Option("--max-options", help="At most this many options per group.")]
Temperature = Annotated[
    float | None, typer.Option("--temperature", min=0.0, help="LLM sampling temperature, >= 0 (default 0.7).")
]
MaxTokens = Annotated[int | None, typer.Option("--max-tokens", min=1, help="Longest answer in tokens.")]
Timeout = Annotated[
    float | None,
    typer.Option(
        "--llm-timeout", "--timeout", min=0.0, help="Seconds to wait for one answer (default 120, local 1800)."
    ),
]
Retries = Annotated[
    int | None,
    typer.Option(
        "--llm-retries", "--retries", min=0, help="Retries (exponential backoff) after a failed answer (default 2)."
    ),
]
Concurrency = Annotated[
    int | None,
    typer.Option(
        "--llm-concurrency",
        min=1,
        help="LLM calls in flight at once (1: one after the other; default 4, local 1); local starts that many "
        "llama-server slots.",
    ),
]
MaxCalls = Annotated[int | None, typer.Option("--max-calls", help="Budget: at most this many LLM calls.")]
MaxLlmTokens = Annotated[int | None, typer.Option("--max-llm-tokens", help="Budget: at most this many tokens.")]
MaxUsd = Annotated[float | None, typer.Option("--max-usd", help="Budget: at most this many dollars.")]
CacheDir = Annotated[
    Path | None, typer.Option("--llm-cache", help="Folder caching answers by request (default: none).")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the simulated proposer.")]
PromptsDir = Annotated[
    Path | None,
    typer.Option(
        "--prompts-dir",
        help="Instructions folder (propose.md, revise.md, complete_rules.md), e.g. a run's optimized prompts/.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]


@app.command("propose")
def propose_command(
    *,  # keyword-only: --lm and --out are required but listed after --classes in --help
    classes: Classes = None,
    lm: Lm,
    out: Out,
    notes: Notes = None,
    domain: Domain = None,
    api_base: ApiBase = None,
    data: Data = None,
    n_candidates: NCandidates = 3,
    max_groups: MaxGroups = 5,
    max_options: MaxOptions = 8,
    temperature: Temperature = None,
    max_tokens: MaxTokens = None,
    timeout: Timeout = None,
    retries: Retries = None,
    concurrency: Concurrency = None,
    max_calls: MaxCalls = None,
    max_llm_tokens: MaxLlmTokens = None,
    max_usd: MaxUsd = None,
    cache_dir: CacheDir = None,
    seed: Seed = 0,
    prompts_dir: PromptsDir = None,
    as_json: Json = False,
) -> None:
    """Propose K validated candidate systems for a class list."""
    class_names = read_classes(classes) if classes is not None else None  # None: --lm simulated's world's
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
