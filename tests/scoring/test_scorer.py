"""The vectorised scorer against a slow per-image reference written from the seed's pseudocode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.hash_text import HashTextEncoder

from cotclip.scoring import scorer
from cotclip.scoring._tiled_sums import _first_argmax_down
from cotclip.scoring.scorer import (
    LOG_FLOOR,
    ImageSet,
    PromptEmbedder,
    accuracy,
    class_scores,
    group_probabilities,
    option_similarities,
    predict,
)
from cotclip.systems.errors import DataError
from cotclip.systems.model import System

DIM = 24


@pytest.fixture(autouse=True, params=["dense", "tiled"])
def scoring_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both of the scorer's paths: one dense product, and tiled rule sums."""
    monkeypatch.setattr(scorer, "SCORING_PATH", request.param)
    return request.param


def random_system(rng: np.random.Generator, variant: str, n_classes: int = 7) -> System:
    """A random valid system exercising ``variant`` (or every variant with ``all``)."""
    groups = []
    for g in range(4):
        group = {"name": f"g{g}", "prompt": f"question {g} is {{}}.", "options": [f"opt{g}-{i}" for i in range(3 + g)]}
        if variant in ("weights", "all"):
            group["weight"] = float(rng.uniform(0.2, 2.0))
        if variant in ("templates", "all") and g % 2 == 0:
            group["extra_prompts"] = [f"variant A of {g}: {{}}", f"{{}} (variant B of {g})"]
        groups.append(group)
    classes = [f"class{c}" for c in range(n_classes)]
    rules = {}
    for c in classes:
        rule = {}
        for group in groups:
            index = int(rng.integers(len(group["options"])))
            rule[group["name"]] = None if variant in ("null", "all") and rng.random() < 0.3 else index
        rules[c] = rule
    scoring = {"temperature": 1.0}
    if variant in ("log", "all"):
        scoring["aggregation"] = "log_prob_sum"
    if variant in ("name_prior", "all"):
        scoring["name_prior_weight"] = 0.7
        scoring["name_template"] = "a picture of {}, maybe"
    return System.from_data(
        {"name": "random", "classes": classes, "groups": groups, "rules": rules, "scoring": scoring}
    )


def reference_scores(system: System, image: np.ndarray, encoder: HashTextEncoder, temperature: float) -> list[float]:
    """The article's ``classify_pokemon`` for one image, extended by the documented variants."""
    image = image / np.linalg.norm(image)
    log_sum = system.scoring.aggregation == "log_prob_sum"
    probabilities = {}
    for group in system.groups:
        sims = []
        for option in group.options:
            # formatted here, not by Group.option_texts: the reference must not share the code it checks
            texts = [template.replace("{}", option, 1) for template in [group.prompt, *group.extra_prompts]]
            mean = encoder.encode_texts(texts).astype(np.float64).mean(axis=0)
            sims.append(float(image @ (mean / np.linalg.norm(mean))))
        top = max(sims)
        exps = [math.exp((s - top) / temperature) for s in sims]
        probabilities[group.name] = [e / sum(exps) for e in exps]
    names = []
    if system.scoring.name_prior_weight > 0:
        name_sims = [
            float(image @ encoder.encode_texts([system.scoring.name_template.replace("{}", c, 1)])[0])
            for c in system.classes
        ]
        top = max(name_sims)
        exps = [math.exp((s - top) / temperature) for s in name_sims]
        names = [e / sum(exps) for e in exps]
    scores = []
    for c, class_name in enumerate(system.classes):
        score = 0.0
        for group in system.groups:
            target = system.rule(class_name, group.name)
            if target is None:
                continue
            p = probabilities[group.name][target]
            score += group.weight * (math.log(max(p, LOG_FLOOR)) if log_sum else p)
        if names:
            prior = names[c]
            score += system.scoring.name_prior_weight * (math.log(max(prior, LOG_FLOOR)) if log_sum else prior)
        scores.append(score)
    return scores


def make_images(rng: np.random.Generator, system: System, n: int = 40) -> ImageSet:
    labels = [system.classes[i % len(system.classes)] for i in range(n)]
    return ImageSet(rng.standard_normal((n, DIM)), labels, PromptEmbedder(HashTextEncoder(DIM)))


VARIANTS = ["plain", "log", "weights", "null", "name_prior", "templates", "all"]


# 1.0 and 0.03 take the unshifted softmax path (cosine / T cannot overflow exp), 0.01 the max-shifted one.
@pytest.mark.parametrize("temperature", [1.0, 0.03, 0.01])
@pytest.mark.parametrize("variant", VARIANTS)
def test_scores_match_per_image_reference(variant: str, temperature: float) -> None:
    rng = np.random.default_rng(VARIANTS.index(variant))
    system = random_system(rng, variant).evolve(
        scoring={**random_system(rng, variant).scoring.model_dump(), "temperature": temperature}
    )
    images = make_images(rng, system)
    encoder = HashTextEncoder(DIM)
    expected = np.array(
        [reference_scores(system, x, encoder, temperature) for x in images.embeddings.astype(np.float64)]
    )

    scores = class_scores(system, images)

    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=2e-4)
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3
    assert clear.sum() > len(images) // 2
    np.testing.assert_array_equal(predict(system, images)[clear], expected.argmax(axis=1)[clear])


@pytest.mark.parametrize("temperature", [1.0, 0.01])
def test_temperature_argument_overrides_the_system(temperature: float) -> None:
    rng = np.random.default_rng(7)
    system = random_system(rng, "all")
    images = make_images(rng, system)
    retempered = system.evolve(scoring={**system.scoring.model_dump(), "temperature": temperature})
    np.testing.assert_allclose(class_scores(system, images, temperature), class_scores(retempered, images), rtol=1e-6)


def test_group_probabilities_are_softmaxes_of_option_cosines() -> None:
    rng = np.random.default_rng(3)
    system = random_system(rng, "templates")
    images = make_images(rng, system)
    cosines = option_similarities(system, images)
    assert cosines.shape == (len(images), sum(len(g.options) for g in system.groups))
    blocks = group_probabilities(system, images, temperature=0.05)
    assert [b.shape[1] for b in blocks] == [len(g.options) for g in system.groups]
    start = 0
    for block in blocks:
        logits = cosines[:, start : start + block.shape[1]].astype(np.float64) / 0.05
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(block, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
        start += block.shape[1]


def test_softmax_is_stable_at_tiny_temperatures() -> None:
    rng = np.random.default_rng(4)
    system = random_system(rng, "log")
    images = make_images(rng, system)
    scores = class_scores(system, images, temperature=1e-6)
    assert np.isfinite(scores).all()
    assert scores.min() >= len(system.groups) * math.log(LOG_FLOOR) - 1e-3


def test_identical_rules_tie_and_the_first_class_wins() -> None:
    groups = [{"name": "color", "prompt": "it is {}", "options": ["red", "blue", "green"]}]
    rules = {"twin A": {"color": 1}, "other": {"color": 0}, "twin B": {"color": 1}}
    system = System.from_data({"classes": ["twin A", "other", "twin B"], "groups": groups, "rules": rules})
    images = make_images(np.random.default_rng(5), system, n=60)
    scores = class_scores(system, images)
    np.testing.assert_array_equal(scores[:, 0], scores[:, 2])
    predictions = predict(system, images)
    assert 2 not in predictions
    assert (predictions == 0).any()


@pytest.mark.parametrize("variant", VARIANTS)
def test_predict_is_the_first_argmax_of_class_scores_across_image_tiles(variant: str) -> None:
    # 600 images span three of the scorer's 256-image tiles, the last one partial; the twin
    # class (a copy of class0's rules placed last) must tie with class0 and never win.
    rng = np.random.default_rng(11 + VARIANTS.index(variant))
    base = random_system(rng, variant, n_classes=12)
    data = base.to_dict()
    data["classes"].append("twin")
    data["rules"]["twin"] = dict(data["rules"][base.classes[0]])
    system = System.from_data(data)
    images = make_images(rng, system, n=600)

    scores = class_scores(system, images)
    predictions = predict(system, images)

    assert scores.shape == (600, 13)
    np.testing.assert_array_equal(predictions, np.argmax(scores, axis=1))
    encoder, rows = HashTextEncoder(DIM), [0, 255, 256, 257, 511, 512, 599]
    embeddings = images.embeddings.astype(np.float64)[rows]
    expected = [reference_scores(system, x, encoder, system.scoring.temperature) for x in embeddings]
    np.testing.assert_allclose(scores[rows], expected, rtol=1e-4, atol=2e-4)
    if system.scoring.name_prior_weight == 0:
        np.testing.assert_array_equal(scores[:, 0], scores[:, -1])
        assert 12 not in predictions


def test_no_images_give_empty_scores_and_predictions() -> None:
    system = random_system(np.random.default_rng(12), "plain")
    images = ImageSet(np.zeros((0, DIM)), [], PromptEmbedder(HashTextEncoder(DIM)))
    assert class_scores(system, images).shape == (0, len(system.classes))
    assert predict(system, images).shape == (0,)


def test_null_rules_contribute_nothing() -> None:
    groups = [
        {"name": "a", "prompt": "a {}", "options": ["x", "y"]},
        {"name": "b", "prompt": "b {}", "options": ["u", "v"]},
    ]
    rules = {"only a": {"a": 0, "b": None}, "both": {"a": 0, "b": 1}}
    system = System.from_data({"classes": ["only a", "both"], "groups": groups, "rules": rules})
    images = make_images(np.random.default_rng(6), system)
    scores = class_scores(system, images)
    np.testing.assert_allclose(scores[:, 0], group_probabilities(system, images)[0][:, 0], rtol=1e-6)
    assert (scores[:, 1] > scores[:, 0]).all()


def test_compiled_structures_are_reused_until_the_system_changes() -> None:
    rng = np.random.default_rng(8)
    system = random_system(rng, "plain")
    images = make_images(rng, system)
    first = accuracy(system, images)
    accuracy(system, images)
    accuracy(System.from_data(system.to_dict()), images)
    assert images.compile_count == 1

    flipped = {c: dict(r) for c, r in system.rules.items()}
    flipped["class0"]["g3"] = (system.rule("class0", "g3") + 1) % 6
    changed = system.evolve(rules=flipped)
    assert images.compile_count == 1
    changed_scores = class_scores(changed, images)
    assert images.compile_count == 2
    assert not np.allclose(changed_scores[:, 0], class_scores(system, images)[:, 0])
    assert accuracy(system, images) == first
    assert images.compile_count == 2


def test_prompts_are_embedded_once_each_in_one_batch() -> None:
    rng = np.random.default_rng(9)
    system = random_system(rng, "all")
    encoder = HashTextEncoder(DIM)
    images = ImageSet(rng.standard_normal((10, DIM)), [system.classes[0]] * 10, PromptEmbedder(encoder))
    class_scores(system, images)
    class_scores(system.evolve(name="renamed"), images)
    encoded = [text for call in encoder.calls for text in call]
    assert len(encoded) == len(set(encoded))
    assert set(system.prompt_texts()) <= set(encoded)
    images.similarities(["a new text", system.prompt_texts()[0]])
    assert encoder.calls[-1] == ["a new text"]


def test_similarities_are_cosines() -> None:
    rng = np.random.default_rng(10)
    encoder = HashTextEncoder(DIM)
    raw = rng.standard_normal((5, DIM)) * 3.0
    images = ImageSet(raw, ["a"] * 5, PromptEmbedder(encoder))
    texts = [f"text {i}" for i in range(40)]
    expected = (raw / np.linalg.norm(raw, axis=1, keepdims=True)) @ encoder.encode_texts(texts).T
    np.testing.assert_allclose(images.similarities(texts), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(images.similarities(texts[::-1]), expected[:, ::-1], rtol=1e-5, atol=1e-6)


def test_labels_outside_the_system_are_a_data_error() -> None:
    rng = np.random.default_rng(11)
    system = random_system(rng, "plain")
    images = ImageSet(rng.standard_normal((3, DIM)), ["class0", "Mew", "Zapdos"], PromptEmbedder(HashTextEncoder(DIM)))
    with pytest.raises(DataError, match=r"2 image\(s\).*'Mew', 'Zapdos'.*--ignore-unknown"):
        accuracy(system, images)


def test_accuracy_counts_correct_predictions_and_rejects_no_images() -> None:
    rng = np.random.default_rng(12)
    system = random_system(rng, "plain")
    images = make_images(rng, system)
    truth = images.label_indices(system.classes)
    assert accuracy(system, images) == pytest.approx(np.mean(predict(system, images) == truth))
    with pytest.raises(DataError, match="no images"):
        accuracy(system, images.subset([]))


@pytest.mark.parametrize("rows", [1, 5, 32, 37, 64, 1000])
def test_first_argmax_down_takes_the_first_row_of_each_columns_maximum(rows: int) -> None:
    rng = np.random.default_rng(rows)
    scores = rng.integers(0, 4, (rows, 50)).astype(np.float32)  # many ties, within and across blocks
    scores[:, 0] = 7.0  # every row ties
    scores[-1, 1] = 9.0  # the maximum in the short last block
    np.testing.assert_array_equal(_first_argmax_down(scores), np.argmax(scores, axis=0))
