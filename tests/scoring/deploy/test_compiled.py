"""The compiled ``.npz`` classifier: same predictions as the scorer, safe parsing, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from cotclip.scoring.deploy.compiled import COMPILED_FORMAT, compile_system, read_compiled, write_compiled
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, class_scores, predict
from cotclip.scoring.simulation.dataset import dataset_of_world
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import InputError
from cotclip.systems.model import System


@pytest.fixture(scope="module")
def world_setup():
    world = load_world("pokemon-like")
    encoder = SyntheticEncoder(world)
    dataset = dataset_of_world(world, "pokemon-like")
    embeddings = encoder.encode_images(dataset.images).embeddings
    return world.oracle_system(), encoder, embeddings, dataset.labels


def _variants(system: System) -> dict[str, System]:
    """The scorer's variants: temperatures, aggregations, weights, null rules, name prior, template variants."""
    data = system.to_dict()
    weighted = [{**g, "weight": 0.5 + i} for i, g in enumerate(data["groups"])]
    nulls = {c: dict(r) for c, r in data["rules"].items()}
    for class_name in system.classes[::3]:
        nulls[class_name][system.groups[0].name] = None
    templated = [{**g, "extra_prompts": ["a picture where {} stands out"]} for g in data["groups"]]
    return {
        "seed": system,
        "clip_temperature": system.evolve(scoring={**data["scoring"], "temperature": 0.01}),
        "log_prob_sum": system.evolve(scoring={**data["scoring"], "aggregation": "log_prob_sum", "temperature": 0.05}),
        "weights": system.evolve(groups=weighted),
        "null_rules": system.evolve(rules=nulls),
        "name_prior": system.evolve(scoring={**data["scoring"], "name_prior_weight": 0.7, "temperature": 0.05}),
        "name_prior_log": system.evolve(
            scoring={**data["scoring"], "name_prior_weight": 0.7, "aggregation": "log_prob_sum", "temperature": 0.05}
        ),
        "template_variants": system.evolve(groups=templated),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "seed",
        "clip_temperature",
        "log_prob_sum",
        "weights",
        "null_rules",
        "name_prior",
        "name_prior_log",
        "template_variants",
    ],
)
def test_compiled_file_predicts_exactly_like_the_scorer(world_setup, tmp_path: Path, variant: str):
    base, encoder, embeddings, labels = world_setup
    system = _variants(base)[variant]
    path = write_compiled(compile_system(system, encoder), tmp_path / "clf.npz")
    compiled = read_compiled(path)
    images = ImageSet(embeddings, labels, PromptEmbedder(encoder))
    np.testing.assert_allclose(compiled.class_scores(embeddings), class_scores(system, images), rtol=1e-4, atol=1e-5)
    assert compiled.predict_indices(embeddings).tolist() == predict(system, images).tolist()


def test_round_trip_keeps_system_identity_and_layout(world_setup, tmp_path: Path):
    system, encoder, _, _ = world_setup
    compiled = read_compiled(
        write_compiled(compile_system(system, encoder, encoder_spec="synthetic:pokemon-like"), tmp_path / "c.npz")
    )
    assert compiled.system == system
    assert compiled.encoder_identity == encoder.identity
    assert compiled.encoder_spec == "synthetic:pokemon-like"
    assert compiled.class_names == system.classes
    assert compiled.option_embeddings.shape == (sum(len(g.options) for g in system.groups), encoder.dim)
    assert compiled.name_embeddings.shape == (0, encoder.dim)  # name prior off: no name prompts embedded
    for g, group in enumerate(system.groups):
        assert compiled.option_texts[compiled.group_slice(g)] == group.options
    assert compiled.to_dict()["format"] == COMPILED_FORMAT


def test_file_holds_no_pickled_objects(world_setup, tmp_path: Path):
    system, encoder, _, _ = world_setup
    path = write_compiled(compile_system(system, encoder), tmp_path / "c.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


def _rewrite(path: Path, **changes) -> Path:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays.update(changes)
    for name in [k for k, v in changes.items() if v is None]:
        del arrays[name]
    target = path.with_name("bad.npz")
    np.savez(target, **arrays)
    return target


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format": np.array("cotclip.compiled/0")}, "has format"),
        ({"rules": None}, "lacks array(s) rules"),
        ({"rules": np.full((16, 5), 99)}, "out of range"),
        ({"group_offsets": np.array([0, 1])}, "group_offsets"),
        ({"aggregation": np.array("max")}, "aggregation"),
        ({"option_embeddings": np.array([None, 1], dtype=object)}, "not a readable"),
        ({"adaptive_theta": np.full((16, 51), 0.1)}, "partial adaptive model"),
        # untrusted shapes and kinds that used to escape as TypeError/ValueError/IndexError tracebacks
        ({"temperature": np.array([1.0, 2.0])}, "wrong kind (temperature)"),
        ({"temperature": np.array("hot")}, "wrong kind (temperature)"),
        ({"name_prior_weight": np.array([0.5, 0.5])}, "wrong kind (name_prior_weight)"),
        ({"class_names": np.array("Absol")}, "wrong kind (class_names)"),
        ({"option_embeddings": np.full((51, 8), "x")}, "wrong kind (option_embeddings)"),
        ({"option_embeddings": np.ones(51, np.float32), "name_prior_weight": np.array(0.5)}, "name_embeddings"),
        ({"group_offsets": np.zeros((2, 2), np.int64)}, "group_offsets do not cover"),
    ],
)
def test_malformed_files_are_one_line_input_errors(world_setup, tmp_path: Path, changes, message):
    system, encoder, _, _ = world_setup
    good = write_compiled(compile_system(system, encoder), tmp_path / "c.npz")
    with pytest.raises(InputError) as caught:
        read_compiled(_rewrite(good, **changes))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_and_non_npz_files_are_input_errors(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        read_compiled(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a readable"):
        read_compiled(junk)
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(InputError, match="has format 'none'"):
        read_compiled(tmp_path / "empty.npz")


def test_wrong_embedding_width_is_an_input_error(world_setup, tmp_path: Path):
    system, encoder, embeddings, _ = world_setup
    compiled = compile_system(system, encoder)
    with pytest.raises(InputError, match="embed the images with the encoder"):
        compiled.class_scores(embeddings[:, :3])


def test_an_adaptive_model_comes_whole_or_not_at_all(world_setup):
    from dataclasses import replace

    system, encoder, _, _ = world_setup
    compiled = compile_system(system, encoder)
    assert compiled.adaptive is None and not compiled.has_adaptive
    with pytest.raises(ValueError, match="pass all four or none"):
        replace(compiled, adaptive_theta=np.full((len(system.classes), compiled.n_options), 0.1))
    whole = replace(
        compiled,
        adaptive_theta=np.full((len(system.classes), compiled.n_options), 0.1),
        adaptive_sharpness=2.0,
        adaptive_smoothing=0.5,
        adaptive_counts=np.ones(len(system.classes)),
    )
    assert whole.has_adaptive and whole.adaptive is not None and whole.adaptive.sharpness == 2.0


def test_a_cosine_classifier_has_no_token_offsets_to_give(world_setup):
    system, encoder, _, _ = world_setup
    with pytest.raises(InputError, match="has no token offsets"):
        _ = compile_system(system, encoder).maxsim_offsets
