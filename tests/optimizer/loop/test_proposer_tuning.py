"""--optimize-proposer and --prompts-dir through the run API, with recorded LLM replies (no real LLM)."""

from __future__ import annotations

import hashlib
import json

import pytest

from cotclip.cli import main
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.session import optimize
from cotclip.optimizer.proposers.signatures import load_instructions
from cotclip.scoring.simulation.world import load_world

MARKER = "Name at least one group per visible attribute."


def _answer(system, groups) -> str:
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


@pytest.fixture()
def recorded_lm(monkeypatch):
    """Every LM built gets recorded replies: the full oracle when the instructions carry MARKER, one group
    otherwise; a reflection (plain prompt) returns the packaged instructions plus MARKER."""
    from dspy.clients.engines.dummy_engine import AsyncDummyEngine, DummyEngine
    from dspy.utils import DummyLM

    from cotclip.optimizer.llm import lm as lm_module

    oracle = load_world("pokemon-like").oracle_system()
    rewritten = load_instructions("propose").text + "\n" + MARKER
    replies = {
        "good": DummyLM([{"answer": _answer(oracle, oracle.group_names)}] * 100),
        "poor": DummyLM([{"answer": _answer(oracle, oracle.group_names[:1])}] * 100),
        "reflect": DummyLM([{"instructions": f"```\n{rewritten}\n```"}] * 100),
    }
    asked = {"reflect": 0, "propose": 0, "fail_reflection": False}

    class RecordedEngine(DummyEngine):
        """DummyLM's engine, answering by request: reflection (no system message), good or poor proposal."""

        def _complete_messages(self, messages):
            system_text = " ".join(m["content"] for m in messages if m["role"] == "system")
            kind = "reflect" if not system_text else "good" if MARKER in system_text else "poor"
            if kind == "reflect" and asked["fail_reflection"]:
                from dspy.utils.exceptions import LMTimeoutError

                raise LMTimeoutError("recorded timeout")
            asked["reflect" if kind == "reflect" else "propose"] += 1
            return replies[kind]._engine_spec._complete_messages(messages)

    def recorded(_config):
        lm = DummyLM([])
        lm._engine_spec = RecordedEngine(lm)
        lm._async_engine_spec = AsyncDummyEngine(lm._engine_spec)
        return lm

    monkeypatch.setattr(lm_module, "build_lm", recorded)
    return asked


def run_config(tmp_path, name: str, **changes) -> RunConfig:
    settings = dict(
        data="synthetic:pokemon-like",
        model="synthetic",
        lm="openai/recorded",
        runs_dir=str(tmp_path),
        name=name,
        cache_dir=str(tmp_path / "cache"),
        moves=["fit_rules"],
        n_proposals=2,
        max_evaluations=6,
        patience=1,
    )
    return RunConfig(**{**settings, **changes})


def proposals(run) -> list[dict]:
    records = [json.loads(p.read_text()) for p in sorted((run / "versions").glob("*.json"))]
    return [r for r in records if r["move"] == "propose"]


def test_optimized_instructions_are_saved_used_by_the_run_and_reusable(tmp_path, recorded_lm):
    summary = optimize(run_config(tmp_path, "tuned", optimize_proposer=True, proposer_opt_calls=8))
    run = tmp_path / "tuned"
    tuning = json.loads((run / "proposer_opt.json").read_text())
    assert tuning["best_score"] > tuning["seed_score"] and MARKER in tuning["instructions"]["propose"]
    assert sorted(p.name for p in (run / "prompts").iterdir()) == ["complete_rules.md", "propose.md", "revise.md"]
    assert tuning["llm"]["paid_proposer_calls"] + tuning["llm"]["reflection_calls"] <= 8 + 1
    tuned_sha = hashlib.sha256((run / "prompts" / "propose.md").read_bytes()).hexdigest()
    made = proposals(run)
    assert made and all(r["system"]["provenance"]["details"]["prompt_sha256"] == tuned_sha for r in made)
    assert all(len(r["system"]["groups"]) == len(load_world("pokemon-like").oracle_system().groups) for r in made)
    assert summary.extra["proposer_optimization"]["best_score"] == tuning["best_score"]
    assert any(p["accepted"] and MARKER in p["instructions"]["propose"] for p in tuning["proposals"])
    assert "Proposer instructions (GEPA)" in (run / "report.md").read_text()
    assert "kept" in (run / "report.md").read_text()
    assert recorded_lm["reflect"] >= 1

    # the saved folder is the next run's --prompts-dir: no optimization, same instructions
    before = dict(recorded_lm)
    optimize(run_config(tmp_path, "reuse", prompts_dir=str(run / "prompts")))
    reused = proposals(tmp_path / "reuse")
    assert reused and all(r["system"]["provenance"]["details"]["prompt_sha256"] == tuned_sha for r in reused)
    assert recorded_lm["reflect"] == before["reflect"] and not (tmp_path / "reuse" / "prompts").exists()


def test_without_the_flag_the_packaged_instructions_are_used(tmp_path, recorded_lm):
    optimize(run_config(tmp_path, "plain"))
    packaged = load_instructions("propose")
    made = proposals(tmp_path / "plain")
    assert made and all(r["system"]["provenance"]["details"]["prompt_sha256"] == packaged.sha256 for r in made)
    assert recorded_lm["reflect"] == 0 and not (tmp_path / "plain" / "proposer_opt.json").exists()


def test_a_failing_reflection_llm_keeps_the_given_instructions_and_the_run_goes_on(tmp_path, recorded_lm):
    recorded_lm["fail_reflection"] = True
    optimize(run_config(tmp_path, "flaky", optimize_proposer=True, proposer_opt_calls=8))
    run = tmp_path / "flaky"
    tuning = json.loads((run / "proposer_opt.json").read_text())
    assert tuning["candidates"] == 1 and tuning["best_score"] == tuning["seed_score"]
    assert tuning["proposals"] == []  # no reflection answered, so nothing was proposed
    assert load_instructions("propose", run / "prompts").text == load_instructions("propose").text
    assert proposals(run)


def test_a_resumed_run_does_not_repeat_the_proposer_optimization(tmp_path, recorded_lm):
    first = optimize(run_config(tmp_path, "tuned", optimize_proposer=True, proposer_opt_calls=8, max_evaluations=1))
    assert first.versions == 1  # stopped by the budget after the first proposal: a run to resume
    run = tmp_path / "tuned"
    saved = {name: (run / name).read_bytes() for name in ("proposer_opt.json", "prompts/propose.md")}
    tuned_sha = hashlib.sha256(saved["prompts/propose.md"]).hexdigest()
    before, first_versions = dict(recorded_lm), len(list((run / "versions").glob("*.json")))
    summary = optimize(resume=run, overrides={"max_evaluations": 6})
    assert summary.sessions == 2 and summary.versions > first_versions  # the resumed session did work
    assert recorded_lm["reflect"] == before["reflect"]  # GEPA did not reflect again
    assert {name: (run / name).read_bytes() for name in saved} == saved
    assert all(r["system"]["provenance"]["details"]["prompt_sha256"] == tuned_sha for r in proposals(run))


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--lm", "simulated", "--optimize-proposer"], "--optimize-proposer tunes an LLM proposer"),
        (["--lm", "none", "--moves", "fit_rules", "--optimize-proposer"], "--optimize-proposer tunes an LLM proposer"),
        (["--lm", "simulated", "--prompts-dir", "."], "--prompts-dir is read by an LLM proposer"),
        (["--lm", "openai/recorded", "--prompts-dir", "no-such-folder"], "lacks propose.md"),
    ],
)
def test_settings_that_cannot_apply_are_one_line_errors_before_any_run_dir(tmp_path, capsys, extra, fragment):
    args = [
        "optimize",
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--runs-dir",
        str(tmp_path / "runs"),
        *extra,
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and fragment in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


def test_propose_reads_a_prompts_dir(tmp_path, capsys, recorded_lm):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in ("propose", "revise", "complete_rules"):
        text = load_instructions(name).text + ("\n" + MARKER if name == "propose" else "")
        (folder / f"{name}.md").write_text(text + "\n")
    classes = ",".join(load_world("pokemon-like").classes)
    args = [
        "propose",
        "--lm",
        "openai/recorded",
        "--classes",
        classes,
        "--out",
        str(tmp_path / "out"),
        "-n",
        "1",
        "--max-options",
        "24",
        "--max-groups",
        "8",
        "--json",
    ]
    assert main(args + ["--prompts-dir", str(folder)]) == 0
    candidate = json.loads((tmp_path / "out" / "candidate_01.json").read_text())
    assert candidate["provenance"]["details"]["prompt_sha256"] == load_instructions("propose", folder).sha256
    assert len(candidate["groups"]) > 1  # the recorded LLM saw MARKER in the instructions
    capsys.readouterr()
    assert main(args[:-1] + ["--prompts-dir", str(tmp_path / "empty")]) == 2
    assert "lacks propose.md" in capsys.readouterr().err


def _first_request(run) -> str:
    """Request key (hash of model, messages incl. instructions, seed) of the run's first propose call."""
    for line in (run / "proposer_log.jsonl").read_text().splitlines():
        answer = json.loads(line).get("answer")
        if answer and answer["kind"] == "llm-propose":
            return answer["request"]
    raise AssertionError(f"no llm-propose call in {run / 'proposer_log.jsonl'}")


@pytest.mark.llm
@pytest.mark.slow
def test_optimize_proposer_with_the_real_local_llm_and_prompts_dir_reuse(tmp_path, capsys, scramble):
    """Structure, not quality: SmolLM2's rewrites rarely win, but whatever GEPA decides is saved and recorded,
    the budget holds, and the saved folder drives the next run's proposer (about 2-3 minutes on 2 cores)."""
    import yaml

    classes = load_world("pokemon-like").classes[:4]  # a small task keeps each SmolLM2 answer to ~20 s
    system = scramble()
    init = tmp_path / "init.json"  # the runs go on even when SmolLM2 gives no valid system
    init.write_text(system.evolve(classes=classes, rules={c: system.rules[c] for c in classes}).to_json())
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "runs_dir": str(tmp_path / "runs"),
                "data": "synthetic:pokemon-like",
                "model": "synthetic",
                "lm": "local:smollm2",
                "proposer": "oneshot",
                "classes": classes,
                "init": str(init),
                "n_proposals": 1,
                "max_groups": 2,
                "max_options": 4,
                "llm_max_tokens": 400,
                "llm_timeout_s": 300.0,
                "moves": ["fit_rules"],
                "patience": 1,
                "max_llm_calls": 2,
                "cache_dir": str(tmp_path / "cache"),
            }
        )
    )
    assert (
        main(
            [
                "optimize",
                "--config",
                str(config),
                "--name",
                "tuned",
                "--optimize-proposer",
                "--proposer-opt-calls",
                "6",
                "--json",
            ]
        )
        == 0
    )
    json.loads(capsys.readouterr().out)
    run = tmp_path / "runs" / "tuned"
    tuning = json.loads((run / "proposer_opt.json").read_text())
    prompts = run / "prompts"
    assert sorted(p.name for p in prompts.iterdir()) == ["complete_rules.md", "propose.md", "revise.md"]
    saved = load_instructions("propose", prompts).text
    assert saved and saved == tuning["instructions"]["propose"].strip()
    assert tuning["llm"]["paid_proposer_calls"] + tuning["reflection_calls"] <= 6 + 1
    assert 0.0 <= tuning["seed_score"] <= tuning["best_score"] <= 1.0
    if tuning["seed_score"] < 1.0:  # GEPA reflects unless the given instructions already score 1.0
        assert tuning["reflection_calls"] >= 1 and tuning["proposals"], "the reflection LLM proposed nothing"
    kept = [p for p in tuning["proposals"] if p["accepted"]]
    if kept:  # a rewrite won: it is the saved file
        assert tuning["best_score"] > tuning["seed_score"] and saved != load_instructions("propose").text
    else:  # every rewrite lost (SmolLM2's usual case): the given instructions stay, the rewrites are on record
        assert saved == load_instructions("propose").text and tuning["best_score"] == tuning["seed_score"]
        assert all(p["scores"] and max(p["scores"]) <= tuning["seed_score"] for p in tuning["proposals"])
    assert "Proposer instructions (GEPA)" in (run / "report.md").read_text()

    # the next run reads the saved folder: its proposer sends the very request the tuned run's proposer sent
    assert main(["optimize", "--config", str(config), "--name", "reuse", "--prompts-dir", str(prompts), "--json"]) == 0
    json.loads(capsys.readouterr().out)
    reuse = tmp_path / "runs" / "reuse"
    assert yaml.safe_load((reuse / "run.yaml").read_text())["prompts_dir"] == str(prompts)
    assert not (reuse / "proposer_opt.json").exists() and not (reuse / "prompts").exists()
    assert _first_request(reuse) == _first_request(run)
    tuned_sha = hashlib.sha256((prompts / "propose.md").read_bytes()).hexdigest()
    assert all(r["system"]["provenance"]["details"]["prompt_sha256"] == tuned_sha for r in proposals(reuse))
