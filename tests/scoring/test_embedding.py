"""embed_dataset with the tiny CLIP: shapes, skipped images, cache reuse across runs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders import ImageEncoding, ImageRef
from cotclip.scoring.registry import load_dataset, load_encoder


class CountingSpy:
    """Forwards to an encoder and counts the inputs it receives."""

    def __init__(self, encoder) -> None:
        self.encoder, self.images, self.texts = encoder, 0, 0
        self.identity, self.dim = encoder.identity, encoder.dim

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.encoder.encode_texts(texts)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        self.images += len(images)
        return self.encoder.encode_images(images)


def test_embeds_selected_positions_with_labels(tiny_clip_dir: Path, image_folder: Path) -> None:
    dataset = load_dataset(str(image_folder))
    embedded = embed_dataset(dataset, load_encoder(f"hf:{tiny_clip_dir}"), positions=[5, 0, 3], progress=False)
    assert embedded.embeddings.shape == (3, 16) and embedded.embeddings.dtype == np.float32
    assert embedded.positions == [5, 0, 3] and embedded.labels == ["dog", "cat", "dog"]
    assert np.allclose(np.linalg.norm(embedded.embeddings, axis=1), 1.0, atol=1e-5)
    assert embedded.to_dict()["n"] == 3 and embedded.skipped == []


def test_corrupt_and_truncated_images_are_skipped_and_named(
    tiny_clip_dir: Path, image_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (image_folder / "cat" / "zz_corrupt.png").write_bytes(b"not an image at all")
    good = (image_folder / "dog" / "dog_0.png").read_bytes()
    (image_folder / "dog" / "zz_truncated.png").write_bytes(good[: len(good) // 2])
    dataset = load_dataset(str(image_folder))
    with caplog.at_level(logging.WARNING, logger="cotclip.scoring.embedding"):
        embedded = embed_dataset(dataset, load_encoder(f"hf:{tiny_clip_dir}"), progress=False)
    assert len(embedded.labels) == 6 and len(embedded.skipped) == 2
    assert {Path(source).name for source, _ in embedded.skipped} == {"zz_corrupt.png", "zz_truncated.png"}
    assert "skipped 2 unreadable image(s)" in caplog.text and "zz_corrupt.png" in caplog.text


def test_second_run_hits_the_cache_with_zero_encoder_calls(
    tiny_clip_dir: Path, image_folder: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(str(image_folder))
    first_spy = CountingSpy(load_encoder(f"hf:{tiny_clip_dir}"))
    first = CachedEncoder(first_spy, EmbeddingCache(tmp_path / "cache"))
    rows = embed_dataset(dataset, first, progress=False).embeddings
    first.encode_texts(["a cat", "a dog"])
    assert first_spy.images == 6 and first_spy.texts == 2 and first.stats.misses == 8

    second_spy = CountingSpy(load_encoder(f"hf:{tiny_clip_dir}"))
    second = CachedEncoder(second_spy, EmbeddingCache(tmp_path / "cache"))
    np.testing.assert_array_equal(embed_dataset(dataset, second, progress=False).embeddings, rows)
    second.encode_texts(["a cat", "a dog"])
    assert second_spy.images == 0 and second_spy.texts == 0
    assert second.stats.to_dict() == {"hits": 8, "misses": 0, "encoder_calls": 0}


def test_crop_changes_embedding_and_cache_key(tiny_clip_dir: Path, image_folder: Path, tmp_path: Path) -> None:
    spy = CountingSpy(load_encoder(f"hf:{tiny_clip_dir}"))
    cached = CachedEncoder(spy, EmbeddingCache(tmp_path / "cache"))
    plain = embed_dataset(load_dataset(str(image_folder)), cached, progress=False).embeddings
    cropped = embed_dataset(
        load_dataset(str(image_folder), crop=(0.1, 0.1, 0.6, 0.9)), cached, progress=False
    ).embeddings
    assert spy.images == 12 and not np.allclose(plain, cropped, atol=1e-4)


def test_progress_bars_on_a_terminal_do_not_change_results(
    tiny_clip_dir: Path, image_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from cotclip.scoring import embedding
    from cotclip.scoring.encoders import hf

    dataset = load_dataset(str(image_folder))
    quiet = embed_dataset(dataset, load_encoder(f"hf:{tiny_clip_dir}"), progress=False).embeddings
    monkeypatch.setattr(embedding, "CHUNK_SIZE", 4)
    monkeypatch.setattr(hf, "LONG_JOB", 2)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    encoder = load_encoder(f"hf:{tiny_clip_dir}", batch_size=2)
    np.testing.assert_allclose(embed_dataset(dataset, encoder, progress=True).embeddings, quiet, atol=1e-5)
    np.testing.assert_allclose(
        encoder.encode_texts(["a", "b", "c"]),
        load_encoder(f"hf:{tiny_clip_dir}").encode_texts(["a", "b", "c"]),
        atol=1e-5,
    )
    err = capsys.readouterr().err
    assert "embedding 6 images" in err and "encoding 4 images" in err


class _Declares:
    """An encoder whose declared ``similarity`` disagrees with what ``encode_images`` returns."""

    identity, dim = "fake:mismatch", 4

    def __init__(self, similarity: str, multi: bool) -> None:
        self.similarity, self.multi = similarity, multi

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.eye(len(texts), self.dim, dtype=np.float32)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        from cotclip.scoring.similarity import MultiVectors

        rows = np.eye(len(images), self.dim, dtype=np.float32)
        embeddings = MultiVectors.from_list([row[None, :] for row in rows], self.dim) if self.multi else rows
        return ImageEncoding(embeddings=embeddings, ok_positions=list(range(len(images))))


@pytest.mark.parametrize(("similarity", "multi"), [("maxsim", False), ("cosine", True)])
def test_an_encoder_returning_the_other_kind_of_embedding_is_one_line(
    image_folder: Path, similarity: str, multi: bool
) -> None:
    from cotclip.systems.errors import EncoderError

    with pytest.raises(EncoderError, match=f"declares {similarity} similarity.*matching --similarity"):
        embed_dataset(load_dataset(str(image_folder)), _Declares(similarity, multi), progress=False)


@pytest.mark.parametrize("similarity", ["maxsim", "cosine"])
def test_an_encoder_returning_its_declared_kind_is_joined(image_folder: Path, similarity: str) -> None:
    from cotclip.scoring.similarity import MultiVectors

    embedded = embed_dataset(load_dataset(str(image_folder)), _Declares(similarity, similarity == "maxsim"))
    assert isinstance(embedded.embeddings, MultiVectors) == (similarity == "maxsim")
    assert embedded.embeddings.shape == (len(embedded.labels), 4)
