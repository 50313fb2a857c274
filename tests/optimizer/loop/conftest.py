"""Shared fixtures: a synthetic world's oracle with scrambled rules as a starting system."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.simulation.world import load_world
from cotclip.systems.model import System


def scrambled_oracle(world: str = "pokemon-like", seed: int = 0, locks: dict | None = None) -> System:
    """The world's oracle system with every rule replaced by a random option."""
    oracle = load_world(world).oracle_system()
    rng = np.random.default_rng(seed)
    rules = {c: {g.name: int(rng.integers(len(g.options))) for g in oracle.groups} for c in oracle.classes}
    changes = {"rules": rules}
    if locks is not None:
        changes["locks"] = locks
    return oracle.evolve(**changes)


@pytest.fixture()
def scramble():
    """:func:`scrambled_oracle` for tests that build systems themselves."""
    return scrambled_oracle


@pytest.fixture()
def scrambled_init(tmp_path):
    """Path of a scrambled pokemon-like oracle whose first class's color rule is locked."""
    oracle = load_world("pokemon-like").oracle_system()
    system = scrambled_oracle(locks={"groups": [], "rules": [[oracle.classes[0], "color"]]})
    path = tmp_path / "init.json"
    path.write_text(system.to_json())
    return path


@pytest.fixture()
def base_args(tmp_path, scrambled_init):
    """CLI arguments of a fast offline run (no proposer, deterministic moves only)."""
    return [
        "optimize",
        "--data",
        "synthetic:pokemon-like",
        "--model",
        "synthetic",
        "--init",
        str(scrambled_init),
        "--lm",
        "none",
        "--moves",
        "fit_rules,refine_rules",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
