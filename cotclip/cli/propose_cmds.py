"""``cotclip propose``: K validated candidate systems from a class list, written as they arrive.

``--lm`` is any DSPy LM string (``openai/gpt-4o-mini``, ``anthropic/...``,
``ollama_chat/...``; ``--api-base`` for OpenAI-compatible endpoints), ``local`` (start
the bundled SmolLM2 llama-server on 127.0.0.1 for this command) or ``simulated`` (a
simulation for ``--data synthetic:<world>`` only). The output folder gets
``candidate_01.json`` ... and ``proposer_log.jsonl`` (raw answers, repairs, usage),
both written incrementally so that an error later loses nothing already made.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from cotclip.cli._app import app, console, emit_json
from cotclip.optimizer.llm.lm import LLMClient, LMConfig
from cotclip.optimizer.llm.usage import Budget
from cotclip.optimizer.proposers import ProposalTask
from cotclip.systems.errors import InputError, ProposerError
from cotclip.systems.model import System

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


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


class _Output:
    """The output folder: numbered candidates and an append-only proposer log."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"--out {directory}: cannot create it ({exc.strerror}); choose a writable folder"
            ) from None
        if any(directory.glob("candidate_*.json")):
            raise InputError(f"--out {directory} already holds candidates; choose an empty folder or delete them")
        self.directory = directory
        self.files: list[Path] = []
        self._logged = 0

    def add(self, system: System) -> Path:
        """Write the next ``candidate_NN.json`` atomically."""
        path = self.directory / f"candidate_{len(self.files) + 1:02d}.json"
        _write_atomic(path, system.to_json())
        self.files.append(path)
        return path

    def log(self, records: list[dict[str, Any]]) -> None:
        """Append the records not written yet to ``proposer_log.jsonl``."""
        with open(self.directory / "proposer_log.jsonl", "a", encoding="utf-8") as stream:
            for record in records[self._logged:]:
                stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._logged = len(records)


@contextlib.contextmanager
def _proposer(lm: str, api_base: str | None, data: str | None, options: dict[str, Any],
              budget: Budget, prompts_dir: Path | None = None) -> Iterator[Any]:
    from cotclip.optimizer.proposers.llm import LLMProposer

    if lm == "simulated" and prompts_dir is not None:
        raise InputError("--prompts-dir is read by an LLM proposer, not --lm simulated; drop one of them")
    if lm == "simulated":
        from cotclip.optimizer.proposers.simulated import simulated_proposer_for
        from cotclip.scoring.registry import load_dataset

        if not data:
            raise InputError("--lm simulated needs --data synthetic:<world> (it refuses real data)")
        yield simulated_proposer_for(load_dataset(data), seed=options.get("seed", 0))
        return
    from cotclip.optimizer.llm.models import is_local_lm, resolve_local_model

    if is_local_lm(lm):
        from cotclip.optimizer.llm.server import LocalLLMServer

        with LocalLLMServer(model=resolve_local_model(lm), parallel=options["concurrency"]) as server:
            yield LLMProposer(LLMClient(server.lm_config(**_lm_options(options))), budget=budget,
                              prompts_dir=prompts_dir, concurrency=options["concurrency"])
        return
    yield LLMProposer(LLMClient(LMConfig(lm, api_base=api_base, **_lm_options(options))), budget=budget,
                      prompts_dir=prompts_dir, concurrency=options["concurrency"])


def _lm_options(options: dict[str, Any]) -> dict[str, Any]:
    keys = ("temperature", "max_tokens", "timeout_s", "retries", "cache_dir")
    return {k: options[k] for k in keys if options.get(k) is not None}


def _run(proposer: Any, task: ProposalTask, output: _Output) -> None:
    """Write each candidate (and the log so far) as soon as it exists; keep both on errors."""
    made = proposer.propose_iter(task) if hasattr(proposer, "propose_iter") else iter(proposer.propose(task))
    try:
        for system in made:
            output.add(system)
            output.log(proposer.records)
    finally:
        output.log(proposer.records)
    if not output.files:
        explain = getattr(proposer, "failure_message", None)
        raise ProposerError(explain(task.n_candidates) if explain else "the proposer made no valid candidate; "
                            f"see {output.directory / 'proposer_log.jsonl'}")


def _report(output: _Output, proposer: Any, task: ProposalTask, as_json: bool) -> None:
    rows = []
    for path in output.files:
        system = System.from_data(json.loads(path.read_text(encoding="utf-8")))
        rows.append({"file": str(path), "name": system.name, "groups": len(system.groups),
                     "prompts": len(system.prompt_texts()),
                     "repairs": len(system.provenance.details.get("repairs", []))})
    stopped = getattr(proposer, "stopped_because", None)
    payload = {"out": str(output.directory), "candidates": rows, "requested": task.n_candidates,
               "stopped_because": stopped, "llm": proposer.usage.to_dict(),
               "log": str(output.directory / "proposer_log.jsonl")}
    if as_json:
        emit_json(payload)
        return
    table = Table(title=f"{len(rows)}/{task.n_candidates} candidate(s) in {output.directory}")
    for column in ("file", "groups", "prompts", "repairs"):
        table.add_column(column)
    for row in rows:
        table.add_row(Path(row["file"]).name, str(row["groups"]), str(row["prompts"]), str(row["repairs"]))
    console.print(table)
    if getattr(proposer, "world", None) is not None:
        console.print(f"SIMULATED proposer on synthetic world {proposer.world.name}: no LLM was called")
    usage = proposer.usage
    usd = "unknown" if usage.usd is None else f"${usage.usd:.4f}"
    console.print(f"LLM: {usage.calls} call(s), {usage.tokens} tokens, {usd}; log: {payload['log']}")
    if stopped:
        console.print(f"stopped early: {stopped}")


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
        None, "--llm-timeout", "--timeout", min=0.0, help="Seconds to wait for one answer (default 120)."
    ),
    retries: int | None = typer.Option(
        None,
        "--llm-retries",
        "--retries",
        min=0,
        help="Retries (exponential backoff) after a failed answer (default 2).",
    ),
    concurrency: int = typer.Option(
        4,
        "--llm-concurrency",
        min=1,
        help="LLM calls in flight at once (1: one after the other); local starts that many llama-server slots.",
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
    task = ProposalTask(
        tuple(class_names),
        domain=domain,
        notes=read_notes(notes),
        max_groups=max_groups,
        max_options=max_options,
        n_candidates=n_candidates,
    )
    budget = Budget(max_calls=max_calls, max_tokens=max_llm_tokens, max_usd=max_usd)
    options = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "timeout_s": timeout,
        "retries": retries,
        "cache_dir": cache_dir,
        "seed": seed,
        "concurrency": concurrency,
    }
    if prompts_dir is not None:
        from cotclip.optimizer.proposers.tuning import check_prompts_dir

        check_prompts_dir(prompts_dir)
    output = _Output(out)
    with _proposer(lm, api_base, data, options, budget, prompts_dir) as proposer:
        _run(proposer, task, output)
        _report(output, proposer, task, as_json)
