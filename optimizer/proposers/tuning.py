"""``--optimize-proposer`` and ``--prompts-dir``: which instruction files the run's LLM proposer reads.

With ``optimize_proposer`` the run first runs GEPA over the proposer's ``propose``
instructions (:func:`cotclip.optimizer.proposers.gepa.optimize_proposer`) on the
run's own task: metric = val accuracy of the proposed system, feedback = its train
diagnostics. The best instructions are saved as ``<run dir>/prompts/*.md`` (a complete
folder, reusable as ``--prompts-dir`` for the next task) and the run's proposer reads
them. ``proposer_opt.json`` records the outcome and marks the step done, so a resumed
run does not repeat it.

A reflection call that fails costs that iteration only (GEPA goes on; at worst the
given instructions stay), and a proposer answer that fails scores 0, as in the loop.
Its LLM budget, ``proposer_opt_calls``, is separate from the run's ``max_llm_calls``:
about a quarter goes to GEPA's reflection calls (at least one), the rest to proposer
answers while scoring candidates (answers already in the run's LLM cache are free).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers import ProposalTask
from cotclip.scoring.scorer import ImageSet
from cotclip.systems.errors import InputError

__all__ = ["PROPOSER_OPT_FILE", "check_prompts_dir", "check_proposer_options", "run_prompts_dir"]

PROPOSER_OPT_FILE = "proposer_opt.json"
#: The staged proposer's instruction files.
STAGED_PROMPT_NAMES = ("describe", "questions", "expand", "assign", "contrast")
_NO_LLM = ("simulated", "none")


def check_prompts_dir(folder: str | Path, names: tuple[str, ...] | None = None) -> Path:
    """``folder`` as a Path; InputError unless it holds every instruction file (``names``) the proposer reads.

    ``names`` defaults to the one-shot proposer's files.
    """
    from cotclip.optimizer.proposers.gepa import PROMPT_NAMES

    folder, wanted = Path(folder), names or PROMPT_NAMES
    missing = [f"{name}.md" for name in wanted if not (folder / f"{name}.md").is_file()]
    if missing:
        raise InputError(
            f"--prompts-dir {folder} lacks {', '.join(missing)}; pass a folder with "
            f"{', '.join(n + '.md' for n in wanted)} such as an earlier run's prompts/"
        )
    return folder


def check_proposer_options(config: RunConfig) -> None:
    """InputError when ``optimize_proposer``/``prompts_dir`` cannot apply (checked before a run dir exists)."""
    if config.optimize_proposer and config.lm in _NO_LLM:
        raise InputError(
            f"--optimize-proposer tunes an LLM proposer's instructions, not --lm {config.lm}; "
            "pass --lm local or an LM string, or drop --optimize-proposer"
        )
    from cotclip.optimizer.proposers.factory import proposer_mode

    staged = proposer_mode(config) == "staged"
    if config.optimize_proposer and staged:
        raise InputError(
            "--optimize-proposer tunes the one-shot proposer's instructions; add --proposer oneshot "
            "or drop --optimize-proposer"
        )
    if config.prompts_dir is None:
        return
    if config.lm in _NO_LLM:
        raise InputError(
            f"--prompts-dir is read by an LLM proposer, not --lm {config.lm}; "
            "pass --lm local or an LM string, or drop --prompts-dir"
        )
    check_prompts_dir(config.prompts_dir, STAGED_PROMPT_NAMES if staged else None)


def _tune(config: RunConfig, client: Any, run: RunDir, task: ProposalTask, train: ImageSet, val: ImageSet) -> dict:
    from cotclip.optimizer.llm.usage import Budget
    from cotclip.optimizer.proposers.gepa import ProposerCase, optimize_proposer
    from cotclip.optimizer.proposers.llm import LLMProposer

    reflections = max(1, config.proposer_opt_calls // 4)
    answers = config.proposer_opt_calls - reflections
    built: list[LLMProposer] = []

    def paid_calls() -> int:
        return sum(p.usage.calls - p.usage.cached_calls for p in built)

    def make_proposer(prompts_dir: Path) -> LLMProposer:
        built.append(
            LLMProposer(client, budget=Budget(max_calls=max(0, answers - paid_calls())), prompts_dir=prompts_dir)
        )
        return built[-1]

    case = ProposerCase(replace(task, n_candidates=1), train, val)
    base = Path(config.prompts_dir) if config.prompts_dir else None
    result = optimize_proposer(
        [case],
        make_proposer,
        client.lm,
        run.path,
        max_metric_calls=max(1, answers),
        max_reflection_calls=reflections,
        base_prompts=base,
        seed=config.seed,
    )
    tokens = sum(p.usage.tokens for p in built)
    return {
        **result.to_dict(),
        "llm": {
            "proposer_calls": sum(p.usage.calls for p in built),
            "paid_proposer_calls": paid_calls(),
            "proposer_tokens": tokens,
            "reflection_calls": result.reflection_calls,
            "budget_calls": config.proposer_opt_calls,
        },
    }


def run_prompts_dir(
    config: RunConfig, client: Any, run: RunDir, task: ProposalTask, train: ImageSet, val: ImageSet
) -> Path | None:
    """The instructions folder the run's proposer reads: tuned (run once per run), ``prompts_dir``, or None."""
    if not config.optimize_proposer:
        return Path(config.prompts_dir) if config.prompts_dir else None
    if run.read_json(PROPOSER_OPT_FILE) is None:
        run.write_json(PROPOSER_OPT_FILE, _tune(config, client, run, task, train, val))
    return run.path / "prompts"
