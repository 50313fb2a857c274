"""End to end with the real local LLM (SmolLM2 via llama-server): HTTP, JSON schema, parsing, repair.

These assert structure and repair behaviour, not meaning: SmolLM2-135M answers in
valid JSON (the server enforces the schema) with poor content. They FAIL (never skip)
when the model or binary is missing: run `make setup`.
"""

import json

import pytest

from cotclip.cli import main
from cotclip.optimizer.llm.lm import LLMClient
from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.llm import LLMProposer
from cotclip.optimizer.proposers.repair import parse_answer
from cotclip.systems.errors import ProposerError
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
    proposer = LLMProposer(LLMClient(local_server.lm_config(max_tokens=320, timeout_s=300, retries=0)),
                           max_attempts=2)
    task = ProposalTask(CLASSES, domain="pet photos", n_candidates=1, max_groups=2, max_options=3)
    try:
        systems = proposer.propose(task)
    except ProposerError as exc:  # allowed: every answer was recorded and none was accepted
        assert "gave no valid system" in exc.message and all(r["error"] for r in proposer.records)
        systems = []
    _check_records(proposer.records)
    for system in systems:
        assert System.from_data(system.to_dict()).classes == list(CLASSES)
        assert len(system.groups) <= 2 and all(2 <= len(g.options) <= 3 for g in system.groups)
        assert all(g.prompt.count("{}") == 1 for g in system.groups)
        assert system.provenance.details["lm"] == local_server.model
    assert proposer.usage.calls == len(proposer.records) and proposer.usage.usd == 0.0
    start = System.from_data({
        "name": "v1", "classes": list(CLASSES),
        "groups": [{"name": "dominant_color", "prompt": "The animal is mainly {} in color.",
                    "options": ["orange", "gray", "green"]},
                   {"name": "body", "prompt": "Its body is {}.", "options": ["furry", "feathered"]}],
        "rules": {"cat": {"dominant_color": 0, "body": 0}, "dog": {"dominant_color": 0, "body": 0},
                  "parrot": {"dominant_color": 2, "body": 1}},
        "locks": {"groups": ["body"], "rules": []}})
    proposer.max_attempts = 1
    before = len(proposer.records)
    try:
        revised = proposer.revise(start, fake_diagnostics, [])
    except ProposerError as exc:
        assert "revision" in exc.message and proposer.records[-1]["error"]
    else:
        assert revised.classes == list(CLASSES) and revised.provenance.method == "llm-revise"
        assert revised.group("body") == start.group("body")  # the locked group survives any answer
    _check_records(proposer.records[before:])


def test_cli_propose_with_local_llm_writes_candidates_and_log(tmp_path, capsys):
    code = main(["propose", "--lm", "local:smollm2", "--classes", ",".join(CLASSES), "--out", str(tmp_path / "out"),
                 "-n", "1", "--max-groups", "2", "--max-options", "3", "--max-tokens", "320",
                 "--timeout", "300", "--max-calls", "1", "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    log = [json.loads(line) for line in (tmp_path / "out" / "proposer_log.jsonl").read_text().splitlines()]
    _check_records(log)
    if code == 0:
        payload = json.loads(captured.out)
        assert payload["llm"]["calls"] == len(log) == 1
        System.from_data(json.loads((tmp_path / "out" / "candidate_01.json").read_text()))
    else:
        assert code == 2 and captured.err.startswith("error: ") and captured.err.count("\n") == 1
