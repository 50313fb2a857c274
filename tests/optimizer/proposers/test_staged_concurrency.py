"""The staged proposer's per-class and per-group calls go out concurrently, with the same results at any concurrency."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
from staged_answers import describe_answer, expand_answer, note_phrases, questions_answer

from cotclip.optimizer.llm.lm import Completion, LLMClient, LMConfig
from cotclip.optimizer.llm.usage import Budget, CallUsage
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.staged import StagedProposer
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import BudgetExhaustedError

EXTRA = ["teal", "amber", "ivory", "slate", "crimson", "olive"]


class ContentClient(LLMClient):
    """Answers each staged step from the request's content and seed (never its order), after a random delay.

    ``sent`` counts the calls that reached the 'server'; ``peak`` is the most in flight at once.
    """

    def __init__(self, phrases: dict[str, list[tuple[str, str]]], cache_dir=None) -> None:
        from dspy.utils.dummies import DummyLM

        super().__init__(LMConfig("openai/scripted-test-model", cache_dir=cache_dir), lm=DummyLM([]))
        self.phrases = phrases
        self.sent = 0
        self.peak = 0
        self._in_flight = 0
        self._count = threading.Lock()

    def send(self, signature, inputs, key, lm_kwargs):
        with self._count:
            self.sent += 1
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        time.sleep(random.uniform(0.005, 0.05))  # answers arrive in a different order each run
        text = self._answer(signature, inputs, lm_kwargs["seed"])
        with self._count:
            self._in_flight -= 1
        if self.cache is not None:
            self.cache.put(key, {"text": text, "prompt_tokens": 100, "completion_tokens": 20})
        return Completion(text, CallUsage(self.config.model, 100, 20, usd=0.01), key)

    def _answer(self, signature, inputs, seed: int) -> str:
        fields = signature.output_fields
        if "descriptions" in fields:
            return describe_answer(self.phrases, [c for c in self.phrases if f"- {c}: " in inputs["notes"]])
        if "questions" in fields:
            return questions_answer([line[2:].split(" (")[0] for line in inputs["kinds"].splitlines()])
        if "more" in fields:  # the values depend on the seed: a request sent with another seed answers otherwise
            return expand_answer(random.Random(seed).sample(EXTRA, 2))
        return json.dumps({"answer": {"choices": []}})


@pytest.fixture(scope="module")
def world():
    return load_world("pokemon-like")


@pytest.fixture(scope="module")
def notes(world):
    return world.field_notes(omit_rate=0.2, error_rate=0.1, seed=0)


def _task(world, notes):
    return ProposalTask(
        classes=tuple(world.classes),
        domain="fantasy creatures",
        notes=notes,
        max_groups=6,
        max_options=12,
        n_candidates=2,
    )


def _run(world, notes, train, concurrency, budget=None, cache_dir=None):
    client = ContentClient(note_phrases(world, notes), cache_dir)
    proposer = StagedProposer(client, train=train, budget=budget, concurrency=concurrency, seed=3)
    return proposer, client


def _recorded(proposer):
    """The records without what timing changes (latency)."""
    return [{k: v for k, v in r.items() if k != "usage"} for r in proposer.records]


def test_concurrency_1_and_4_give_the_same_requests_records_and_systems(world, notes, pokemon):
    _, train, _, _ = pokemon
    serial, serial_client = _run(world, notes, train, 1)
    expected = serial.propose(_task(world, notes))
    assert serial_client.peak == 1
    for _ in range(2):  # answers arrive in another random order each time
        parallel, parallel_client = _run(world, notes, train, 4)
        systems = parallel.propose(_task(world, notes))
        assert parallel_client.peak > 1  # the describe batches (and the expand calls) overlapped
        assert [s.fingerprint() for s in systems] == [s.fingerprint() for s in expected]
        assert _recorded(parallel) == _recorded(serial)  # same seeds (request keys), same order
        assert parallel.state() == serial.state()
        assert parallel.usage.calls == serial.usage.calls == serial_client.sent


def test_a_cached_rerun_at_another_concurrency_gives_the_same_systems_without_calls(world, notes, pokemon, tmp_path):
    _, train, _, _ = pokemon
    first, _ = _run(world, notes, train, 4, cache_dir=tmp_path)
    expected = first.propose(_task(world, notes))
    again, client = _run(world, notes, train, 1, cache_dir=tmp_path)
    assert [s.fingerprint() for s in again.propose(_task(world, notes))] == [s.fingerprint() for s in expected]
    assert client.sent == 0 and again.usage.cached_calls == again.usage.calls > 0


@pytest.mark.parametrize("budget", [Budget(max_calls=2), Budget(max_tokens=240), Budget(max_usd=0.02)])
def test_the_budget_holds_when_the_batches_go_out_together(world, notes, pokemon, budget):
    _, train, _, _ = pokemon
    proposer, client = _run(world, notes, train, 4, budget=budget)
    with pytest.raises(BudgetExhaustedError):
        proposer.propose(_task(world, notes))
    assert client.sent == 2 and proposer.usage.calls == 2  # 2 calls, 2 x 120 tokens or 2 x $0.01 spend it
    assert proposer.stopped_because
    assert len([r for r in proposer.records if r.get("raw") is not None]) == 2
