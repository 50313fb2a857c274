"""Turn ``RunConfig.lm`` into a proposer: ``simulated``, ``local[:model]`` (llama-server) or a DSPy LM string.

``RunConfig.proposer`` picks how an LLM proposes: ``staged`` (short steps, the data
decides; :mod:`cotclip.optimizer.proposers.staged`), ``oneshot`` (one answer holds the
whole system) or ``auto`` (staged for local and small models, oneshot otherwise);
:func:`proposer_mode` resolves ``auto`` and the run records the choice.

LLM answers are cached in the run dir (``llm_cache/``), so a resumed run replays the
answers it already paid for instead of asking again. An LLM proposer reads its
instructions from ``prompts_dir`` or, with ``optimize_proposer``, from the folder the
proposer optimization writes into the run dir (:mod:`.tuning`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import Inputs, RunData
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.tuning import run_prompts_dir
from cotclip.scoring.scorer import ImageSet

__all__ = ["build_proposer", "llm_concurrency", "llm_timeout_s", "proposer_mode"]

#: LM names that mark a small model (billions of parameters <= 3, or a known small family).
_SMALL_MODEL = re.compile(
    r"(?<![\d.])(0\.\d+|1(\.\d+)?|2(\.\d+)?|3)b\b|\d+m\b|smollm|tinyllama|phi-?[1-3]\b|-mini\b", re.IGNORECASE
)


def proposer_mode(config: RunConfig) -> str:
    """``staged`` or ``oneshot`` for an LLM proposer (``auto``: staged for local/small models); ``none`` without one."""
    from cotclip.optimizer.llm.models import is_local_lm

    if config.lm in ("none", "simulated"):
        return "none" if config.lm == "none" else "simulated"
    if config.proposer != "auto":
        return config.proposer
    return "staged" if is_local_lm(config.lm) or _SMALL_MODEL.search(config.lm) else "oneshot"


def llm_concurrency(config: RunConfig) -> int:
    """``--llm-concurrency`` as given, else the LLM's default (see ``default_llm_concurrency``)."""
    from cotclip.optimizer.llm.models import default_llm_concurrency

    return config.llm_concurrency or default_llm_concurrency(config.lm)


def llm_timeout_s(config: RunConfig) -> float:
    """``--llm-timeout`` as given, else the LLM's default (see ``default_llm_timeout_s``)."""
    from cotclip.optimizer.llm.models import default_llm_timeout_s

    return config.llm_timeout_s or default_llm_timeout_s(config.lm)


def _budget(config: RunConfig) -> Any:
    from cotclip.optimizer.llm.usage import Budget

    return Budget(max_calls=config.max_llm_calls, max_usd=config.max_usd)


def build_proposer(
    config: RunConfig,
    inputs: Inputs,
    run: RunDir,
    stack: contextlib.ExitStack,
    *,
    data: RunData,
    task: ProposalTask,
    on_step: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> Any:
    """The proposer for ``config.lm``; a local server is stopped when ``stack`` closes.

    With ``config.optimize_proposer`` its instructions are first optimized on ``task``
    with ``data``'s train (diagnostics) and val (score) images (one-shot proposer only).
    ``on_step`` receives the staged proposer's one-line step summaries. ``deadline``
    (``time.perf_counter()``, the run's wall-time budget) bounds every call of its LLM client.
    """
    if config.lm == "none":
        return None
    if config.lm == "simulated":
        from cotclip.optimizer.proposers.simulated import simulated_proposer_for

        return simulated_proposer_for(inputs.dataset, seed=config.seed)
    from cotclip.optimizer.llm.lm import LLMClient, LMConfig
    from cotclip.optimizer.llm.models import is_local_lm, resolve_local_model
    from cotclip.optimizer.proposers.llm import LLMProposer

    concurrency = llm_concurrency(config)
    if is_local_lm(config.lm):
        from cotclip.optimizer.llm.server import LocalLLMServer

        server = stack.enter_context(LocalLLMServer(model=resolve_local_model(config.lm), parallel=concurrency))
        lm_config = server.lm_config(
            cache_dir=run.path / "llm_cache",
            max_tokens=config.llm_max_tokens,
            timeout_s=llm_timeout_s(config),
            retries=config.llm_retries,
        )
    else:
        lm_config = LMConfig(
            model=config.lm,
            api_base=config.api_base,
            cache_dir=run.path / "llm_cache",
            max_tokens=config.llm_max_tokens,
            timeout_s=llm_timeout_s(config),
            retries=config.llm_retries,
        )
    client = LLMClient(lm_config)
    client.deadline = deadline
    if proposer_mode(config) == "staged":
        return _staged(config, client, data, on_step)
    prompts_dir = run_prompts_dir(config, client, run, task, data.train, data.val)
    return LLMProposer(
        client, budget=_budget(config), prompts_dir=prompts_dir, concurrency=concurrency, seed=config.seed
    )


def _staged(config: RunConfig, client: Any, data: RunData, on_step: Callable[[str], None] | None) -> Any:
    """The staged proposer, grounding on ``data.train`` and fitting rules as the loop's fit_rules does."""
    from pathlib import Path

    from cotclip.optimizer.loop.moves import FitRulesMove
    from cotclip.optimizer.proposers.staged import StagedProposer

    fit = FitRulesMove(
        min_images=config.fit_min_images, min_evidence=config.fit_min_evidence, temperature=config.temperature
    )

    def refit(system: Any) -> Any:
        rules, changes = fit.fitted_rules(system, _TrainOnly(data.train))
        return system.evolve(rules=rules) if changes else system

    prompts_dir = Path(config.prompts_dir) if config.prompts_dir else None
    return StagedProposer(
        client,
        train=data.train,
        fit=refit,
        budget=_budget(config),
        prompts_dir=prompts_dir,
        on_step=on_step,
        seed=config.seed,
        concurrency=llm_concurrency(config),
    )


class _TrainOnly:
    """The slice of a move context that rule fitting reads: the train images."""

    def __init__(self, train: ImageSet) -> None:
        self.train = train
