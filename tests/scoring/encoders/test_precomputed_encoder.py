"""precomputed:<file.npz> as encoder and dataset: lookups, refusals, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.systems.errors import DataError, EncoderError, MissingTextEmbeddingsError


def _write(path: Path, **overrides: object) -> Path:
    rng = np.random.default_rng(3)
    arrays = {
        "image_embeddings": rng.normal(size=(4, 5)).astype(np.float32),
        "labels": np.array(["cat", "dog", "cat", "dog"]),
        "texts": np.array(["a cat", "a dog"]),
        "text_embeddings": rng.normal(size=(2, 5)),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_dataset_and_encoder_share_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "emb.npz")
    dataset = load_dataset(f"precomputed:{path}")
    encoder = load_encoder(f"precomputed:{path}")
    assert dataset.labels == ["cat", "dog", "cat", "dog"] and len(dataset) == 4
    assert dataset.images[2].uid.startswith("npz:") and dataset.images[2].uid.endswith(":2")
    rows = encoder.encode_images(dataset.images).embeddings
    raw = np.load(path)["image_embeddings"]
    np.testing.assert_allclose(rows, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_missing_texts_are_listed(tmp_path: Path) -> None:
    encoder = load_encoder(f"precomputed:{_write(tmp_path / 'emb.npz')}")
    with pytest.raises(MissingTextEmbeddingsError) as raised:
        encoder.encode_texts(["a cat", "a bird", "a fish", "a bird"])
    assert raised.value.missing == ["a bird", "a fish"]
    assert "'a bird', 'a fish'" in str(raised.value) and "\n" not in str(raised.value)


def test_texts_match_exactly(tmp_path: Path) -> None:
    encoder = load_encoder(f"precomputed:{_write(tmp_path / 'emb.npz')}")
    with pytest.raises(MissingTextEmbeddingsError):
        encoder.encode_texts(["a cat "])


def test_file_without_texts_serves_images_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "emb.npz", texts=None, text_embeddings=None)
    encoder = load_encoder(f"precomputed:{path}")
    assert encoder.encode_images(load_dataset(f"precomputed:{path}").images).embeddings.shape == (4, 5)
    with pytest.raises(MissingTextEmbeddingsError):
        encoder.encode_texts(["a cat"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_embeddings": np.ones(5)}, "must be a 2-D float array"),
        ({"image_embeddings": np.ones((4, 5), dtype=np.int64)}, "must be a 2-D float array"),
        ({"image_embeddings": np.full((4, 5), np.nan)}, "NaN"),
        ({"labels": np.array(["cat"])}, "1 rows"),
        ({"text_embeddings": np.ones((2, 3))}, "expected \\(2, 5\\)"),
        ({"text_embeddings": None}, "saved together"),
        ({"texts": np.array(["a", "a"])}, "more than once"),
        ({"texts": np.array([1.5, 2.5])}, "save it as strings"),
        ({"image_embeddings": None}, "no `image_embeddings`"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, overrides: dict, message: str) -> None:
    path = _write(tmp_path / "bad.npz", **overrides)
    with pytest.raises(EncoderError, match=message) as raised:
        load_encoder(f"precomputed:{path}")
    assert "\n" not in str(raised.value)


def test_pickled_arrays_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = _write(tmp_path / "pickled.npz", labels=np.array([{"x": 1}] * 4, dtype=object))
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(f"precomputed:{path}")


def test_not_an_npz_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"definitely not a zip")
    with pytest.raises(EncoderError, match="not a readable .npz"):
        load_encoder(f"precomputed:{junk}")
    with pytest.raises(EncoderError, match="not found"):
        load_encoder(f"precomputed:{tmp_path / 'absent.npz'}")


def test_dataset_needs_labels_and_takes_no_crop(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no `labels`"):
        load_dataset(f"precomputed:{_write(tmp_path / 'nolabels.npz', labels=None)}")
    with pytest.raises(DataError, match="crop"):
        load_dataset(f"precomputed:{_write(tmp_path / 'emb.npz')}", crop=(0, 0, 0.5, 0.5))


def test_refs_with_pixels_are_refused(tmp_path: Path, image_folder: Path) -> None:
    encoder = load_encoder(f"precomputed:{_write(tmp_path / 'emb.npz')}")
    with pytest.raises(EncoderError, match="is not from"):
        encoder.encode_images(load_dataset(str(image_folder)).images[:1])
