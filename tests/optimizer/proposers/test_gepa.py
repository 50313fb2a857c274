"""GEPA over the proposer's instructions with recorded replies (DummyLM) and with the local LLM."""

from __future__ import annotations

import json

import pytest

from cotclip.optimizer.llm.lm import LLMClient, LMConfig
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.gepa import ProposerCase, feedback_of, optimize_proposer
from cotclip.optimizer.proposers.llm import LLMProposer
from cotclip.optimizer.proposers.signatures import load_instructions
from cotclip.systems.errors import InputError

MARKER = "Name at least one group per visible attribute."


def _answer(system, groups):
    kept = [g for g in system.groups if g.name in groups]
    return json.dumps(
        {
            "groups": [{"name": g.name, "prompt": g.prompt, "options": list(g.options)} for g in kept],
            "rules": {
                c: [{"group": g.name, "option": g.options[system.rule(c, g.name)]} for g in kept]
                for c in system.classes
            },
        }
    )


def _recorded_proposer(system):
    """A proposer whose recorded LLM answers well only when its instructions carry MARKER."""
    from dspy.utils import DummyLM

    good = _answer(system, system.group_names)
    poor = _answer(system, system.group_names[:1])

    def make(prompts_dir):
        text = (prompts_dir / "propose.md").read_text()
        reply = good if MARKER in text else poor
        return LLMProposer(
            LLMClient(LMConfig(model="openai/recorded"), lm=DummyLM([{"answer": reply}] * 20)), prompts_dir=prompts_dir
        )

    return make


@pytest.fixture()
def case(pokemon):
    system, train, val, _ = pokemon
    return system, ProposerCase(ProposalTask(classes=tuple(system.classes), max_groups=5, max_options=12), train, val)


def test_reflection_that_helps_is_kept_and_saved_as_a_prompts_folder(case, tmp_path):
    from dspy.utils import DummyLM

    system, proposer_case = case
    rewritten = load_instructions("propose").text + "\n" + MARKER
    reflection = DummyLM([{"instructions": f"```\n{rewritten}\n```"}] * 10)
    result = optimize_proposer(
        [proposer_case], _recorded_proposer(system), reflection, tmp_path, max_metric_calls=6, max_reflection_calls=2
    )
    assert result.best_score > result.seed_score
    assert MARKER in result.instructions["propose"]
    assert sorted(p.name for p in result.prompts_dir.iterdir()) == ["complete_rules.md", "propose.md", "revise.md"]
    assert MARKER in load_instructions("propose", result.prompts_dir).text
    assert load_instructions("revise", result.prompts_dir).text == load_instructions("revise").text
    assert 1 <= result.reflection_calls <= 2 and result.metric_calls <= 6 + 1
    assert [p["accepted"] for p in result.proposals][:1] == [True]
    assert MARKER in result.proposals[0]["instructions"]["propose"]
    assert result.proposals[0]["scores"] and max(result.proposals[0]["scores"]) > result.seed_score
    json.dumps(result.to_dict())


def test_a_rewrite_that_loses_is_recorded_as_rejected_and_the_given_instructions_stay(case, tmp_path):
    """What a weak reflection LM (SmolLM2) does: it rewrites, the rewrite scores no better, GEPA drops it."""
    from dspy.utils import DummyLM

    system, proposer_case = case
    reflection = DummyLM([{"instructions": "Describe the picture."}] * 10)  # no fences, no MARKER
    result = optimize_proposer(
        [proposer_case], _recorded_proposer(system), reflection, tmp_path, max_metric_calls=3, max_reflection_calls=1
    )
    assert result.candidates == 1 and result.best_score == result.seed_score
    assert load_instructions("propose", result.prompts_dir).text == load_instructions("propose").text
    assert len(result.proposals) == 1 and result.proposals[0]["accepted"] is False
    assert "Describe the picture." in result.proposals[0]["instructions"]["propose"]
    assert result.proposals[0]["scores"] and max(result.proposals[0]["scores"]) <= result.seed_score
    assert json.loads(json.dumps(result.to_dict()))["proposals"] == result.proposals


def test_feedback_names_weak_classes_and_confusions(case):
    system, proposer_case = case
    one_group = system.evolve(
        groups=[system.groups[0].model_dump()],
        rules={c: {system.groups[0].name: system.rule(c, system.groups[0].name)} for c in system.classes},
    )
    text = feedback_of(one_group, proposer_case.train, 0.25)
    assert "val accuracy 0.250" in text and "weakest classes" in text and "most confused" in text


def test_bad_settings_are_one_line_errors(case, tmp_path):
    system, proposer_case = case
    with pytest.raises(InputError):
        optimize_proposer([proposer_case], _recorded_proposer(system), None, tmp_path, components=("nope",))
    with pytest.raises(InputError):
        optimize_proposer([], _recorded_proposer(system), None, tmp_path)


@pytest.mark.llm
@pytest.mark.slow
def test_with_the_local_llm(case, tmp_path):
    from cotclip.optimizer.llm.server import LocalLLMServer
    from cotclip.optimizer.llm.usage import Budget

    system, proposer_case = case
    classes = tuple(system.classes[:4])  # a small task keeps each SmolLM2 answer to seconds

    def only(images):
        return images.subset([i for i, label in enumerate(images.labels) if label in classes])

    proposer_case = ProposerCase(
        ProposalTask(classes=classes, max_groups=2, max_options=4), only(proposer_case.train), only(proposer_case.val)
    )
    with LocalLLMServer() as server:
        client = LLMClient(server.lm_config(max_tokens=400, timeout_s=300))
        make = lambda d: LLMProposer(client, budget=Budget(max_calls=3), prompts_dir=d, max_attempts=1)  # noqa: E731
        result = optimize_proposer(
            [proposer_case], make, client.lm, tmp_path, max_metric_calls=2, max_reflection_calls=1
        )
    assert load_instructions("propose", result.prompts_dir).text.strip()
    assert 0.0 <= result.seed_score <= result.best_score <= 1.0
    assert result.reflection_calls <= 1
