"""``synthetic:random:<seed>``: a seeded distribution of benchmark worlds, reproducible from the seed."""

from __future__ import annotations

import pytest

from cotclip.cli import main
from cotclip.scoring.simulation.config import PRESETS, read_world_config
from cotclip.scoring.simulation.random_world import RANGES, random_world_config
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import DataError


def test_every_drawn_world_lies_in_the_documented_ranges():
    for seed in range(40):
        _, config = read_world_config(f"random:{seed}")
        assert RANGES["classes"][0] <= config.class_count <= RANGES["classes"][1]
        assert RANGES["groups"][0] <= len(config.groups) <= RANGES["groups"][1]
        assert RANGES["images_per_class"][0] <= config.images_per_class <= RANGES["images_per_class"][1]
        assert all(RANGES["visibility"][0] <= g.visibility <= RANGES["visibility"][1] for g in config.groups)
        assert RANGES["noise"][0] <= config.noise <= RANGES["noise"][1]
        assert RANGES["confusable_fraction"][0] <= config.confusable_fraction <= RANGES["confusable_fraction"][1]
        assert config.model_dump(mode="json") not in [read_world_config(p)[1].model_dump(mode="json") for p in PRESETS]


def test_a_seed_rebuilds_the_same_world_and_seeds_differ():
    first, again, other = load_world("random:7"), load_world("random:7"), load_world("random:8")
    assert first.hash == again.hash and first.classes == again.classes and first.name == "random:7"
    assert (first.image_embeddings == again.image_embeddings).all()
    assert other.hash != first.hash


def test_pinned_settings_change_only_themselves():
    drawn = random_world_config("random:7")
    pinned = random_world_config("random:7,classes=30,groups=6,images_per_class=10")
    assert pinned["classes"] == 30 and len(pinned["groups"]) == 6 and pinned["images_per_class"] == 10
    assert pinned["noise"] == drawn["noise"] and pinned["nuisance"] == drawn["nuisance"]
    world = load_world("random:7,classes=30,groups=6,images_per_class=10")
    assert len(world.classes) == 30 and len(world.groups) == 6 and world.n_images == 300


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("random:", "has no seed"),
        ("random:abc", "seed='abc' is not an integer; use an integer in 0..4294967295"),
        ("random:-1", "seed=-1 is outside 0..4294967295"),
        ("random:3,classes=70", "classes=70 is outside 10..60"),
        ("random:3,groups=3", "groups=3 is outside 4..8"),
        ("random:3,images_per_class=5", "images_per_class=5 is outside 8..30"),
        ("random:3,noise=2", "cannot read 'noise=2'; pin only classes, groups, images_per_class"),
        ("random:3,classes", "cannot read 'classes'"),
    ],
)
def test_bad_random_specs_are_one_line_naming_the_value_and_range(spec, message):
    with pytest.raises(DataError) as caught:
        load_world(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_random_spec_exits_2_with_one_line(capsys):
    assert main(["world", "describe", "synthetic:random:3,classes=9"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.strip() == "error: random world: classes=9 is outside 10..60; use a value in that range"
