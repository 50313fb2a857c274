"""The flags of ``cotclip optimize`` and how they become :data:`~cotclip._optimize.RunOverrides`.

Every flag defaults to None (not given), so that a ``--config`` run.yaml or a resumed run's
settings win unless the flag is passed; ``--help`` shows RunConfig's defaults. A flag is
named like its RunConfig field except where :data:`FIELD_OF` says otherwise, and the
flags whose text becomes a typed value (a list, numbers, a choice) are parsed by
:data:`PARSERS`, each with a one-line :class:`InputError` naming the flag.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from cotclip._optimize import RunOverrides
from cotclip.optimizer.loop.config import MOVE_NAMES, RunConfig
from cotclip.systems.errors import InputError

__all__ = ["run_overrides", "check_proposer", "NOT_SETTINGS", "FIELD_OF", "PARSERS"]


def _default(field: str) -> str:
    """A RunConfig default as ``--help`` shows it (the options themselves default to None: run.yaml wins)."""
    return str(RunConfig.model_fields[field].default)


Data = Annotated[
    str | None, typer.Option("--data", help="Dataset spec (folder, manifest, hf:, precomputed:, synthetic:).")
]
Model = Annotated[str | None, typer.Option("--model", help="Encoder spec (hf:, precomputed:, open_clip:, synthetic).")]
ImageColumn = Annotated[
    str | None,
    typer.Option(
        "--image-column", help="Manifest / HF dataset column of the images.", show_default=_default("image_column")
    ),
]
LabelColumn = Annotated[
    str | None,
    typer.Option(
        "--label-column", help="Manifest / HF dataset column of the labels.", show_default=_default("label_column")
    ),
]
Classes = Annotated[
    str | None, typer.Option("--classes", help="a,b,c or a file with one class per line (default: all labels).")
]
Init = Annotated[
    str | None,
    typer.Option(
        "--init",
        help="Start also from this system file (seed or canonical format) or run dir (its current version, "
        "locks kept).",
    ),
]
Lm = Annotated[
    str | None,
    typer.Option(
        "--lm",
        help="Proposer: simulated, local[:smollm2|:qwen2.5-coder-0.5b|:qwen2.5-coder-1.5b|:file.gguf], none, "
        "or a DSPy LM string.",
        show_default=_default("lm"),
    ),
]
Proposer = Annotated[
    str | None,
    typer.Option(
        "--proposer", help="staged, oneshot or auto (default: staged for local and small models, oneshot otherwise)."
    ),
]
ApiBase = Annotated[str | None, typer.Option("--api-base", help="OpenAI-compatible endpoint for --lm.")]
LlmTimeout = Annotated[
    float | None,
    typer.Option("--llm-timeout", help="Seconds one LLM attempt may take (default 120, --lm local 1800)."),
]
LlmRetries = Annotated[
    int | None,
    typer.Option(
        "--llm-retries",
        help="Attempts after a failed LLM call; a run stops (llm_unavailable) once all fail.",
        show_default=_default("llm_retries"),
    ),
]
LlmConcurrency = Annotated[
    int | None,
    typer.Option(
        "--llm-concurrency",
        help="LLM calls in flight at once (default 4, --lm local 1; 1: one after the other); --lm local starts "
        "that many llama-server slots.",
    ),
]
Domain = Annotated[str | None, typer.Option("--domain", help="One line about the images, for the proposer.")]
Notes = Annotated[str | None, typer.Option("--notes", help="YAML/JSON mapping class -> note, for the proposer.")]
Proposals = Annotated[
    int | None, typer.Option("-k", "--proposals", help="Initial proposals (K).", show_default=_default("n_proposals"))
]
MaxGroups = Annotated[int | None, typer.Option("--max-groups", help="Most groups a proposal may have.")]
MaxOptions = Annotated[int | None, typer.Option("--max-options", help="Most options per group in a proposal.")]
Moves = Annotated[
    str | None,
    typer.Option(
        "--moves",
        help=f"Comma list of moves, applied in order: {','.join(MOVE_NAMES)} (default: all but the last two).",
    ),
]
Fractions = Annotated[str | None, typer.Option("--fractions", help="train,val,test fractions, e.g. 0.6,0.2,0.2.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Split and loop seed.")]
Crop = Annotated[str | None, typer.Option("--crop", help="Crop box left,top,right,bottom as fractions.")]
CacheDir = Annotated[str | None, typer.Option("--cache-dir", help="Embedding cache folder.")]
Temperature = Annotated[
    float | None, typer.Option("--temperature", help="Override every system's softmax temperature.")
]
MinDelta = Annotated[
    float | None,
    typer.Option("--min-delta", help="Smallest val gain that counts as progress.", show_default=_default("min_delta")),
]
Patience = Annotated[
    int | None,
    typer.Option("--patience", help="Rounds without progress before stopping.", show_default=_default("patience")),
]
MaxEvaluations = Annotated[
    int | None,
    typer.Option("--max-evaluations", help="Val evaluation budget.", show_default=_default("max_evaluations")),
]
MaxLlmCalls = Annotated[int | None, typer.Option("--max-llm-calls", help="LLM call budget.")]
MaxUsd = Annotated[float | None, typer.Option("--max-usd", help="LLM dollar budget.")]
MaxWallS = Annotated[
    float | None,
    typer.Option("--max-wall-s", help="Wall-time budget in seconds (the whole session); cuts an LLM call in flight."),
]
SearchBudget = Annotated[
    int | None,
    typer.Option("--search-budget", help="Val evaluations (trials) per knob_search/select_groups call (default 30)."),
]
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage of knob_search: sqlite:///x.db (any RDB URL) or a .journal path; runs with one storage "
        "share identical searches (default: the run dir's search.journal).",
    ),
]
PromptsDir = Annotated[
    str | None,
    typer.Option(
        "--prompts-dir",
        help="Proposer instructions folder (propose.md, revise.md, complete_rules.md), e.g. an earlier run's prompts/.",
    ),
]
OptimizeProposer = Annotated[
    bool | None,
    typer.Option(
        "--optimize-proposer",
        help="First tune the LLM proposer's instructions with GEPA on this task; saved in the run's prompts/.",
    ),
]
ProposerOptCalls = Annotated[
    int | None,
    typer.Option(
        "--proposer-opt-calls",
        help="LLM calls --optimize-proposer may spend (default 12; separate from --max-llm-calls).",
    ),
]
EncoderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--encoder-option",
        help="KEY=VALUE for the model's encode calls (text.KEY / image.KEY for one side), repeatable; "
        "hf: remote-code models.",
    ),
]
Similarity = Annotated[
    str | None, typer.Option("--similarity", help="cosine (default) or maxsim (multi-vector late interaction).")
]
TrustRemoteCode = Annotated[
    bool | None,
    typer.Option("--trust-remote-code", help="Run the model folder's own Python code (jina-clip, jina-embeddings-v4)."),
]
TransferModel = Annotated[
    list[str] | None,
    typer.Option(
        "--transfer-model",
        help="Also score best, first proposal and baseline on this encoder in the report (repeatable).",
    ),
]
RunsDir = Annotated[str | None, typer.Option("--runs-dir", help="Parent folder of run dirs (default: runs).")]
Name = Annotated[str | None, typer.Option("--name", help="Run name (default: a timestamp).")]
Config = Annotated[Path | None, typer.Option("--config", help="A run.yaml to start from (flags override it).")]
Resume = Annotated[Path | None, typer.Option("--resume", help="Continue the run in this run dir.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _floats(text: str, count: int, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise InputError(f"{flag} needs {count} comma-separated numbers, got {text!r}")
    return values


def _classes(text: str) -> list[str]:
    path = Path(text)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        names = [part.strip() for part in text.split(",")]
    names = [name for name in names if name]
    if not names:
        raise InputError(f"--classes {text!r} names no class; pass a,b,c or a file with one class per line")
    return names


def _moves(text: str) -> list[str] | None:
    return [move.strip() for move in text.split(",") if move.strip()] if text else None


def check_proposer(value: str | None) -> str | None:
    """``value`` when it is a proposer mode (or None), else InputError naming the modes."""
    if value is not None and value not in ("auto", "staged", "oneshot"):
        raise InputError(f"--proposer {value!r} is not a proposer mode; use staged, oneshot or auto")
    return value


#: parameters of ``optimize_command`` that say where a run comes from or how to print it, not a setting
NOT_SETTINGS = ("config", "resume", "as_json")
#: parameter -> RunConfig field, where the flag's name is not the field's
FIELD_OF = {
    "llm_timeout": "llm_timeout_s",
    "proposals": "n_proposals",
    "encoder_option": "encoder_options",
    "transfer_model": "transfer_models",
}
#: parameter -> parser of its text, for flags whose RunConfig value is not the text itself
PARSERS: dict[str, Callable[[Any], Any]] = {
    "classes": _classes,
    "proposer": check_proposer,
    "moves": _moves,
    "fractions": lambda text: _floats(text, 3, "--fractions"),
    "crop": lambda text: _floats(text, 4, "--crop"),
}


def run_overrides(flags: Mapping[str, Any]) -> BaseModel:
    """The settings among ``optimize_command``'s parameters, parsed, renamed to RunConfig fields and typed.

    Parameters in :data:`NOT_SETTINGS` are skipped; a parameter that names no RunConfig
    field fails here (RunOverrides forbids unknown names), so the two cannot drift apart.
    """
    settings = {}
    for name, value in flags.items():
        if name in NOT_SETTINGS:
            continue
        parse = PARSERS.get(name)
        settings[FIELD_OF.get(name, name)] = parse(value) if parse is not None and value is not None else value
    return RunOverrides(**settings)
