"""Per-rule evidence: shares, favoured options and example images, checked by hand and against diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.optimizer.review.evidence import rule_evidence
from cotclip.scoring.diagnostics import diagnose
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.simulation.dataset import dataset_of_world
from cotclip.scoring.simulation.encoder import SyntheticEncoder
from cotclip.scoring.simulation.world import load_world
from cotclip.systems.model import System

_AXES = {"a red animal": 0, "a blue animal": 1, "it is small": 2, "it is large": 3}


class _AxisEncoder:
    """Each known prompt is one axis of a 4-d space (a fixed-vocabulary test encoder)."""

    identity = "test:axes"
    dim = 4

    def encode_texts(self, texts):
        rows = np.zeros((len(texts), 4), dtype=np.float32)
        rows[np.arange(len(texts)), [_AXES[t] for t in texts]] = 1.0
        return rows

    def encode_images(self, images):  # pragma: no cover - images arrive as embeddings here
        raise NotImplementedError


def _image(color: int, size: int) -> np.ndarray:
    row = np.zeros(4, dtype=np.float32)
    row[color] = row[2 + size] = 1.0
    return row


@pytest.fixture
def hand_case() -> tuple[System, ImageSet]:
    system = System.from_data(
        {
            "classes": ["cat", "dog", "fox"],
            "groups": [
                {"name": "color", "prompt": "a {} animal", "options": ["red", "blue"]},
                {"name": "size", "prompt": "it is {}", "options": ["small", "large"]},
            ],
            "rules": {
                "cat": {"color": 0, "size": 0},
                "dog": {"color": 0, "size": 1},
                "fox": {"color": None, "size": 1},
            },
            "scoring": {"temperature": 0.1},
        }
    )
    embeddings = np.stack([_image(0, 0), _image(0, 0), _image(1, 0), _image(1, 1), _image(1, 1)])
    return system, ImageSet(embeddings, ["cat", "cat", "cat", "dog", "dog"], PromptEmbedder(_AxisEncoder()))


def test_shares_favoured_options_and_examples_by_hand(hand_case):
    system, images = hand_case
    evidence = {(e.class_name, e.group): e for e in rule_evidence(system, images, examples=4)}
    cat_color = evidence["cat", "color"]
    assert (cat_color.share, cat_color.favoured_option, cat_color.disagrees) == (pytest.approx(2 / 3), 0, False)
    assert (cat_color.agreeing, cat_color.disagreeing, cat_color.answer_counts) == ([0, 1], [2], [2, 1])
    dog_color = evidence["dog", "color"]
    assert (dog_color.share, dog_color.favoured_option, dog_color.favoured_share, dog_color.disagrees) == (
        0.0,
        1,
        1.0,
        True,
    )
    assert (dog_color.agreeing, dog_color.disagreeing) == ([], [3, 4])
    assert evidence["dog", "size"].share == 1.0 and not evidence["dog", "size"].disagrees
    fox_size = evidence["fox", "size"]
    assert (fox_size.n_images, fox_size.share, fox_size.favoured_option, fox_size.disagrees) == (0, None, None, False)
    assert evidence["fox", "color"].rule_option is None
    assert [(e.class_name, e.group) for e in rule_evidence(system, images)][:2] == [("cat", "color"), ("cat", "size")]


def test_examples_are_capped(hand_case):
    system, images = hand_case
    evidence = {(e.class_name, e.group): e for e in rule_evidence(system, images, examples=1)}
    assert evidence["cat", "color"].agreeing == [0] and evidence["dog", "color"].disagreeing == [3]


def test_evidence_matches_the_loop_diagnostics_on_the_planted_world(broken_system: System):
    world = load_world("pokemon-like")
    encoder = SyntheticEncoder(world)
    dataset = dataset_of_world(world, "pokemon-like")
    images = ImageSet(encoder.encode_images(dataset.images).embeddings, dataset.labels, PromptEmbedder(encoder))
    system = broken_system
    evidence = rule_evidence(system, images)
    diagnostics = diagnose(system, images)
    for row in evidence:
        assert row.share == pytest.approx(diagnostics.rule_agreement[row.class_name][row.group])
    flagged = {(e.class_name, e.group, e.rule_option, e.favoured_option) for e in evidence if e.disagrees}
    assert flagged == {(c, g, r, f) for c, g, r, f, _ in diagnostics.disagreeing_rules}
    broken = (system.classes[0], system.groups[0].name)
    assert broken in {(c, g) for c, g, _, _ in flagged}
