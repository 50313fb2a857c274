"""``Classifier``: load, predict, predict_proba, explain; encoder identity checks; ``cotclip predict``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cotclip.cli import main
from cotclip.scoring.deploy.classifier import Classifier, image_refs_from_paths
from cotclip.scoring.deploy.compiled import compile_system, write_compiled
from cotclip.scoring.registry import load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder, class_scores, group_probabilities, predict
from cotclip.scoring.simulation.dataset import dataset_of_world
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.errors import DataError, EncoderError, InputError
from cotclip.systems.model import System


@pytest.fixture(scope="module")
def world_setup():
    world = load_world("pokemon-like")
    encoder = SyntheticEncoder(world)
    dataset = dataset_of_world(world, "pokemon-like")
    return world.oracle_system(), encoder, dataset


def test_predictions_on_image_refs_equal_the_scorers(world_setup, tmp_path: Path):
    system, encoder, dataset = world_setup
    path = write_compiled(compile_system(system, encoder), tmp_path / "c.npz")
    classifier = Classifier.load(path, encoder=encoder)
    images = ImageSet(encoder.encode_images(dataset.images).embeddings, dataset.labels, PromptEmbedder(encoder))
    expected = [system.classes[i] for i in predict(system, images)]
    assert classifier.predict(dataset.images) == expected
    assert classifier.predict(images.embeddings) == expected


def test_predict_proba_is_softmax_of_scores_and_agrees_with_predict(world_setup):
    system, encoder, dataset = world_setup
    classifier = Classifier.load(system, encoder=encoder)
    proba = classifier.predict_proba(dataset.images[:20])
    scores = classifier.class_scores(dataset.images[:20]).astype(np.float64)
    assert proba.shape == (20, len(system.classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True))
    assert [system.classes[i] for i in proba.argmax(axis=1)] == classifier.predict(dataset.images[:20])


def test_explain_reports_group_answers_and_the_rules_that_voted(world_setup):
    system, encoder, dataset = world_setup
    classifier = Classifier.load(system, encoder=encoder)
    explanation = classifier.explain(dataset.images[0], top_k=3)
    images = ImageSet(encoder.encode_images(dataset.images[:1]).embeddings, dataset.labels[:1], PromptEmbedder(encoder))
    probabilities = [p[0] for p in group_probabilities(system, images)]
    assert explanation.label == classifier.predict(dataset.images[:1])[0]
    assert [a.group for a in explanation.answers] == system.group_names
    for answer, group, probs in zip(explanation.answers, system.groups, probabilities):
        assert answer.option_index == int(np.argmax(probs))
        assert answer.option == group.options[answer.option_index]
        assert answer.probabilities[answer.option] == pytest.approx(float(probs.max()), rel=1e-4)
    top = explanation.top_classes[0]
    assert top.class_name == explanation.label
    assert [v.class_name for v in explanation.top_classes] == [
        system.classes[i] for i in np.argsort(-class_scores(system, images)[0], kind="stable")[:3]
    ]
    for group_name, vote in top.votes.items():
        rule = system.rule(top.class_name, group_name)
        assert vote == pytest.approx(float(probabilities[system.group_names.index(group_name)][rule]), rel=1e-4)
    assert top.agreeing_groups == [
        a.group for a in explanation.answers if a.option_index == system.rule(top.class_name, a.group)
    ]
    assert json.loads(json.dumps(explanation.to_dict()))["label"] == explanation.label


def test_npz_for_another_encoder_is_a_one_line_encoder_error(world_setup, tmp_path: Path):
    system, encoder, _ = world_setup
    path = write_compiled(compile_system(system, encoder), tmp_path / "c.npz")
    other = SyntheticEncoder(load_world("large"))
    with pytest.raises(EncoderError) as caught:
        Classifier.load(path, encoder=other)
    message = str(caught.value)
    assert encoder.identity in message and other.identity in message and "\n" not in message


def test_loading_a_system_needs_an_encoder(world_setup):
    system, _, _ = world_setup
    with pytest.raises(InputError, match="needs an encoder"):
        Classifier.load(system)


def test_npz_without_encoder_scores_embeddings_but_not_images(world_setup, tmp_path: Path):
    system, encoder, dataset = world_setup
    path = write_compiled(compile_system(system, encoder), tmp_path / "c.npz")  # no encoder spec stored
    classifier = Classifier.load(path)
    embeddings = encoder.encode_images(dataset.images[:5]).embeddings
    assert len(classifier.predict(embeddings)) == 5
    with pytest.raises(InputError, match="no image encoder"):
        classifier.predict(dataset.images[:5])


def _tiny_system() -> System:
    return System.from_data(
        {
            "name": "tiny",
            "classes": ["cat", "dog"],
            "groups": [
                {"name": "color", "prompt": "a {} animal", "options": ["red", "blue", "green"]},
                {"name": "size", "prompt": "it is {}", "options": ["small", "large"]},
            ],
            "rules": {"cat": {"color": 0, "size": 0}, "dog": {"color": 1, "size": 1}},
        }
    )


def test_image_files_with_a_real_hf_encoder(tiny_clip_dir: Path, image_folder: Path, tmp_path: Path):
    files = sorted(image_folder.rglob("*.png"))
    system = _tiny_system()
    spec = f"hf:{tiny_clip_dir}"
    path = write_compiled(compile_system(system, load_encoder(spec), encoder_spec=spec), tmp_path / "t.npz")
    classifier = Classifier.load(path)  # the stored spec loads the encoder
    encoder = load_encoder(spec)
    images = ImageSet(
        encoder.encode_images(image_refs_from_paths(files)).embeddings, ["cat"] * len(files), PromptEmbedder(encoder)
    )
    assert classifier.predict(files) == [system.classes[i] for i in predict(system, images)]


def test_unreadable_file_is_a_data_error_naming_it(tiny_clip_dir: Path, tmp_path: Path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    classifier = Classifier.load(_tiny_system(), encoder=f"hf:{tiny_clip_dir}")
    with pytest.raises(DataError, match="broken.png"):
        classifier.predict([bad])


def test_predict_command_json_and_plain(tiny_clip_dir: Path, image_folder: Path, tmp_path: Path, capsys):
    system_file = tmp_path / "tiny.json"
    system_file.write_text(_tiny_system().to_json())
    files = [str(p) for p in sorted(image_folder.rglob("*.png"))]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"nope")
    code = main(["predict", "--system", str(system_file), "--model", f"hf:{tiny_clip_dir}", "--json", *files, str(bad)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [item["path"] for item in out] == [*files, str(bad)]
    assert all(item["label"] in ("cat", "dog") and len(item["scores"]) == 2 for item in out[:-1])
    assert out[-1]["label"] is None and out[-1]["error"]
    expected = Classifier.load(_tiny_system(), encoder=f"hf:{tiny_clip_dir}").predict(files)
    assert [item["label"] for item in out[:-1]] == expected

    assert (
        main(
            [
                "predict",
                "--system",
                str(system_file),
                "--model",
                f"hf:{tiny_clip_dir}",
                "--crop",
                "0,0,0.5,0.5",
                files[0],
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.split("\t")[0] == files[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--system", "x.json", "--compiled", "y.npz"], "exactly one of"),
        ([], "exactly one of"),
        (["--system", "ready:fruits"], "needs --model"),
        (["--compiled", "missing.npz"], "does not exist"),
        (["--system", "x.json", "--model", "hf:x", "--crop", "1,2"], "crop"),
    ],
)
def test_predict_command_errors_are_one_line(tmp_path: Path, capsys, args, message):
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    code = main(["predict", *args, str(image)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _split(dataset, encoder):
    embeddings = encoder.encode_images(dataset.images).embeddings
    train = np.arange(len(dataset.labels)) % 2 == 0
    labels = np.array(dataset.labels)
    return embeddings[train], list(labels[train]), embeddings[~train], list(labels[~train])


def test_adaptive_mode_matches_the_adaptive_module_and_saves_prompts(world_setup, tmp_path: Path):
    from cotclip.scoring.deploy.adaptive import AdaptiveClassifier

    system, encoder, dataset = world_setup
    train_x, train_y, test_x, test_y = _split(dataset, encoder)
    fitted = Classifier.load(system, encoder=encoder).fit_adaptive(train_x, train_y)
    path = write_compiled(fitted.compiled, tmp_path / "adaptive.npz")
    classifier = Classifier.load(path, encoder=encoder)
    assert classifier.compiled.has_adaptive
    result = classifier.predict_adaptive(test_x, threshold=0.9)

    prompts = PromptEmbedder(encoder)
    reference = AdaptiveClassifier.fit(system, ImageSet(train_x, train_y, prompts))
    expected = reference.run(ImageSet(test_x, test_y, prompts), threshold=0.9)
    assert classifier.compiled.adaptive_sharpness == pytest.approx(reference.sharpness, rel=1e-3)
    assert result.labels == expected.labels
    assert result.prompts.tolist() == expected.prompts.tolist()
    assert result.mean_prompts < result.full_prompts
    with pytest.raises(InputError, match="AdaptiveClassifier.fit"):  # the npz keeps no train answers to resample
        classifier.predict_adaptive(test_x, stop="accuracy")


def test_adaptive_mode_without_stopping_asks_everything_and_equals_predict(world_setup):
    system, encoder, dataset = world_setup
    train_x, train_y, test_x, _ = _split(dataset, encoder)
    classifier = Classifier.load(system, encoder=encoder).fit_adaptive(train_x, train_y)
    result = classifier.predict_adaptive(test_x, threshold=None)
    assert result.labels == classifier.predict(test_x)
    assert result.asked.all() and (result.prompts == result.full_prompts).all()
    assert (classifier.predict_adaptive(test_x, threshold=None, budget=10).prompts <= 10).all()


@pytest.mark.parametrize("stop, epsilon", [("margin", None), ("flip", 0.0), ("flip", 0.2)])
def test_adaptive_stop_rules_match_the_adaptive_module(world_setup, stop, epsilon):
    from cotclip.scoring.deploy.adaptive import AdaptiveClassifier

    system, encoder, dataset = world_setup
    train_x, train_y, test_x, test_y = _split(dataset, encoder)
    classifier = Classifier.load(system, encoder=encoder).fit_adaptive(train_x, train_y)
    options = {"stop": stop} if epsilon is None else {"stop": stop, "epsilon": epsilon}
    result = classifier.predict_adaptive(test_x, threshold=None, rank="margin_per_prompt", **options)
    prompts = PromptEmbedder(encoder)
    reference = AdaptiveClassifier.fit(system, ImageSet(train_x, train_y, prompts)).run(
        ImageSet(test_x, test_y, prompts), threshold=None, rank="margin_per_prompt", **options
    )
    assert result.labels == reference.labels and result.prompts.tolist() == reference.prompts.tolist()
    assert (result.stop, result.epsilon) == (stop, epsilon)
    assert result.mean_prompts < result.full_prompts
    if not epsilon:  # the exact stops: the full system's labels
        assert result.labels == classifier.predict(test_x)


def test_adaptive_mode_needs_a_fitted_answer_model(world_setup):
    system, encoder, dataset = world_setup
    classifier = Classifier.load(system, encoder=encoder)
    with pytest.raises(InputError, match="fit_adaptive"):
        classifier.predict_adaptive(dataset.images[:3])
    with pytest.raises(DataError, match="not classes"):
        classifier.fit_adaptive(dataset.images[:2], ["nobody", "nobody"])
    with pytest.raises(InputError, match="one label per image"):
        classifier.fit_adaptive(dataset.images[:2], ["x"])


def test_predict_command_adaptive_mode(tiny_clip_dir: Path, image_folder: Path, tmp_path: Path, capsys):
    files = sorted(image_folder.rglob("*.png"))
    spec = f"hf:{tiny_clip_dir}"
    classifier = Classifier.load(_tiny_system(), encoder=spec)
    plain = write_compiled(classifier.compiled, tmp_path / "plain.npz")
    fitted = write_compiled(classifier.fit_adaptive(files, [p.parent.name for p in files]).compiled, tmp_path / "a.npz")
    code = main(["predict", "--compiled", str(fitted), "--adaptive", "--threshold", "0.99", "--json", *map(str, files)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out) == len(files)
    for item in out:
        assert item["label"] in ("cat", "dog") and 1 <= len(item["asked"]) <= 2
        assert item["prompts"] == sum({"color": 3, "size": 2}[g] for g in item["asked"])

    code = main(["predict", "--compiled", str(plain), "--adaptive", str(files[0])])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "--adaptive needs an answer model" in errors[0]


def test_predict_command_with_no_readable_image_is_a_one_line_error(tiny_clip_dir: Path, tmp_path: Path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"nope")
    system_file = tmp_path / "tiny.json"
    system_file.write_text(_tiny_system().to_json())
    code = main(["predict", "--system", str(system_file), "--model", f"hf:{tiny_clip_dir}", str(bad)])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]  # transformers may draw a load bar first
    assert code == 2 and len(errors) == 1 and "Traceback" not in err
    assert errors[0].startswith("error: none of the 1 image(s) could be read") and "broken.png" in errors[0]
