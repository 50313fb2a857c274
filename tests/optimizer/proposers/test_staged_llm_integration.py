"""The staged proposer end to end with the real local LLM (SmolLM2 via llama-server).

Every step's answer goes through the real server (JSON schema enforced) and the
proposer must come out with at least one valid system grounded on the pokemon-like
world's train images: the data-side steps make even a 135M model's phrases usable.
FAILS (never skips) when the model or binary is missing: run `make setup`.
"""

import pytest

from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.repair import parse_answer
from cotclip.optimizer.proposers.staged import StagedProposer
from cotclip.scoring.simulation.world import load_world

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_every_staged_step_against_smollm2_gives_a_valid_grounded_system(local_server, pokemon, tmp_path):
    _, train, _, _ = pokemon
    world = load_world("pokemon-like")
    classes = tuple(world.classes[:8])
    notes = {c: n for c, n in world.field_notes(omit_rate=0.2, error_rate=0.1).items() if c in classes}
    subset = train.subset([i for i, label in enumerate(train.labels) if label in classes])
    steps = []
    client = LLMClient(local_server.lm_config(max_tokens=400, timeout_s=300, retries=0, cache_dir=tmp_path))
    proposer = StagedProposer(client, train=subset, on_step=steps.append)
    systems = proposer.propose(
        ProposalTask(classes, domain="fantasy creatures", notes=notes, n_candidates=1, max_groups=4, max_options=6)
    )
    system = systems[0]
    assert system.classes == list(classes) and system.provenance.method == "llm-staged"
    assert all(g.prompt.count("{}") == 1 and 2 <= len(g.options) <= 6 for g in system.groups)
    assert [line.split(":")[0] for line in steps if "batch" not in line][:5] == [
        "describe",
        "sort",
        "organize",
        "expand",
        "assign",
    ]
    answers = [r for r in proposer.records if r.get("raw") is not None]
    kinds = {r["kind"] for r in answers}
    assert {"staged-describe", "staged-questions"} <= kinds
    for record in answers:  # schema-constrained output is always a JSON object (maybe cut at max_tokens)
        assert isinstance(parse_answer(record["raw"]).data, dict)
    assert proposer.usage.calls == len(answers) and proposer.usage.usd == 0.0
