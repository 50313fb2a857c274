"""``cotclip propose`` without a real LLM: the simulation, inputs, and one-line errors."""

import json

import pytest

from cotclip.cli import main
from cotclip.cli.propose_cmds import read_classes, read_notes
from cotclip.systems.errors import InputError
from cotclip.systems.model import System


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured


def assert_one_line_error(code, captured, *fragments):
    assert code == 2
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    for fragment in fragments:
        assert fragment in captured.err


def test_simulated_writes_k_valid_candidates_and_a_log(tmp_path, capsys):
    out = tmp_path / "out"
    code, captured = run(
        ["propose", "--lm", "simulated", "--data", "synthetic:pokemon-like", "--out", str(out), "-n", "2", "--json"],
        capsys,
    )
    assert code == 0
    payload = json.loads(captured.out)
    assert [c["name"] for c in payload["candidates"]] == ["simulated_01", "simulated_02"]
    for index in (1, 2):
        system = System.from_data(json.loads((out / f"candidate_0{index}.json").read_text()))
        assert system.provenance.method == "simulated-propose"
    assert len((out / "proposer_log.jsonl").read_text().splitlines()) == 2


def test_existing_candidates_are_never_overwritten(tmp_path, capsys):
    (tmp_path / "candidate_01.json").write_text("keep me")
    code, captured = run(
        ["propose", "--lm", "simulated", "--data", "synthetic:pokemon-like", "--out", str(tmp_path)], capsys
    )
    assert_one_line_error(code, captured, "already holds candidates")
    assert (tmp_path / "candidate_01.json").read_text() == "keep me"


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--classes", " , ", "--lm", "openai/gpt-4o-mini"], "lists no class"),
        (["--classes", "only-one", "--lm", "openai/gpt-4o-mini"], "at least two"),
        (["--classes", "a,b,a", "--lm", "openai/gpt-4o-mini"], "listed twice"),
        (["--classes", "missing_file.txt", "--lm", "openai/gpt-4o-mini"], "cannot read"),
        (["--classes", "a,b", "--lm", "gpt4"], "provider/model"),
        (["--classes", "a,b", "--lm", "simulated"], "needs --data synthetic"),
        (["--classes", "a,b", "--lm", "simulated", "--data", "synthetic:pokemon-like"], "not in the synthetic world"),
        (["--classes", "a,b", "--lm", "openai/gpt-4o-mini", "--max-options", "1"], "--max-options >= 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, fragment):
    code, captured = run(["propose", "--out", str(tmp_path / "o"), *args], capsys)
    assert_one_line_error(code, captured, fragment)


def test_class_and_notes_files(tmp_path):
    listing = tmp_path / "classes.txt"
    listing.write_text("# pets\ncat\n  dog  # loyal\n\nparrot\n")
    assert read_classes(str(listing)) == ["cat", "dog", "parrot"]
    as_yaml = tmp_path / "classes.yaml"
    as_yaml.write_text("- cat\n- dog\n")
    assert read_classes(str(as_yaml)) == ["cat", "dog"]
    notes = tmp_path / "notes.yaml"
    notes.write_text("cat: small and furry\ndog: |\n  loyal\n  and big\n")
    assert read_notes(notes) == {"cat": "small and furry", "dog": "loyal and big"}
    notes.write_text("- not a mapping\n")
    with pytest.raises(InputError, match="mapping"):
        read_notes(notes)
    notes.write_text("a: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        read_notes(notes)


@pytest.mark.parametrize("flag, value", [("--temperature", "-1"), ("--llm-timeout", "-3"), ("--llm-retries", "-1")])
def test_propose_refuses_negative_llm_settings_before_any_call(tmp_path, capsys, flag, value):
    from cotclip.cli import main as _main

    code = _main(
        [
            "propose",
            "--lm",
            "openai/x",
            "--api-base",
            "http://127.0.0.1:9/v1",
            "--classes",
            "a,b",
            "--out",
            str(tmp_path / "out"),
            flag,
            value,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and flag in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
