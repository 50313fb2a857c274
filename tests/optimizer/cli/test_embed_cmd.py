"""``cotclip embed`` on the tiny built CLIP: fills the cache evaluate reads, resumes, and fails in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotclip.cli import main
from cotclip.optimizer.llm.server import free_port
from cotclip.systems.model import System

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from helpers.tiny_clip import build_image_folder, build_tiny_clip  # noqa: E402

SYSTEM = System.from_data(
    {
        "name": "pets",
        "classes": ["cat", "dog"],
        "groups": [{"name": "fur", "prompt": "a photo of a pet with {} fur", "options": ["short", "long"]}],
        "rules": {"cat": {"fur": 0}, "dog": {"fur": 1}},
    }
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    model = build_tiny_clip(root / "clip")
    images = build_image_folder(root / "images", per_class=12)
    system = root / "system.json"
    system.write_text(SYSTEM.to_json())
    return {"data": str(images), "model": f"hf:{model}", "system": str(system), "root": root}


def run_json(args: list[str], capsys) -> dict:
    code = main(args + ["--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def rows(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.row"))


def test_embed_fills_the_cache_evaluate_reads_and_a_rerun_encodes_nothing(world, tmp_path, capsys):
    cache = str(tmp_path / "cache")
    common = ["--data", world["data"], "--model", world["model"], "--cache-dir", cache]
    first = run_json(["embed", *common, "--system", world["system"], "--batch-size", "5"], capsys)
    assert (first["images"], first["encoded"], first["already_cached"]) == (24, 24, 0)
    assert first["texts"] == 2 + 2 and first["texts_encoded"] == 4  # 2 prompts + "a photo of cat/dog"
    again = run_json(["embed", *common], capsys)
    assert (again["encoded"], again["already_cached"]) == (0, 24)
    evaluated = run_json(["evaluate", "--system", world["system"], *common, "--split", "all"], capsys)
    assert evaluated["cache"]["misses"] == 0 and evaluated["cache"]["hits"] > 0


def test_a_killed_embed_keeps_its_rows_and_the_rerun_encodes_only_the_rest(world, tmp_path, capsys):
    images = build_image_folder(tmp_path / "many", classes=("cat", "dog"), per_class=300)
    cache = tmp_path / "cache"
    command = [
        sys.executable,
        "-m",
        "cotclip",
        "embed",
        "--data",
        str(images),
        "--model",
        world["model"],
        "--cache-dir",
        str(cache),
        "--batch-size",
        "2",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    deadline = time.monotonic() + 600  # generous: on a loaded machine the child's imports alone took minutes
    while len(rows(cache)) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # kill -9 mid-way
    process.wait()
    kept = len(rows(cache))
    assert 20 <= kept < 600, f"killed after {kept} of 600 rows"
    rerun = run_json(["embed", "--data", str(images), "--model", world["model"], "--cache-dir", str(cache)], capsys)
    assert rerun["already_cached"] == kept and rerun["encoded"] == 600 - kept
    assert len(rows(cache)) == 600


def test_ray_missing_is_one_line_with_the_install_hint(world, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where Ray is not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    code = main(
        [
            "embed",
            "--data",
            world["data"],
            "--model",
            world["model"],
            "--cache-dir",
            str(tmp_path / "c"),
            "--engine",
            "ray",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install 'cotclip[ray]'" in err
    assert not (tmp_path / "c").exists() or not rows(tmp_path / "c")


def test_a_cluster_address_that_does_not_answer_is_one_line(world, tmp_path, capsys):
    pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")
    started = time.monotonic()
    code = main(
        [
            "embed",
            "--data",
            world["data"],
            "--model",
            world["model"],
            "--cache-dir",
            str(tmp_path / "c"),
            "--engine",
            "ray",
            "--address",
            f"127.0.0.1:{free_port()}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not answer" in err and "ray start --head" in err
    assert time.monotonic() - started < 60  # no hang (the connect is bounded to 5 s)
    assert main(["embed", "--data", world["data"], "--model", world["model"], "--address", "x:1"]) == 2
    assert "add --engine ray" in capsys.readouterr().err


@pytest.mark.slow
def test_ray_engine_finishes_a_partly_filled_cache(world, tmp_path, capsys):
    pytest.importorskip("ray", reason="needs the ray extra: pip install -e '.[ray]'")
    cache = tmp_path / "cache"
    common = ["--data", world["data"], "--model", world["model"], "--cache-dir", str(cache)]
    run_json(["embed", *common], capsys)
    for row in rows(cache)[::2]:  # as if an earlier run had died half-way
        row.unlink()
    report = run_json(
        ["embed", *common, "--engine", "ray", "--workers", "2", "--batch-size", "3", "--system", world["system"]],
        capsys,
    )
    assert (report["engine"], report["workers"], report["encoded"], report["already_cached"]) == ("ray", 2, 12, 12)
    used = report["workers_used"]  # one block per batch: 12 images in 4 encoder calls, each actor's CPU measured
    assert 1 <= len(used) <= 2 and sum(u["images"] for u in used) == 12 and sum(u["batches"] for u in used) == 4
    assert all(u["busy_s"] > 0 and u["cpu_s"] > 0 for u in used)
    evaluated = run_json(["evaluate", "--system", world["system"], *common, "--split", "all"], capsys)
    assert evaluated["cache"]["misses"] == 0
