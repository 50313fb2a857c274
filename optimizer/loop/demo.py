"""The demo's run: a synthetic world (a SIMULATION of images) with field notes, and settings sized for 2 cores.

``cotclip demo`` and ``benchmarks/bench_proposers.py`` both build their runs here, so
that what the benchmark measures is what the demo runs.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from cotclip.optimizer.loop.config import ProposerMode, RunConfig, default_run_name

__all__ = ["demo_config", "DEMO_NOTES"]

#: Field-note defects of the demo: 20% of clauses left out, 10% naming a wrong value.
DEMO_NOTES = {"omit_rate": 0.2, "error_rate": 0.1}


def demo_config(
    world: str,
    lm: str,
    proposer: str | None = None,
    *,
    runs_dir: str = "runs",
    cache_dir: str | None = None,
    seed: int = 0,
    name: str | None = None,
) -> RunConfig:
    """The run ``cotclip demo`` makes on ``world`` with proposer ``lm`` (``simulated`` or an LLM)."""
    from cotclip.scoring.simulation.world import load_world

    notes = load_world(world).field_notes(**DEMO_NOTES, seed=0)
    local = lm != "simulated"
    return RunConfig(
        name=name or f"demo-{default_run_name()}",
        runs_dir=runs_dir,
        data=f"synthetic:{world}",
        model="synthetic",
        lm=lm,
        # the mode is the user's text: checked here as RunConfig would check it
        proposer=TypeAdapter(ProposerMode).validate_python(proposer or "auto"),
        notes=notes,
        domain="creatures from a fantasy card game",
        cache_dir=cache_dir,
        seed=seed,
        # A small local model on 2 cores takes 5-60 s an answer: the LLM call budget bounds the demo's time,
        # and the data-driven moves (fit, refine, merge) run before the LLM in every round.
        n_proposals=2 if local else 4,
        revisions_per_round=1 if local else 2,
        beam=1 if local else 2,
        patience=2 if local else 3,
        max_groups=6,
        max_options=12,
        llm_max_tokens=1000,
        # 32 classes need more than 200 evaluations (menagerie stopped there still rising). No wall cap: on a
        # loaded machine a 9-minute cap ended runs before the first proposal (the LLM call budget bounds the time).
        max_llm_calls=30 if local else None,
        max_evaluations=400 if local else 200,
        # from a weak LLM's systems, knob search (e.g. mixing in the class-name prior) is a cheap, real gain
        moves=["fit_rules", "refine_rules", "merge", "tune_scoring", "knob_search", "llm_revise"]
        if local
        else ["fit_rules", "refine_rules", "merge", "llm_revise", "tune_scoring"],
    )
