"""Reading, detecting, dumping and atomically saving system files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from cotclip.systems import (
    System,
    SystemValidationError,
    dump_system,
    load_ready_system,
    load_system,
    read_system_data,
    save_system,
)
from cotclip.systems.errors import InputError
from cotclip.systems.io import validate_system_source, write_text_atomic


def test_detects_each_format(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    system = System.from_data(tiny_data)
    seed = {
        "classification_cot": {"g": {"prompt": "{}", "options": ["a", "b"]}},
        "x_rules": {"p": {"g": 0}, "q": {"g": 1}},
    }
    files = {
        "c.json": (system.to_json(), "json"),
        "c.yaml": (dump_system(system, "yaml"), "yaml"),
        "s.json": (json.dumps(seed), "seed-json"),
        "s.yml": (yaml.safe_dump(seed, sort_keys=False), "seed-yaml"),
    }
    for name, (text, expected) in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        data, detected = read_system_data(tmp_path / name)
        assert detected == expected and isinstance(data, dict)
    assert load_system(tmp_path / "c.yaml") == load_system(str(tmp_path / "c.json")) == system
    assert load_system(tmp_path / "s.yml") == load_system(tmp_path / "s.json")


def test_load_system_accepts_text_mappings_and_ready_names(tiny_data: dict[str, Any]) -> None:
    system = System.from_data(tiny_data)
    assert load_system(json.dumps(tiny_data)) == system
    assert load_system(dump_system(system, "yaml")) == system
    assert load_system(tiny_data) == system
    assert load_system("ready:fruits") == load_ready_system("fruits")


def test_errors_name_the_source(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    tiny_data["rules"]["cat"]["ears"] = 5
    with pytest.raises(SystemValidationError) as info:
        load_system(json.dumps(tiny_data), source="from-test")
    assert info.value.message.startswith("from-test: invalid system: rule 'cat'/'ears' = 5 is out of range")
    path = tmp_path / "broken.yaml"
    path.write_text("classes: [a\n", encoding="utf-8")
    with pytest.raises(SystemValidationError, match=f"^{path}: invalid system: neither valid JSON nor YAML"):
        load_system(path)
    with pytest.raises(InputError, match="does not exist; pass a JSON/YAML system file or ready:<name>"):
        load_system(tmp_path / "missing.json")


def test_yaml_is_never_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n", encoding="utf-8")
    report = validate_system_source(path)
    assert not report.valid and "neither valid JSON nor YAML" in report.errors[0]


def test_dump_yaml_quotes_tricky_strings() -> None:
    system = System.from_data(
        {
            "classes": ["null", "yes", "1.5"],
            "groups": [{"name": "on", "prompt": "# {}: x", "options": ["true", "- a", "{b}"]}],
            "rules": {"null": {"on": 0}, "yes": {"on": 1}, "1.5": {"on": 2}},
        }
    )
    assert load_system(dump_system(system, "yaml")) == system


def test_dump_unknown_format() -> None:
    with pytest.raises(InputError, match="unknown system format 'toml'; use one of: json, yaml, seed-json"):
        dump_system(load_ready_system("fruits"), "toml")


def test_save_is_atomic_and_replaces(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    system = System.from_data(tiny_data)
    target = tmp_path / "nested" / "system.json"
    assert save_system(system, target) == target
    save_system(system.evolve(name="renamed"), target)
    assert load_system(target).name == "renamed"
    assert sorted(p.name for p in target.parent.iterdir()) == ["system.json"]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "system.json"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputError, match="cannot write .*No space left on device; choose a writable location"):
        write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["system.json"]


def test_save_to_a_directory_is_refused(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory; give a file path"):
        save_system(System.from_data(tiny_data), tmp_path)


def test_a_file_whose_name_looks_like_json_is_read_as_a_file(
    tiny_data: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("[draft].json").write_text(json.dumps(tiny_data), encoding="utf-8")
    assert load_system("[draft].json") == System.from_data(tiny_data)
    assert read_system_data("[draft].json")[1] == "json"
