"""The shipped systems: valid, canonical on disk, and the pokemon one faithful to the article."""

from __future__ import annotations

from importlib import resources

import pytest

from cotclip.systems import dump_system, load_ready_system, read_system_data, ready_system_names
from cotclip.systems.io import validate_system_source
from cotclip.systems.ready_systems import ready_system_text

POKEMON_CLASSES = [
    "Absol", "Absol G", "Aggron", "Aerodactyl", "Weedle", "Beedrill δ", "Azumarill", "Bulbasaur",
    "Venusaur", "Celebi&Venu", "Caterpie", "Alakazam", "Ampharos", "Arcanine", "Blaine's Moltres", "Dratini",
]  # fmt: skip
ARTICLE_PROMPTS = {
    "dominant_color": "This Pokémon’s body is mainly {} in color.",
    "primary_form": "It looks like {}.",
    "key_trait": "Its most notable feature is {}.",
    "body_shape": "The body shape can be described as {}.",
    "background_scene": "The background looks like {}.",
}


def test_names_come_from_package_data() -> None:
    names = ready_system_names()
    assert names == ["backyard_birds", "fruits", "pokemon_seed", "pokemon_seed.seed"]
    files = {entry.name for entry in resources.files("cotclip.systems.ready").iterdir()}
    assert {"pokemon_seed.json", "pokemon_seed.seed.json", "backyard_birds.json", "fruits.yaml"} <= files


@pytest.mark.parametrize("name", ["backyard_birds", "fruits", "pokemon_seed"])
def test_canonical_ready_files_are_valid_and_in_canonical_form(name: str) -> None:
    system = load_ready_system(name)
    text, file_name = ready_system_text(name)
    fmt = read_system_data(f"ready:{name}")[1]
    assert fmt == file_name.rsplit(".", 1)[1]
    assert text == dump_system(system, fmt)


@pytest.mark.parametrize("name", ["backyard_birds", "fruits"])
def test_small_examples_are_clean(name: str) -> None:
    report = validate_system_source(f"ready:{name}")
    assert (report.errors, report.warnings) == ([], [])
    assert len(load_ready_system(name).classes) == 6


def test_pokemon_matches_the_article() -> None:
    system = load_ready_system("pokemon_seed")
    assert system.classes == POKEMON_CLASSES
    assert {g.name: g.prompt for g in system.groups} == ARTICLE_PROMPTS
    assert list(ARTICLE_PROMPTS) == system.group_names
    assert [len(g.options) for g in system.groups] == [9, 12, 12, 10, 8]
    assert system.group("primary_form").options[10] == "a flaming bird"
    assert system.scoring.temperature == 1.0 and system.scoring.aggregation == "prob_sum"


@pytest.mark.parametrize(
    ("class_name", "signature"),
    [
        ("Absol", (0, 0, 0, 0, 2)),  # printed in the article
        ("Absol G", (0, 0, 0, 0, 0)),  # printed in the article
        ("Beedrill δ", (2, 6, 2, 2, 0)),
        ("Weedle", (2, 5, 5, 5, 1)),
        ("Caterpie", (4, 5, 6, 5, 1)),
        ("Blaine's Moltres", (6, 10, 10, 8, 6)),
        ("Dratini", (8, 11, 11, 9, 7)),
    ],
)
def test_pokemon_rules_follow_the_option_comments(class_name: str, signature: tuple[int, ...]) -> None:
    assert load_ready_system("pokemon_seed").signature(class_name) == signature


def test_pokemon_seed_file_is_the_same_system() -> None:
    canonical, seed = load_ready_system("pokemon_seed"), load_ready_system("pokemon_seed.seed")
    assert read_system_data("ready:pokemon_seed.seed")[1] == "seed-json"
    assert seed.fingerprint() == canonical.fingerprint()
    assert seed.name == canonical.name == "pokemon"
    text, _ = ready_system_text("pokemon_seed.seed")
    assert dump_system(seed, "seed-json") == text


def test_pokemon_warns_only_about_the_three_lookalikes() -> None:
    report = validate_system_source("ready:pokemon_seed")
    assert report.valid and len(report.warnings) == 1
    assert "'Bulbasaur', 'Venusaur', 'Celebi&Venu' have identical rules" in report.warnings[0]
