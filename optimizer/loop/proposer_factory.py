"""Turn ``RunConfig.lm`` into a proposer: ``simulated``, ``local`` (SmolLM2 via llama-server) or a DSPy LM string.

LLM answers are cached in the run dir (``llm_cache/``), so a resumed run replays the
answers it already paid for instead of asking again. An LLM proposer reads its
instructions from ``prompts_dir`` or, with ``optimize_proposer``, from the folder the
proposer optimization writes into the run dir (:mod:`.proposer_tuning`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.data import Inputs, RunData
from cotclip.optimizer.loop.proposer_tuning import run_prompts_dir
from cotclip.optimizer.loop.runs import RunDir
from cotclip.optimizer.proposers._base import ProposalTask

__all__ = ["build_proposer"]


def _budget(config: RunConfig) -> Any:
    from cotclip.optimizer.llm.usage import Budget

    return Budget(max_calls=config.max_llm_calls, max_usd=config.max_usd)


def build_proposer(
    config: RunConfig, inputs: Inputs, run: RunDir, stack: contextlib.ExitStack, *, data: RunData, task: ProposalTask
) -> Any:
    """The proposer for ``config.lm``; a local server is stopped when ``stack`` closes.

    With ``config.optimize_proposer`` its instructions are first optimized on ``task``
    with ``data``'s train (diagnostics) and val (score) images.
    """
    if config.lm == "none":
        return None
    if config.lm == "simulated":
        from cotclip.optimizer.proposers.simulated import simulated_proposer_for

        return simulated_proposer_for(inputs.dataset, seed=config.seed)
    from cotclip.optimizer.llm.lm import LLMClient, LMConfig
    from cotclip.optimizer.proposers.llm import LLMProposer

    if config.lm == "local":
        from cotclip.optimizer.llm.server import LocalLLMServer

        server = stack.enter_context(LocalLLMServer())
        lm_config = server.lm_config(
            cache_dir=run.path / "llm_cache", max_tokens=config.llm_max_tokens, timeout_s=config.llm_timeout_s
        )
    else:
        lm_config = LMConfig(
            model=config.lm, api_base=config.api_base, cache_dir=run.path / "llm_cache",
            max_tokens=config.llm_max_tokens, timeout_s=config.llm_timeout_s,
        )
    client = LLMClient(lm_config)
    prompts_dir = run_prompts_dir(config, client, run, task, data.train, data.val)
    return LLMProposer(client, budget=_budget(config), prompts_dir=prompts_dir)
