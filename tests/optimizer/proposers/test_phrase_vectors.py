"""Phrase vectors: MaxSim token matrices pooled to unit rows, so the staged proposer runs on a multi-vector encoder."""

from __future__ import annotations

import numpy as np
from helpers.multivector import HashMultiVectorEncoder, image_refs
from proposer_testing import scripted_client
from staged_answers import step_answers

from cotclip.optimizer.proposers import ProposalTask
from cotclip.optimizer.proposers.phrase_vectors import phrase_vectors
from cotclip.optimizer.proposers.staged import StagedProposer
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.scoring.simulation.world import load_world


def test_token_matrices_become_unit_rows_and_row_vectors_pass_through():
    encoder = HashMultiVectorEncoder(dim=16)
    embed = phrase_vectors(PromptEmbedder(encoder).embed)
    vectors = embed(["red", "deep red", "a long tail"])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(vectors[0], encoder.encode_texts(["red"]).item(0)[0], atol=1e-6)
    tokens = encoder.encode_texts(["deep red"]).item(0)
    pooled = tokens.mean(axis=0)
    np.testing.assert_allclose(vectors[1], pooled / np.linalg.norm(pooled), atol=1e-6)
    assert embed([]).shape == (0, 16)
    rows = np.eye(3, dtype=np.float32)
    np.testing.assert_array_equal(phrase_vectors(lambda texts: rows[: len(texts)])(["a", "b"]), rows[:2])


def test_the_staged_proposer_proposes_on_a_multi_vector_encoder(tmp_path):
    # Before phrase_vectors, sorting and merging phrases took np.asarray of MultiVectors and crashed.
    world = load_world("pokemon-like")
    notes = world.field_notes(omit_rate=0.2, error_rate=0.1, seed=0)
    encoder = HashMultiVectorEncoder()
    refs, labels = image_refs(world.classes, 4)
    train = ImageSet(encoder.encode_images(refs).embeddings, labels, PromptEmbedder(encoder))
    proposer = StagedProposer(scripted_client(step_answers(world, notes), tmp_path / "cache"), train=train)
    task = ProposalTask(classes=tuple(world.classes), notes=notes, max_groups=6, max_options=12, n_candidates=1)
    systems = proposer.propose(task)
    assert len(systems) == 1 and systems[0].groups
    assert set(systems[0].classes) == set(world.classes)
