"""The synthetic encoder and dataset behave like any encoder and dataset of the registry."""

from __future__ import annotations

import numpy as np
import pytest

from cotclip.scoring.encoders import Encoder, ImageRef
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.scoring.splits import split_dataset
from cotclip.systems.errors import DataError, EncoderError


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("synthetic:pokemon-like")


def test_dataset_refs_are_row_addressed_content_ids(dataset, pokemon_world):
    assert len(dataset) == 144 and dataset.identity == f"synthetic:{pokemon_world.hash}"
    assert dataset.images[5] == ImageRef(
        uid=f"synthetic:{pokemon_world.hash}:5", source="synthetic:pokemon-like#5", row=5
    )
    assert dataset.labels == pokemon_world.labels
    assert dataset.class_names == pokemon_world.classes
    splits = split_dataset(dataset.labels, seed=0)
    assert sorted(splits.train + splits.val + splits.test) == list(range(144))


def test_plain_synthetic_takes_its_world_from_the_dataset(dataset, pokemon_world):
    encoder = load_encoder("synthetic", dataset=dataset, device="cpu", batch_size=8)
    named = load_encoder("synthetic:pokemon-like")
    assert isinstance(encoder, Encoder)
    assert encoder.identity == named.identity == f"synthetic:{pokemon_world.hash}"
    assert encoder.dim == 128


def test_images_come_back_in_input_order_normalised(dataset, pokemon_world):
    encoder = load_encoder("synthetic", dataset=dataset)
    refs = [dataset.images[i] for i in (7, 0, 143)]
    result = encoder.encode_images(refs)
    assert result.ok_positions == [0, 1, 2] and result.failures == []
    assert result.embeddings.dtype == np.float32 and result.embeddings.shape == (3, 128)
    assert np.array_equal(result.embeddings, pokemon_world.image_embeddings[[7, 0, 143]])
    without_row = ImageRef(uid=dataset.images[7].uid, source="x")
    assert np.array_equal(encoder.encode_images([without_row]).embeddings[0], result.embeddings[0])
    assert encoder.encode_images([]).embeddings.shape == (0, 128)


def test_texts_are_float32_unit_rows_in_input_order():
    encoder = load_encoder("synthetic:pokemon-like")
    texts = ["It looks like a dog.", "zzz", "It looks like a dog."]
    embedded = encoder.encode_texts(texts)
    assert embedded.dtype == np.float32 and embedded.shape == (3, 128)
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(embedded[0], embedded[2]) and not np.array_equal(embedded[0], embedded[1])
    assert np.array_equal(encoder.encode_texts(texts[1:2])[0], embedded[1])
    assert encoder.encode_texts([]).shape == (0, 128)


def test_refs_of_other_data_are_refused(dataset):
    encoder = load_encoder("synthetic:large")
    with pytest.raises(EncoderError, match="not from synthetic world large"):
        encoder.encode_images(dataset.images[:1])
    with pytest.raises(EncoderError, match="outside world pokemon-like's 144 images"):
        load_encoder("synthetic", dataset=dataset).encode_images(
            [ImageRef(uid=dataset.images[0].uid, source="x", row=999)]
        )


def test_plain_synthetic_without_a_synthetic_dataset_says_how_to_fix_it(dataset):
    with pytest.raises(EncoderError, match="name it: --model synthetic:<preset"):
        load_encoder("synthetic")
    foreign = type(dataset)(source="some/folder", identity="folder:abc", images=[], labels=[])
    with pytest.raises(EncoderError, match="needs a synthetic dataset"):
        load_encoder("synthetic", dataset=foreign)
    with pytest.raises(EncoderError, match="unknown synthetic world 'nope'"):
        load_encoder("synthetic:nope")
    with pytest.raises(DataError, match="unknown synthetic world 'nope'"):
        load_dataset("synthetic:nope")
    with pytest.raises(DataError, match="no pixels to crop; drop --crop"):
        load_dataset("synthetic:pokemon-like", crop=(0.1, 0.1, 0.9, 0.9))


def test_a_changed_world_file_is_noticed(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("classes: 3\nimages_per_class: 5\ngroups: [{name: color, values: 3, visibility: 1.0}]\n")
    data = load_dataset(f"synthetic:{path}")
    path.write_text("seed: 1\nclasses: 3\nimages_per_class: 5\ngroups: [{name: color, values: 3, visibility: 1.0}]\n")
    with pytest.raises(EncoderError, match="changed since the dataset was loaded"):
        load_encoder("synthetic", dataset=data)


def test_the_embedding_cache_and_splits_treat_synthetic_refs_like_any_others(tmp_path, dataset, pokemon_world):
    from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
    from cotclip.scoring.embedding import embed_dataset
    from cotclip.scoring.splits import select

    positions = select(split_dataset(dataset.labels, seed=0), "test")
    first = CachedEncoder(load_encoder("synthetic", dataset=dataset), EmbeddingCache(tmp_path))
    embedded = embed_dataset(dataset, first, positions=positions, progress=False)
    assert np.array_equal(embedded.embeddings, pokemon_world.image_embeddings[positions])
    assert embedded.labels == [pokemon_world.labels[i] for i in positions]
    again = CachedEncoder(load_encoder("synthetic:pokemon-like"), EmbeddingCache(tmp_path))
    assert np.array_equal(
        embed_dataset(dataset, again, positions=positions, progress=False).embeddings, embedded.embeddings
    )
    assert again.stats.encoder_calls == 0 and again.stats.hits == len(positions)
