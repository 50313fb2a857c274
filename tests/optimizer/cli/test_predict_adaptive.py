"""``cotclip predict --compiled X.npz --adaptive`` with every ``--stop`` rule and ``--rank``, on a tiny real CLIP."""

from __future__ import annotations

import json

import pytest
from helpers.tiny_clip import build_image_folder, build_tiny_clip

from cotclip.cli import main
from cotclip.scoring.deploy.classifier import Classifier
from cotclip.scoring.deploy.compiled import write_compiled
from cotclip.systems.model import System

# "size" has the same rule for both classes: it can never change the decision, so the exact
# margin stop with the margin ranking never asks it.
SYSTEM = {
    "name": "tiny3",
    "classes": ["cat", "dog"],
    "groups": [
        {"name": "color", "prompt": "a {} animal", "options": ["red", "blue", "green"]},
        {"name": "size", "prompt": "it is {}", "options": ["small", "large"]},
        {"name": "pattern", "prompt": "with {} fur", "options": ["striped", "spotted"]},
    ],
    "rules": {"cat": {"color": 0, "size": 0, "pattern": 0}, "dog": {"color": 1, "size": 0, "pattern": 1}},
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Image files and two adaptive npz classifiers (prob_sum and log_prob_sum) fitted on them."""
    folder = tmp_path_factory.mktemp("predict_adaptive")
    spec = f"hf:{build_tiny_clip(folder / 'clip')}"
    files = sorted(build_image_folder(folder / "images", per_class=6).rglob("*.png"))
    labels = [path.parent.name for path in files]
    paths = {"files": [str(path) for path in files]}
    for key, aggregation in (("prob_sum", "prob_sum"), ("log", "log_prob_sum")):
        system = System.from_data({**SYSTEM, "scoring": {"aggregation": aggregation}})
        classifier = Classifier.load(system, encoder=spec).fit_adaptive(files, labels)
        paths[key] = str(write_compiled(classifier.compiled, folder / f"{key}.npz"))
    return paths


def _predict(compiled, capsys, *flags: str, npz: str = "prob_sum") -> list[dict]:
    """``predict --json`` rows of every image file (exit 0 asserted)."""
    capsys.readouterr()
    code = main(["predict", "--compiled", compiled[npz], "--json", *flags, *compiled["files"]])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_default_stop_is_unchanged_posterior(compiled, capsys):
    default = _predict(compiled, capsys, "--adaptive")
    assert default == _predict(compiled, capsys, "--adaptive", "--stop", "posterior", "--threshold", "0.9")
    assert all(row["prompts"] == sum({"color": 3, "size": 2, "pattern": 2}[g] for g in row["asked"]) for row in default)


@pytest.mark.parametrize("npz", ["prob_sum", "log"])
def test_stop_margin_gives_exactly_the_full_systems_labels(compiled, capsys, npz):
    full = [row["label"] for row in _predict(compiled, capsys, npz=npz)]
    margin = _predict(compiled, capsys, "--adaptive", "--stop", "margin", "--rank", "margin_per_prompt", npz=npz)
    assert [row["label"] for row in margin] == full
    assert all("size" not in row["asked"] for row in margin)  # the group that cannot change the decision
    assert all(row["prompts"] < 7 for row in margin)  # 7 = every group


def test_stop_flip_never_asks_more_than_margin_and_epsilon_0_is_margin(compiled, capsys):
    full = [row["label"] for row in _predict(compiled, capsys)]
    margin = _predict(compiled, capsys, "--adaptive", "--stop", "margin")
    exact = _predict(compiled, capsys, "--adaptive", "--stop", "flip", "--epsilon", "0")
    loose = _predict(compiled, capsys, "--adaptive", "--stop", "flip", "--epsilon", "0.5")
    assert exact == margin and [row["label"] for row in exact] == full
    assert all(a["prompts"] <= m["prompts"] for a, m in zip(loose, margin))
    assert sum(a["prompts"] for a in loose) < sum(m["prompts"] for m in margin)


@pytest.mark.parametrize(
    "flags, message, npz",
    [
        (
            ["--adaptive", "--stop", "flip"],
            "--stop flip needs prob_sum aggregation but the system uses log_prob_sum",
            "log",
        ),
        (["--adaptive", "--epsilon", "0.1"], "--epsilon is the knob of --stop flip", "prob_sum"),
        (
            ["--adaptive", "--stop", "margin", "--threshold", "0.8"],
            "--threshold is the knob of --stop posterior",
            "prob_sum",
        ),
        (["--adaptive", "--stop", "flip", "--epsilon", "2"], "--epsilon must be in [0, 1)", "prob_sum"),
        (["--adaptive", "--rank", "best"], "--rank", "prob_sum"),
        (["--stop", "margin"], "--stop only applies to adaptive questioning", "prob_sum"),
        (["--rank", "gain_per_prompt"], "--rank only applies to adaptive questioning", "prob_sum"),
        (["--adaptive", "--stop", "accuracy"], "AdaptiveClassifier.fit", "prob_sum"),
    ],
)
def test_bad_adaptive_flags_are_one_line_exit_2(compiled, capsys, flags, message, npz):
    capsys.readouterr()
    code = main(["predict", "--compiled", compiled[npz], *flags, compiled["files"][0]])
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if line.startswith("error:")]  # transformers may draw a load bar
    assert code == 2 and len(errors) == 1 and message in errors[0]
    assert "Traceback" not in out + err
