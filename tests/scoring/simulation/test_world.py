"""The world's structure: presets, hidden truth, confusable pairs and bit-level determinism."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from cotclip.scoring.simulation.config import PRESETS, parse_world_config
from cotclip.scoring.simulation.world import World, load_world
from cotclip.scoring.splits import split_dataset
from cotclip.systems.errors import DataError

# Measured once on x86-64 (numpy 2.x); equal on any machine because every number comes
# from seeded generators and element-wise float64 arithmetic (see geometry.py). If you
# change the geometry on purpose, bump GEOMETRY_VERSION and update these.
POKEMON_IMAGES_SHA256 = "db14cb058f2342d293a2b4c0d35cd433f7631fc920b13c22e51f4e4c5bb77770"
POKEMON_ORACLE_TEXTS_SHA256 = "ca7689caf9d2b0c8c18a64d429ad6be356238c568c38324382f588cfb8e56c40"
POKEMON_SPLITS_SHA256 = "70fbb29072c44fafe45c0c56ad17416b43a93a66545c14752651137ec6471652"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _config(**changes):
    data = json.loads(json.dumps(PRESETS["pokemon-like"]))
    data.update(changes)
    return parse_world_config(data, "test")


def test_pokemon_like_has_the_article_shape(pokemon_world):
    assert len(pokemon_world.classes) == 16
    assert [g.name for g in pokemon_world.groups] == ["color", "form", "trait", "shape", "background"]
    assert pokemon_world.n_images == 16 * 9
    assert pokemon_world.image_embeddings.shape == (144, 128)
    assert pokemon_world.image_embeddings.dtype == np.float32
    assert np.allclose(np.linalg.norm(pokemon_world.image_embeddings, axis=1), 1.0, atol=1e-6)


def test_every_class_has_its_own_signature_and_true_values_from_the_vocabulary(pokemon_world):
    signatures = {tuple(row) for row in pokemon_world.signatures.tolist()}
    assert len(signatures) == len(pokemon_world.classes)
    for class_name in pokemon_world.classes:
        for group in pokemon_world.groups:
            value = pokemon_world.true_value(class_name, group.name)
            assert value == group.values[pokemon_world.true_index(class_name, group.name)]


def test_confusable_pairs_differ_in_exactly_one_group(large_world):
    assert len(large_world.confusable_pairs) == 50  # round(0.25 * 400 / 2)
    for first, second in large_world.confusable_pairs:
        differing = [
            g.name
            for g in large_world.groups
            if large_world.true_value(first, g.name) != large_world.true_value(second, g.name)
        ]
        assert len(differing) == 1


def test_same_seed_gives_identical_bytes_on_every_build():
    first, second = load_world("pokemon-like"), load_world("pokemon-like")
    assert first.hash == second.hash
    assert _sha(first.image_embeddings.tobytes()) == _sha(second.image_embeddings.tobytes()) == POKEMON_IMAGES_SHA256
    texts = first.oracle_system().prompt_texts()
    assert _sha(first.text_model.embed(texts).tobytes()) == _sha(second.text_model.embed(texts).tobytes())
    assert _sha(first.text_model.embed(texts).tobytes()) == POKEMON_ORACLE_TEXTS_SHA256
    assert first.oracle_system().to_json() == second.oracle_system().to_json()
    splits = json.dumps(split_dataset(first.labels, seed=0).to_dict()).encode()
    assert _sha(splits) == POKEMON_SPLITS_SHA256


def test_another_seed_gives_another_world():
    other = World(_config(seed=6), "other")
    base = load_world("pokemon-like")
    assert other.hash != base.hash
    assert other.classes != base.classes
    assert not np.array_equal(other.image_embeddings, base.image_embeddings)


def test_named_classes_are_kept_in_order():
    names = [f"Creature{i}" for i in range(16)]
    world = World(_config(classes=names), "named")
    assert world.classes == names
    assert world.labels[:9] == ["Creature0"] * 9


def test_unknown_class_or_group_is_a_one_line_data_error(pokemon_world):
    with pytest.raises(DataError, match="no class 'Pikachu'"):
        pokemon_world.true_value("Pikachu", "color")
    with pytest.raises(DataError, match="no group 'pose'; its groups are color"):
        pokemon_world.true_value(pokemon_world.classes[0], "pose")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"bogus": 1}, "unknown key 'bogus'; allowed keys: seed"),
        ({"classes": -3}, "classes must be a count of at least 2 or a list of at least 2 names"),
        ({"images_per_class": -1}, "images_per_class is -1 but must be >= 1; fix it in the world file"),
        (
            {"groups": [{"name": "color", "values": 9, "visibility": 1.5}]},
            "groups.0.visibility is 1.5 but must be <= 1.0",
        ),
        (
            {"groups": [{"name": "color", "values": 9, "visibility": 0.5}]},
            "only 9 distinct attribute signatures for 16 classes",
        ),
        ({"groups": [{"name": "colour", "values": 9, "visibility": 0.5}]}, "group 'colour' has no built-in vocabulary"),
        ({"groups": [{"name": "size", "values": 30, "visibility": 0.5}]}, "asks for 30 values; its vocabulary has 8"),
        ({"classes": ["Ann", "Ann"]}, "class 'Ann' is listed twice"),
        ({"classes": ["Ann", "crimson"]}, "class 'crimson' is also an attribute phrase"),
        ({"nuisance": {"count": -2, "strength": 1.0}}, "nuisance.count is -2 but must be >= 0"),
        ({"surface_forms": 4}, "surface_forms is 4 but must be <= 3"),
    ],
)
def test_bad_configs_raise_one_line_data_errors(changes, message):
    with pytest.raises(DataError) as caught:
        _config(**changes)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_world_files_are_read_with_safe_yaml(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(
        "seed: 3\ndim: 32\nclasses: 4\nimages_per_class: 5\n"
        "groups:\n  - {name: color, values: 3, visibility: 0.9}\n  - {name: size, values: 2, visibility: 0.5}\n"
    )
    world = load_world(str(path))
    assert world.name == "mini" and len(world.classes) == 4 and world.n_images == 20
    (tmp_path / "evil.yaml").write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(DataError, match="cannot read it as YAML"):
        load_world(str(tmp_path / "evil.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(DataError, match="expected a mapping"):
        load_world(str(tmp_path / "list.yaml"))
    with pytest.raises(DataError, match="not a preset"):
        load_world(str(tmp_path / "missing.yaml"))


def test_to_dict_lists_the_hidden_truth(pokemon_world):
    data = pokemon_world.to_dict()
    assert data["hash"] == pokemon_world.hash
    first = pokemon_world.classes[0]
    assert data["classes"][first]["color"] == pokemon_world.true_value(first, "color")
    json.dumps(data)


def test_a_world_with_exactly_enough_signatures_still_builds_with_true_pairs():
    config = parse_world_config(
        {
            "classes": 4,
            "images_per_class": 3,
            "confusable_fraction": 1.0,
            "groups": [
                {"name": "color", "values": 2, "visibility": 1.0},
                {"name": "size", "values": 2, "visibility": 1.0},
            ],
        },
        "tiny",
    )
    world = World(config, "tiny")
    assert len({tuple(row) for row in world.signatures.tolist()}) == 4
    for first, second in world.confusable_pairs:
        assert sum(world.true_value(first, g.name) != world.true_value(second, g.name) for g in world.groups) == 1
