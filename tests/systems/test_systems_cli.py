"""``cotclip validate|export|import`` end to end: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cotclip.systems import load_system

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _pop(path: tuple[Any, ...]) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


# case -> (mutation of the tiny system, text that one of the reported errors must contain)
INVALID_CASES = {
    "template without {}": (
        _set(("groups", 0, "prompt"), "an animal."),
        "group 'body': prompt 'an animal.' must contain exactly one {}",
    ),
    "template with two {}": (
        _set(("groups", 1, "prompt"), "{} and {}"),
        "group 'ears': prompt '{} and {}' must contain exactly one {} placeholder (found 2)",
    ),
    "extra template without {}": (_set(("groups", 0, "extra_prompts"), ["fur!"]), "group 'body': prompt 'fur!'"),
    "empty option": (_set(("groups", 1, "options", 2), "  "), "group 'ears': option 2 is empty"),
    "duplicate option": (_set(("groups", 1, "options", 2), "Pointed"), "group 'ears': option 2 'Pointed' duplicates"),
    "no options": (_set(("groups", 0, "options"), []), "group 'body' has no options"),
    "no groups": (_set(("groups",), []), "the system has no groups"),
    "index out of range": (_set(("rules", "dog", "ears"), 3), "rule 'dog'/'ears' = 3 is out of range; use 0..2"),
    "negative index": (_set(("rules", "cat", "body"), -1), "rule 'cat'/'body' = -1 is out of range"),
    "unknown group in rule": (_set(("rules", "owl", "wings"), 0), "rule 'owl' names unknown group 'wings'"),
    "class with no rule": (_pop(("rules", "dog")), "class 'dog' has no rule"),
    "rule for unknown class": (_set(("rules", "cow"), {"body": 0}), "rules name unknown class 'cow'"),
    "index as string": (_set(("rules", "cat", "ears"), "1"), "rule 'cat'/'ears' = '1' is a str, not an option index"),
    "index as bool": (_set(("rules", "cat", "ears"), True), "rule 'cat'/'ears' = True is a bool"),
    "index as float": (_set(("rules", "cat", "ears"), 1.5), "rule 'cat'/'ears' = 1.5 is a float"),
    "options not a list": (
        _set(("groups", 0, "options"), "fur"),
        "groups[0]('body').options: Input should be a valid list",
    ),
    "option not a string": (
        _set(("groups", 1, "options", 0), 7),
        "groups[1]('ears').options[0]: Input should be a valid string",
    ),
    "classes not a list": (_set(("classes",), "cat"), "classes: Input should be a valid list"),
    "rule not a mapping": (_set(("rules", "cat"), [0, 1]), "rules.cat: Input should be a valid dictionary"),
    "missing groups": (_pop(("groups",)), "groups: Field required; add it"),
    "unknown field": (_set(("colour",), 1), "colour: Extra inputs are not permitted"),
    "negative weight": (
        _set(("groups", 0, "weight"), -1),
        "groups[0]('body').weight: Input should be greater than or equal to 0",
    ),
}


def _write(tmp_path: Path, data: Any, name: str = "system.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_validate_reports_each_error_with_exit_2(
    case: str, tiny_data: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    mutate, expected = INVALID_CASES[case]
    mutate(tiny_data)
    path = _write(tmp_path, tiny_data)

    code, out, err = cli("validate", str(path))
    assert code == 2
    lines = _error_lines(err)
    assert lines and all(line.startswith("error: ") for line in lines)
    assert any(expected in line for line in lines), lines
    assert "Traceback" not in out + err

    code, out, _ = cli("validate", str(path), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["valid"] is False and report["warnings"] == []
    assert any(expected in message for message in report["errors"])


@pytest.mark.parametrize("case", ["template without {}", "index out of range", "class with no rule", "index as bool"])
def test_loading_an_invalid_system_is_one_error_line(
    case: str, tiny_data: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    mutate, expected = INVALID_CASES[case]
    mutate(tiny_data)
    path = _write(tmp_path, tiny_data)
    code, out, err = cli("export", str(path), "--format", "yaml", "--out", str(tmp_path / "out.yaml"))
    assert code == 2
    assert _error_lines(err) == [err.strip()] and err.startswith(f"error: {path}: invalid system: ")
    assert expected in err and "Traceback" not in out + err
    assert not (tmp_path / "out.yaml").exists()


def test_validate_lists_every_error_of_a_broken_system(tiny_data: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    tiny_data["groups"][0]["prompt"] = "no placeholder"
    tiny_data["rules"]["dog"]["ears"] = 9
    tiny_data["rules"]["cow"] = {}
    code, _, err = cli("validate", str(_write(tmp_path, tiny_data)))
    assert code == 2
    assert len(_error_lines(err)) == 3


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ('{"classes": ["a",]', ".json", "not valid JSON: Expecting value at line 1, column 18; fix the syntax"),
        ("classes: [a, b\ngroups: {", ".yaml", "neither valid JSON nor YAML"),
        ('{"classes": [1, 2', ".txt", "not valid JSON"),
        ("", ".json", "the file is empty"),
        ("# only a comment\n", ".yaml", "the file holds no data"),
        ("[1, 2, 3]", ".json", "a system must be a mapping at the top level, got list"),
        ("just some words", ".txt", "a system must be a mapping at the top level, got str"),
        ('{"classes": [], "classes": []}', ".json", "key 'classes' appears twice"),
        ("classes: []\nclasses: []\n", ".yaml", "key 'classes' (line 2) appears twice"),
    ],
)
def test_unparsable_files_are_reported_not_raised(
    text: str, suffix: str, expected: str, cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / f"system{suffix}"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("validate", str(path))
    assert code == 2
    assert _error_lines(err) == [err.strip()] and err.startswith("error: ")
    assert expected in err and "Traceback" not in out + err
    code, out, _ = cli("validate", str(path), "--json")
    assert code == 2 and expected in json.loads(out)["errors"][0]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b"\xff\xfe{\x00"), p)[1], "is not UTF-8 text"),
    ],
)
def test_unreadable_system_files(make: Callable[[Path], Path], expected: str, cli: Any, tmp_path: Path) -> None:
    path = make(tmp_path / "system.json")
    for argv in (["validate", str(path)], ["import", str(path), "--out", str(tmp_path / "o.json")]):
        code, out, err = cli(*argv)
        assert code == 2 and err.startswith("error: ") and len(_error_lines(err)) == 1
        assert expected in err and str(path) in err and "Traceback" not in out + err


def test_warnings_exit_0(tiny_data: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    tiny_data["groups"].append({"name": "size", "prompt": "it is {}.", "options": ["small", "large"]})
    tiny_data["rules"]["dog"]["ears"] = 0  # same signature as cat
    for rule in tiny_data["rules"].values():
        rule["size"] = 0  # splits nothing, leaves 'large' unused
    path = _write(tmp_path, tiny_data)

    code, out, err = cli("validate", str(path))
    assert code == 0
    warnings = _error_lines(err)
    assert all(line.startswith("warning: ") for line in warnings)
    assert any("classes 'cat', 'dog' have identical rules" in w for w in warnings)
    assert any("group 'ears': option 1 'floppy' is used by no class" in w for w in warnings)
    assert any("group 'size' gives every class the same answer" in w for w in warnings)
    assert "valid, " in out

    code, out, _ = cli("validate", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] is True and report["errors"] == [] and len(report["warnings"]) == len(warnings)


def test_validate_clean_system_prints_valid(tiny_data: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    code, out, err = cli("validate", str(_write(tmp_path, tiny_data)))
    assert (code, err) == (0, "") and out.strip().endswith(": valid")


def test_validate_pokemon_warns_about_the_three_identical_classes(cli: Any) -> None:
    code, out, err = cli("validate", "ready:pokemon_seed", "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] is True
    assert report["warnings"] == [
        "classes 'Bulbasaur', 'Venusaur', 'Celebi&Venu' have identical rules and can never be told apart; "
        "give one of them a different option in some group"
    ]


def test_export_seed_json_round_trips_the_shipped_seed_file(cli: Any, tmp_path: Path) -> None:
    seed_file = Path(__file__).parents[2] / "systems" / "ready" / "pokemon_seed.seed.json"
    out = tmp_path / "again.seed.json"
    code, stdout, _ = cli("export", str(seed_file), "--format", "seed-json", "--out", str(out))
    assert code == 0 and f"wrote {out}" in stdout
    assert out.read_text(encoding="utf-8") == seed_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["json", "yaml", "seed-json"])
def test_export_then_import_gives_the_same_system(
    fmt: str, tiny_data: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    source = _write(tmp_path, tiny_data)
    exported, imported = tmp_path / f"exported.{fmt}", tmp_path / "imported.json"
    assert cli("export", str(source), "--format", fmt, "--out", str(exported))[0] == 0
    assert cli("import", str(exported), "--out", str(imported))[0] == 0
    original, back = load_system(source), load_system(imported)
    assert back.fingerprint() == original.fingerprint()
    assert imported.read_text(encoding="utf-8") == back.to_json()
    if fmt != "seed-json":
        assert back == original


def test_import_seed_file_writes_canonical_json(cli: Any, tmp_path: Path) -> None:
    seed = {
        "classification_groups": {"color": {"prompt": "it is {}.", "options": ["red", "blue"]}},
        "fish_rules": {"snapper": {"color": 0}, "tang": {"color": 1}, "eel": {}},
    }
    out = tmp_path / "deep" / "fish.json"
    code, _, err = cli("import", str(_write(tmp_path, seed, "fish.seed.json")), "--out", str(out))
    assert code == 0, err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == "cotclip.system/1" and data["name"] == "fish"
    assert data["rules"]["eel"] == {"color": None}


def test_export_yaml_is_loadable_yaml(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "pokemon.yaml"
    assert cli("export", "ready:pokemon_seed", "--format", "yaml", "--out", str(out))[0] == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["classes"][5] == "Beedrill δ"
    assert load_system(out) == load_system("ready:pokemon_seed")


def test_export_refuses_to_overwrite_its_input(tiny_data: dict[str, Any], cli: Any, tmp_path: Path) -> None:
    path = _write(tmp_path, tiny_data)
    before = path.read_text(encoding="utf-8")
    for argv in (
        ["export", str(path), "--format", "seed-json", "--out", str(path)],
        ["export", str(path), "--format", "yaml", "--out", str(tmp_path / "." / path.name)],
        ["import", str(path), "--out", str(path)],
    ):
        code, _, err = cli(*argv)
        assert code == 2 and err.startswith("error: --out ") and "is the input file itself" in err
    assert path.read_text(encoding="utf-8") == before


def test_export_unknown_format_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli("export", "ready:fruits", "--format", "xml", "--out", str(tmp_path / "x.xml"))
    assert code == 2 and "unknown export format 'xml'" in err and "seed-json" in err


def test_unknown_ready_system_lists_the_names(cli: Any) -> None:
    code, _, err = cli("validate", "ready:nope")
    assert code == 2 and "no ready system 'nope'" in err and "ready:pokemon_seed" in err


def test_seed_yaml_with_wrong_key_types_is_reported(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text('classification_cot:\n  g: {prompt: "{}", options: [a, b]}\n1: x\nk_rules:\n  2: {g: 1}\n', "utf-8")
    code, out, err = cli("validate", str(path))
    assert code == 2
    assert "classes[0]: Input should be a valid string (got int 2)" in err and "Traceback" not in out + err


def test_validate_json_on_a_binary_file_still_prints_one_json_document(tmp_path, capsys):
    import json as _json

    from cotclip.cli import main as _main

    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert _main(["validate", str(binary), "--json"]) == 2
    report = _json.loads(capsys.readouterr().out)
    assert report["valid"] is False and "not UTF-8" in report["errors"][0] and report["warnings"] == []
