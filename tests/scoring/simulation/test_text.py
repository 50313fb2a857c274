"""How the synthetic encoder reads strings: known phrases inside any template, by meaning."""

from __future__ import annotations

import numpy as np

from cotclip.scoring.simulation.text import normalize_text
from cotclip.scoring.simulation.vocab import VOCABULARIES


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a.astype(np.float64).ravel(), b.astype(np.float64).ravel()))


def _concept(world, group_name: str, value: str) -> np.ndarray:
    position = [g.name for g in world.groups].index(group_name)
    return world.concept_vectors[position][world.group(group_name).values.index(value)]


def test_longest_known_phrase_wins_and_the_rest_is_the_template(large_world):
    model = large_world.text_model
    trait = large_world.group("trait").values[0]
    parsed = model.parse(f"Its most notable feature is {trait.upper()}.")
    assert parsed.phrases == (normalize_text(trait),)
    assert parsed.template == "its most notable feature is {}."
    assert model.parse("This creature\u2019s body   is mainly it.").template == "this creature's body is mainly it."


def test_phrase_inside_any_template_lands_near_its_concept(pokemon_world):
    color = pokemon_world.group("color")
    value = color.values[0]
    concept = _concept(pokemon_world, "color", value)
    for text in (
        f"This creature's body is mainly {value} in color.",
        f"a {value} thing",
        value,
        f"A picture: {value.upper()}!",
    ):
        assert _cos(pokemon_world.text_model.embed([text])[0], concept) > 0.8, text
    others = [_cos(pokemon_world.text_model.embed([f"a {v} thing"])[0], concept) for v in color.values[1:]]
    assert max(others) < 0.4


def test_canonical_form_is_closer_than_its_synonyms(pokemon_world):
    for group in pokemon_world.groups:
        for value, forms in zip(group.values, group.surface_forms):
            concept = _concept(pokemon_world, group.name, value)
            closeness = [
                _cos(pokemon_world.text_model.embed([group.prompt.replace("{}", f)])[0], concept) for f in forms
            ]
            assert closeness[0] == max(closeness)
            assert min(closeness) > 0.5


def test_unknown_phrases_are_uninformative_but_deterministic(pokemon_world):
    model = pokemon_world.text_model
    unknown = model.embed(["This creature's body is mainly glorbish in color."])[0]
    assert model.parse("glorbish").phrases == ()
    assert np.array_equal(unknown, model.embed(["This creature's body is mainly glorbish in color."])[0])
    concepts = np.concatenate(pokemon_world.concept_vectors)
    assert np.max(np.abs(concepts @ unknown.astype(np.float64))) < 0.45
    assert not model.knows("glorbish") and model.knows(pokemon_world.group("color").surface_forms[0][-1])
    unused = next(row[0] for row in VOCABULARIES["color"].values if row[0] not in pokemon_world.group("color").values)
    assert model.parse(f"mainly {unused}").phrases == ()


def test_a_template_shifts_all_its_options_alike(pokemon_world):
    model = pokemon_world.text_model
    values = pokemon_world.group("form").values
    bare = model.embed(list(values)).astype(np.float64)
    templated = model.embed([f"It looks like {v}." for v in values]).astype(np.float64)
    shift = templated - bare
    assert np.allclose(
        shift / np.linalg.norm(shift, axis=1, keepdims=True), shift[0] / np.linalg.norm(shift[0]), atol=0.15
    )


def test_class_names_align_with_identity_only_by_name_alignment(pokemon_world):
    alignment = pokemon_world.config.name_alignment
    names = pokemon_world.text_model.embed(list(pokemon_world.classes)).astype(np.float64)
    own = np.einsum("ij,ij->i", names, pokemon_world.identity_vectors)
    template_share = 1 / np.sqrt(1 + pokemon_world.config.template_strength**2)
    assert np.all(np.abs(own - alignment * template_share) < 0.3)
    assert abs(float(np.mean(own)) - alignment * template_share) < 0.08
