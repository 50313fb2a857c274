"""``propose``: K validated candidate systems from a class list, written to a folder as they arrive.

``lm`` is any DSPy LM string (``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama_chat/...``;
``api_base`` for OpenAI-compatible endpoints), ``local[:model|:file.gguf]`` (a bundled
llama-server on 127.0.0.1 for this call) or ``simulated`` (a SIMULATION for
``data="synthetic:<world>"`` only). The folder gets ``candidate_01.json`` ... and
``proposer_log.jsonl`` (raw answers, repairs, usage), both written incrementally so that
an error later loses nothing already made.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotclip._types import need, need_path, need_text, need_texts
from cotclip.optimizer.llm.lm import LLMClient, LMConfig
from cotclip.optimizer.llm.usage import Budget, Usage
from cotclip.optimizer.proposers import ProposalTask
from cotclip.systems.errors import InputError, ProposerError, WrongTypeError
from cotclip.systems.model import System

__all__ = ["Proposals", "propose"]


@dataclass(frozen=True)
class Proposals:
    """What :func:`propose` wrote: the candidate files and systems, LLM usage, and why it stopped early (if it did)."""

    directory: Path
    files: list[Path]
    systems: list[System]
    requested: int
    stopped_because: str | None
    usage: Usage
    simulated_world: str | None = None

    @property
    def log(self) -> Path:
        """``proposer_log.jsonl``: every raw answer, repair and call's usage."""
        return self.directory / "proposer_log.jsonl"

    def to_dict(self) -> dict[str, Any]:
        """What ``cotclip propose --json`` prints."""
        rows = [
            {
                "file": str(path),
                "name": system.name,
                "groups": len(system.groups),
                "prompts": len(system.prompt_texts()),
                "repairs": len(system.provenance.details.get("repairs", [])),
            }
            for path, system in zip(self.files, self.systems)
        ]
        return {
            "out": str(self.directory),
            "candidates": rows,
            "requested": self.requested,
            "stopped_because": self.stopped_because,
            "llm": self.usage.to_dict(),
            "log": str(self.log),
        }


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
            for record in records[self._logged :]:
                stream.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._logged = len(records)


@contextlib.contextmanager
def _proposer(
    lm: str,
    api_base: str | None,
    data: str | None,
    options: dict[str, Any],
    budget: Budget,
    prompts_dir: Path | None = None,
) -> Iterator[Any]:
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
            yield LLMProposer(
                LLMClient(server.lm_config(**_lm_options(options))),
                budget=budget,
                prompts_dir=prompts_dir,
                concurrency=options["concurrency"],
                seed=options["seed"],
            )
        return
    yield LLMProposer(
        LLMClient(LMConfig(lm, api_base=api_base, **_lm_options(options))),
        budget=budget,
        prompts_dir=prompts_dir,
        concurrency=options["concurrency"],
        seed=options["seed"],
    )


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
        raise ProposerError(
            explain(task.n_candidates)
            if explain
            else f"the proposer made no valid candidate; see {output.directory / 'proposer_log.jsonl'}"
        )


def _budget(budget: Budget | Mapping[str, Any] | None) -> Budget:
    if budget is None or isinstance(budget, Budget):
        return budget or Budget()
    if not isinstance(budget, Mapping):
        raise WrongTypeError(
            f"budget must be a Budget or a dict of max_calls/max_tokens/max_usd, not {type(budget).__name__}"
        )
    unknown = sorted(set(budget) - {"max_calls", "max_tokens", "max_usd"})
    if unknown:
        raise InputError(f"budget has unknown key {unknown[0]!r}; use max_calls, max_tokens or max_usd")
    return Budget(**budget)


def _task(classes: Any, domain: Any, notes: Any, n_candidates: Any, max_groups: Any, max_options: Any) -> ProposalTask:
    names = [name.strip() for name in need_texts(classes, "classes") if name.strip()]
    if not names:
        raise InputError("--classes is required; pass a,b,c or a file with one class per line")
    if domain is not None:
        need(domain, "domain", str, "one line about the images")
    need(notes, "notes", Mapping, "a dict of class name -> note")
    for name, value in (("n_candidates", n_candidates), ("max_groups", max_groups), ("max_options", max_options)):
        need(value, name, int, "an int >= 1")
    return ProposalTask(
        tuple(names),
        domain=domain,
        notes=dict(notes),
        max_groups=max_groups,
        max_options=max_options,
        n_candidates=n_candidates,
    )


def _world_classes(lm: str, data: str | None, seed: int) -> list[str]:
    """The classes of the synthetic world ``data``: what ``lm="simulated"`` proposes for when none are given."""
    if lm != "simulated" or not data:
        raise InputError("--classes is required; pass a,b,c or a file with one class per line")
    from cotclip.optimizer.proposers.simulated import simulated_proposer_for
    from cotclip.scoring.registry import load_dataset

    return list(simulated_proposer_for(load_dataset(data), seed=seed).world.classes)


def propose(
    classes: Sequence[str] | None,
    lm: str,
    out: str | os.PathLike[str],
    *,
    n_candidates: int = 3,
    domain: str | None = None,
    notes: Mapping[str, str] | None = None,
    max_groups: int = 5,
    max_options: int = 8,
    api_base: str | None = None,
    data: str | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    concurrency: int | None = None,
    seed: int = 0,
    prompts_dir: str | os.PathLike[str] | None = None,
    **llm: Any,
) -> Proposals:
    """Propose ``n_candidates`` validated systems for ``classes`` into the empty folder ``out``.

    ``lm`` as in the module docstring; ``llm`` holds ``temperature``, ``max_tokens``,
    ``timeout_s``, ``retries`` and ``cache_dir`` (a folder caching answers by request).
    ``concurrency`` is the LLM calls in flight (default: 4 for a hosted LLM, 1 for a local one).
    ``budget`` caps calls, tokens and dollars (:class:`Budget` or a dict). ``classes=None``
    is allowed with ``lm="simulated"`` only: the classes of the synthetic world ``data``.
    Each candidate is written as soon as it exists; :class:`ProposerError` when none is made
    (the log stays).
    """
    need_text(lm, "lm", "openai/gpt-4o-mini")
    if classes is None:
        need(seed, "seed", int, "an int")
        classes = _world_classes(lm, data, seed)
    task = _task(classes, domain, notes or {}, n_candidates, max_groups, max_options)
    unknown = sorted(set(llm) - {"temperature", "max_tokens", "timeout_s", "retries", "cache_dir"})
    if unknown:
        raise WrongTypeError(f"propose() got an unexpected keyword argument {unknown[0]!r}")
    spend = _budget(budget)
    if prompts_dir is not None:
        from cotclip.optimizer.proposers.tuning import check_prompts_dir

        check_prompts_dir(Path(need_path(prompts_dir, "prompts_dir")))
    output = _Output(Path(need_path(out, "out")))
    if concurrency is None:
        from cotclip.optimizer.llm.models import default_llm_concurrency

        concurrency = default_llm_concurrency(lm)
    options = {**llm, "seed": seed, "concurrency": need(concurrency, "concurrency", int, "an int >= 1")}
    with _proposer(lm, api_base, data, options, spend, None if prompts_dir is None else Path(prompts_dir)) as proposer:
        _run(proposer, task, output)
        world = getattr(proposer, "world", None)
        systems = [System.from_data(json.loads(path.read_text(encoding="utf-8"))) for path in output.files]
        return Proposals(
            output.directory,
            list(output.files),
            systems,
            task.n_candidates,
            getattr(proposer, "stopped_because", None),
            proposer.usage,
            None if world is None else world.name,
        )
