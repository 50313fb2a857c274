"""A small synthetic run dir to review: the planted world's oracle with one rule broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, utc_now
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.model import System


def broken_oracle() -> System:
    """The pokemon-like oracle with the first class's first rule pointing at a wrong option."""
    oracle = load_world("pokemon-like").oracle_system()
    first, group = oracle.classes[0], oracle.groups[0]
    rules = {c: dict(r) for c, r in oracle.to_dict()["rules"].items()}
    rules[first][group.name] = (oracle.rule(first, group.name) + 1) % len(group.options)
    return oracle.evolve(rules=rules, name="reviewed")


@pytest.fixture
def broken_system() -> System:
    """:func:`broken_oracle` as a fixture."""
    return broken_oracle()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """``<tmp>/runs/demo`` with run.yaml (synthetic data and encoder) and version 0001."""
    config = RunConfig(
        name="demo",
        runs_dir=str(tmp_path / "runs"),
        data="synthetic:pokemon-like",
        model="synthetic",
        cache_dir=str(tmp_path / "cache"),
    )
    run = RunDir.create(config.run_dir)
    run.write_text("run.yaml", config.to_yaml())
    now = utc_now()
    run.save_version(VersionRecord(1, broken_oracle(), 0.5, 32, "proposal", None, 0, now, now))
    run.release_lock()
    return config.run_dir
