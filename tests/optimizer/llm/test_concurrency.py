"""Concurrent LLM calls: request order kept, budgets never overrun, equal requests sent once."""

import threading
import time
from types import SimpleNamespace

import pytest
from fake_llm_server import FakeServer

from cotclip.optimizer.llm.concurrency import BudgetLedger, LLMExecutor, LLMRequest
from cotclip.optimizer.llm.lm import LOCAL_MODEL, LLMClient, LMConfig
from cotclip.optimizer.llm.usage import Budget, CallUsage
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.llm import LLMProposer
from cotclip.optimizer.proposers.signatures import answer_model, load_instructions, propose_signature
from cotclip.systems.errors import BudgetExhaustedError, InputError, LLMServerError

CLASSES = ["a", "b", "c"]
INPUTS = {"classes": CLASSES, "domain": "d", "notes": "", "limits": "l", "emphasis": "e", "feedback": ""}


@pytest.fixture
def slow_server():
    server = FakeServer(latency_s=0.4, classes=CLASSES)
    yield server
    server.close()


def client(api_base, cache_dir=None):
    return LLMClient(
        LMConfig(LOCAL_MODEL, api_base=api_base, api_key="local", timeout_s=120.0, retries=0, cache_dir=cache_dir)
    )


def requests(n):
    signature = propose_signature(answer_model(CLASSES, 3, 4), load_instructions("propose"))
    return [LLMRequest(signature, INPUTS, temperature=0.5, seed=seed) for seed in range(n)]


def test_results_come_back_in_request_order_and_overlap(slow_server):
    executor = LLMExecutor(client(slow_server.api_base), concurrency=4)
    answers = executor.complete_all(requests(4))
    assert [f"look {seed}" in answer.text for seed, answer in enumerate(answers)] == [True] * 4
    assert slow_server.peak == 4  # all four were in flight together (speed: benchmarks/bench_llm_concurrency.py)
    assert executor.usage.calls == 4 and executor.usage.tokens == 4 * 150


def test_call_budget_is_reserved_before_sending(slow_server):
    executor = LLMExecutor(client(slow_server.api_base), budget=Budget(max_calls=3), concurrency=4)
    answers = executor.complete_all(requests(6))
    assert len(slow_server.requests) == 3 and executor.usage.calls == 3
    assert sum(isinstance(a, BudgetExhaustedError) for a in answers) == 3
    assert all("call budget spent (3/3 calls)" in a.message for a in answers if isinstance(a, BudgetExhaustedError))


def test_token_budget_sends_the_first_call_alone_then_charges_the_worst_seen(slow_server):
    # 150 tokens per answer, 400 allowed: one by one, calls 1-3 are sent (0, 150, 300 < 400), call 4 is not.
    # Concurrently: call 1 alone (its cost is unknown), then 2 and 3 together (150 + 150 < 400), never 4.
    executor = LLMExecutor(client(slow_server.api_base), budget=Budget(max_tokens=400), concurrency=4)
    answers = executor.complete_all(requests(5))
    assert len(slow_server.requests) == 3 and executor.usage.tokens == 450
    assert [isinstance(a, BudgetExhaustedError) for a in answers].count(True) == 2
    assert slow_server.peak == 2


def test_equal_requests_in_flight_are_sent_once_with_a_cache(slow_server, tmp_path):
    executor = LLMExecutor(client(slow_server.api_base, cache_dir=tmp_path), concurrency=4)
    same = requests(1) * 3
    answers = executor.complete_all(same)
    assert len(slow_server.requests) == 1 and len({a.text for a in answers}) == 1
    assert executor.usage.calls == 3 and executor.usage.cached_calls == 2
    again = executor.complete_all(same)  # answered from the cache: free, no budget needed
    assert len(slow_server.requests) == 1 and all(a.usage.cached for a in again)


def test_a_failing_call_takes_only_its_slot(slow_server):
    slow_server.switch_after = 2
    executor = LLMExecutor(client(slow_server.api_base), concurrency=2)
    answers = executor.complete_all(requests(4))
    assert sum(isinstance(a, LLMServerError) for a in answers) == 2
    assert executor.usage.calls == 2
    with pytest.raises(InputError, match="--llm-concurrency"):
        LLMExecutor(client(slow_server.api_base), concurrency=0)


def test_ledger_waits_for_calls_in_flight_and_refuses_when_spent():
    ledger = BudgetLedger(Budget(max_calls=2))
    ledger.reserve()
    ledger.reserve()
    outcome = []
    blocked = threading.Thread(target=lambda: outcome.append(ledger.reserve()))
    blocked.start()
    time.sleep(0.1)
    assert blocked.is_alive()  # waiting: a call in flight might fail unpaid and free its room
    ledger.settle(None)  # it failed, nothing paid: the waiting call gets its room
    blocked.join(timeout=2)
    assert outcome == [None]
    ledger.settle(CallUsage("m", 10, 5))
    ledger.settle(CallUsage("m", 10, 5))
    with pytest.raises(BudgetExhaustedError, match="2/2 calls"):
        ledger.reserve()
    assert ledger.usage.calls == 2 and ledger.usage.tokens == 30


@pytest.mark.parametrize("concurrency", [1, 4])
def test_proposals_are_identical_at_any_concurrency(slow_server, concurrency, tmp_path):
    task = ProposalTask(tuple(CLASSES), n_candidates=4)
    proposer = LLMProposer(client(slow_server.api_base), concurrency=concurrency)
    systems = proposer.propose(task)
    assert [s.groups[0].options[0] for s in systems] == [f"a look {i}" for i in range(4)]
    assert [r["candidate"] for r in proposer.records] == [1, 2, 3, 4]
    assert slow_server.peak == concurrency


def test_a_run_seed_asks_other_samples_and_seed_0_asks_what_it_always_asked(slow_server):
    task = ProposalTask(tuple(CLASSES), n_candidates=2)
    seeded = LLMProposer(client(slow_server.api_base), seed=2).propose(task)
    assert [s.groups[0].options[0] for s in seeded] == [f"a look {2 * 1_000_003 + i}" for i in range(2)]
    plain = LLMProposer(client(slow_server.api_base)).propose(task)
    assert [s.groups[0].options[0] for s in plain] == ["a look 0", "a look 1"]


def test_revisions_go_out_together_and_differ(slow_server):
    fake_diagnostics = SimpleNamespace(
        accuracy=0.5,
        per_class={"a": 0.9, "b": 0.2, "c": 0.4},
        confusions=[("b", "a", 7)],
        group_reliability={"look": 0.8},
        rule_agreement={},
        disagreeing_rules=[],
        identical_signatures=[],
        unused_options={"look": []},
        to_dict=lambda: {},
    )
    proposer = LLMProposer(client(slow_server.api_base), concurrency=3)
    parent = proposer.propose(ProposalTask(tuple(CLASSES), n_candidates=1))[0]
    revised = proposer.revise_many(parent, fake_diagnostics, [], 3)
    assert slow_server.peak == 3
    assert [r.groups[0].options[0] for r in revised] == ["a look 0", "a look 7919", "a look 15838"]
    single = proposer.revise(parent, fake_diagnostics, [])
    assert single.fingerprint() == revised[0].fingerprint()


def test_budget_holds_across_concurrent_conversations(slow_server):
    proposer = LLMProposer(client(slow_server.api_base), budget=Budget(max_calls=2), concurrency=4)
    systems = proposer.propose(ProposalTask(tuple(CLASSES), n_candidates=4))
    assert len(systems) == 2 and len(slow_server.requests) == 2
    assert "call budget spent" in proposer.stopped_because
