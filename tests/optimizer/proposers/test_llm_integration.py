"""End to end with the real local LLM (SmolLM2 via llama-server): HTTP, JSON schema, parsing, repair.

These assert structure and repair behaviour, not meaning: SmolLM2-135M answers in
valid JSON (the server enforces the schema) with poor content, but with the repair of
every answer, feedback and a second attempt it must still come out with a valid system
(propose, revise and the CLI alike; measured 2026-11-29: 3 of 3 candidates valid at the
first attempt). They FAIL (never skip) when the model or binary is missing: run `make setup`.
"""

import json

import pytest

from cotclip.cli import main
from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.llm import LLMProposer
from cotclip.optimizer.proposers.repair import parse_answer
from cotclip.systems.model import System

pytestmark = [pytest.mark.llm, pytest.mark.slow]

CLASSES = ("cat", "dog", "parrot")


def _check_records(records):
    assert records
    for record in records:
        assert record["raw"].strip() and record["usage"]["prompt_tokens"] > 0
        parsed = parse_answer(record["raw"])  # schema-constrained output is always a JSON object
        truncated = any("truncated" in r for r in parsed.repairs)
        assert truncated or "answer" in parsed.data or "rules" in parsed.data
        assert record["error"] is None or record["error"].strip()


def test_propose_and_revise_with_smollm2(local_server, fake_diagnostics):
    proposer = LLMProposer(LLMClient(local_server.lm_config(max_tokens=320, timeout_s=300, retries=0)), max_attempts=2)
    task = ProposalTask(CLASSES, domain="pet photos", n_candidates=1, max_groups=2, max_options=3)
    systems = proposer.propose(task)  # a ProposerError (no valid system) fails the test
    assert len(systems) == 1
    _check_records(proposer.records)
    assert proposer.records[-1]["system"] == systems[0].name and proposer.records[-1]["error"] is None
    for system in systems:
        assert System.from_data(system.to_dict()).classes == list(CLASSES)
        assert len(system.groups) <= 2 and all(2 <= len(g.options) <= 3 for g in system.groups)
        assert all(g.prompt.count("{}") == 1 for g in system.groups)
        assert system.provenance.details["lm"] == local_server.model
    assert proposer.usage.calls == len(proposer.records) and proposer.usage.usd == 0.0
    start = System.from_data(
        {
            "name": "v1",
            "classes": list(CLASSES),
            "groups": [
                {
                    "name": "dominant_color",
                    "prompt": "The animal is mainly {} in color.",
                    "options": ["orange", "gray", "green"],
                },
                {"name": "body", "prompt": "Its body is {}.", "options": ["furry", "feathered"]},
            ],
            "rules": {
                "cat": {"dominant_color": 0, "body": 0},
                "dog": {"dominant_color": 0, "body": 0},
                "parrot": {"dominant_color": 2, "body": 1},
            },
            "locks": {"groups": ["body"], "rules": []},
        }
    )
    before = len(proposer.records)
    revised = proposer.revise(start, fake_diagnostics, [])  # a ProposerError fails the test
    assert revised.classes == list(CLASSES) and revised.provenance.method == "llm-revise"
    assert revised.provenance.parent == "v1" and revised.provenance.details["lm"] == local_server.model
    assert revised.group("body") == start.group("body")  # the locked group survives any answer
    assert System.from_data(revised.to_dict()).fingerprint() == revised.fingerprint()
    _check_records(proposer.records[before:])


def test_cli_propose_with_local_llm_writes_candidates_and_log(tmp_path, capsys):
    code = main(
        [
            "propose",
            "--lm",
            "local:smollm2",
            "--classes",
            ",".join(CLASSES),
            "--out",
            str(tmp_path / "out"),
            "-n",
            "1",
            "--max-groups",
            "2",
            "--max-options",
            "3",
            "--max-tokens",
            "320",
            "--timeout",
            "300",
            "--max-calls",
            "1",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    log = [json.loads(line) for line in (tmp_path / "out" / "proposer_log.jsonl").read_text().splitlines()]
    _check_records(log)
    assert code == 0, captured.err  # one answer, repaired into a valid candidate
    payload = json.loads(captured.out)
    assert payload["llm"]["calls"] == len(log) == 1
    candidate = System.from_data(json.loads((tmp_path / "out" / "candidate_01.json").read_text()))
    assert candidate.classes == list(CLASSES) and 1 <= len(candidate.groups) <= 2
