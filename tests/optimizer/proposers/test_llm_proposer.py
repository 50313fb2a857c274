"""The LLM proposer on scripted replies (DSPy DummyLM): retries with feedback, budgets, cache, revise."""

import hashlib
from importlib import resources

import pytest
from proposer_testing import reply, scripted_client

from cotclip.optimizer.llm.usage import Budget
from cotclip.optimizer.proposers import ProposalTask, ScoredVersion
from cotclip.optimizer.proposers.llm import LLMProposer
from cotclip.systems.errors import BudgetExhaustedError, ProposerError
from cotclip.systems.model import System

TASK = ProposalTask(("cat", "dog", "parrot"), domain="pets", n_candidates=2, max_groups=3, max_options=4)


def test_two_good_answers_give_two_valid_candidates_with_provenance():
    proposer = LLMProposer(scripted_client([reply("good_answer"), reply("prose_around_json")]))
    systems = proposer.propose(TASK)
    assert [s.name for s in systems] == ["candidate_01", "candidate_02"]
    details = systems[0].provenance.details
    expected_sha = hashlib.sha256(
        resources.files("cotclip.prompts").joinpath("propose.md").read_text(encoding="utf-8").encode()
    ).hexdigest()
    assert details["prompt_sha256"] == expected_sha and details["prompt"] == "propose"
    assert details["emphasis"] != systems[1].provenance.details["emphasis"]
    assert systems[1].provenance.details["temperature"] > details["temperature"]
    assert systems[1].group("dominant_color").options == ["orange", "gray", "green"]  # duplicate merged
    assert proposer.usage.calls == 2 and len(proposer.records) == 2


def test_unusable_answer_is_retried_with_its_problem_fed_back():
    client = scripted_client(["I cannot do that.", reply("no_placeholder"), reply("good_answer")])
    proposer = LLMProposer(client, max_attempts=3)
    systems = proposer.propose(ProposalTask(TASK.classes, n_candidates=1))
    assert len(systems) == 1 and systems[0].provenance.details["attempts"] == 3
    errors = [r["error"] for r in proposer.records]
    assert errors[0].startswith("the answer contains no JSON object") and "no usable group" in errors[1]
    assert errors[2] is None
    second_prompt = client.lm.history[1]["messages"][-1]["content"]
    assert "contains no JSON object" in second_prompt  # the feedback input of attempt 2


def test_only_bad_answers_raise_one_line_proposer_error():
    proposer = LLMProposer(scripted_client(["nope"] * 4), max_attempts=2)
    with pytest.raises(ProposerError, match="gave no valid system") as caught:
        proposer.propose(TASK)
    assert "\n" not in caught.value.message
    assert proposer.usage.calls == 4  # 2 candidates x 2 attempts, then a clean failure


def test_forgotten_classes_are_asked_for_once():
    client = scripted_client([reply("missing_classes"), reply("complete_rules")])
    proposer = LLMProposer(client)
    (system,) = proposer.propose(ProposalTask(TASK.classes, n_candidates=1))
    assert system.rule("parrot", "dominant_color") == 2 and system.rule("dog", "dominant_color") == 1
    assert [r["kind"] for r in proposer.records] == ["llm-propose", "llm-complete-rules"]


def test_call_budget_stops_cleanly_after_the_first_candidate():
    proposer = LLMProposer(scripted_client([reply("good_answer")] * 3), budget=Budget(max_calls=1))
    systems = proposer.propose(TASK)
    assert len(systems) == 1
    assert "call budget spent" in proposer.stopped_because


def test_budget_spent_before_any_candidate_raises():
    proposer = LLMProposer(scripted_client([reply("good_answer")]), budget=Budget(max_calls=0))
    with pytest.raises(BudgetExhaustedError, match="raise the limit"):
        proposer.propose(TASK)


def test_response_cache_replays_the_same_request_without_calling(tmp_path):
    first = LLMProposer(scripted_client([reply("good_answer")], tmp_cache=tmp_path))
    first.propose(ProposalTask(TASK.classes, n_candidates=1))
    second = LLMProposer(scripted_client([], tmp_cache=tmp_path))  # would answer 'No more responses'
    (system,) = second.propose(ProposalTask(TASK.classes, n_candidates=1))
    assert system.rule("parrot", "body") == 1
    assert second.usage.cached_calls == 1 and len(second.client.lm.history) == 0
    other = LLMProposer(scripted_client([reply("good_answer")], tmp_cache=tmp_path))
    other.propose(ProposalTask(TASK.classes, domain="another domain", n_candidates=1))
    assert len(other.client.lm.history) == 1  # a different request is not a cache hit


def _base_system(locks=None):
    data = {
        "name": "v1",
        "classes": ["cat", "dog", "parrot"],
        "groups": [
            {"name": "dominant_color", "prompt": "It is {}.", "options": ["orange", "gray", "green"]},
            {"name": "body", "prompt": "Its body is {}.", "options": ["furry", "feathered"]},
        ],
        "rules": {
            "cat": {"dominant_color": 0, "body": 0},
            "dog": {"dominant_color": 0, "body": 0},
            "parrot": {"dominant_color": 2, "body": 1},
        },
        "locks": locks or {"groups": [], "rules": []},
    }
    return System.from_data(data)


def test_revise_sends_diagnostics_and_history_and_keeps_locks(fake_diagnostics):
    revised_text = (
        '{"answer": {"groups": [{"name": "dominant_color", "prompt": "Mostly {}.", '
        '"options": ["orange", "gray", "green"]}], "rules": {"cat": [{"group": "dominant_color", '
        '"option": "gray"}], "dog": [{"group": "dominant_color", "option": "gray"}], '
        '"parrot": [{"group": "dominant_color", "option": "green"}]}}}'
    )
    client = scripted_client([revised_text])
    system = _base_system({"groups": ["body"], "rules": [["cat", "dominant_color"]]})
    history = [
        ScoredVersion(system, 0.55, "propose"),
        ScoredVersion(
            _base_system().evolve(
                name="v0",
                groups=[{"name": "body", "prompt": "Its body is {}.", "options": ["furry", "feathered"]}],
                rules={"cat": {"body": 0}, "dog": {"body": 0}, "parrot": {"body": 1}},
            ),
            0.3,
            "x",
        ),
    ]
    revised = LLMProposer(client).revise(system, fake_diagnostics, history)
    prompt = client.lm.history[0]["messages"][-1]["content"]
    for expected in ("held-out accuracy: 0.550", "dog -> cat: 7", "body: 0.30", "'gray' -> 'orange'", "v0 (x)"):
        assert expected in prompt
    assert revised.group("body").options == ["furry", "feathered"]  # locked group restored
    assert revised.rule("cat", "dominant_color") == 0  # locked rule restored
    assert revised.rule("dog", "dominant_color") == 1  # the unlocked revision is kept
    assert revised.provenance.parent == "v1" and revised.provenance.method == "llm-revise"


def test_revise_without_a_valid_answer_raises(fake_diagnostics):
    proposer = LLMProposer(scripted_client(["{}", "{}", "{}"]))
    with pytest.raises(ProposerError, match="revision"):
        proposer.revise(_base_system(), fake_diagnostics, [])


def test_spent_budget_keeps_a_candidate_with_forgotten_classes_as_nulls():
    proposer = LLMProposer(scripted_client([reply("missing_classes")]), budget=Budget(max_calls=1))
    (system,) = proposer.propose(ProposalTask(TASK.classes, n_candidates=1))
    assert system.rule("dog", "dominant_color") is None
    assert any("budget is spent" in r for r in system.provenance.details["repairs"])


def test_a_locked_rule_whose_option_the_revision_recased_keeps_that_option(fake_diagnostics):
    # The lock names "orange"; the revision writes "Orange". Appending "orange" made an invalid system
    # (options may not differ only in case), and that error escaped the revision worker as a TypeError.
    revised_text = (
        '{"answer": {"groups": [{"name": "dominant_color", "prompt": "Mostly {}.", '
        '"options": ["Orange", "gray", "green"]}, {"name": "body", "prompt": "Its body is {}.", '
        '"options": ["furry", "feathered"]}], "rules": {"cat": [{"group": "dominant_color", '
        '"option": "gray"}], "dog": [{"group": "dominant_color", "option": "Orange"}], '
        '"parrot": [{"group": "dominant_color", "option": "green"}]}}}'
    )
    system = _base_system({"groups": [], "rules": [["cat", "dominant_color"]]})
    revised = LLMProposer(scripted_client([revised_text])).revise(system, fake_diagnostics, [])
    assert revised.group("dominant_color").options == ["Orange", "gray", "green"]
    assert revised.rule("cat", "dominant_color") == 0  # the locked rule, on the option that reads the same


def test_an_error_after_the_answer_is_the_revisions_error_and_its_answer_is_logged(fake_diagnostics, monkeypatch):
    from cotclip.optimizer.proposers import llm as llm_module
    from cotclip.systems.errors import SystemValidationError

    def broken_locks(original, revised):
        raise SystemValidationError(["the restored locks make no valid system"])

    monkeypatch.setattr(llm_module.feedback_text, "keep_locks", broken_locks)
    proposer = LLMProposer(scripted_client([reply("good_answer")]))
    with pytest.raises(SystemValidationError, match="restored locks"):
        proposer.revise(_base_system(), fake_diagnostics, [])
    assert len(proposer.records) == 1 and proposer.records[0]["error"] is None
