"""One contract suite for every Encoder implementation (see scoring/encoders/_base.py).

To add an encoder, add ONE entry to ``ENCODER_CASES``: a name mapped to a factory
``factory(request) -> EncoderCase`` or to a ``"module:function"`` string naming one
(``request`` is the pytest request, for ``request.getfixturevalue(...)``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data.local import file_ref
from cotclip.scoring.encoders import Encoder, ImageRef
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.systems.errors import EncoderError


@dataclass
class EncoderCase:
    """An encoder with inputs it must handle; ``unreadable``/``foreign`` are optional probes."""

    encoder: Encoder
    images: list[ImageRef]
    texts: list[str]
    unreadable: ImageRef | None = None
    foreign: ImageRef | None = None
    notes: dict[str, str] = field(default_factory=dict)


def _image_refs(folder: Path) -> list[ImageRef]:
    return [file_ref(p, None) for p in sorted(folder.rglob("*.png"))]


def _broken_png(tmp_path: Path) -> ImageRef:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    return file_ref(broken, None)


def hf_case(request: pytest.FixtureRequest) -> EncoderCase:
    """The tiny random CLIP loaded as users load models: ``hf:<dir>``."""
    tmp_path = request.getfixturevalue("tmp_path")
    encoder = request.getfixturevalue("tiny_clip_encoder")
    folder = request.getfixturevalue("image_folder")
    return EncoderCase(
        encoder, _image_refs(folder), ["a photo of a cat", "a dog", "ünïcødé ✓"], unreadable=_broken_png(tmp_path)
    )


def siglip_case(request: pytest.FixtureRequest) -> EncoderCase:
    """A tiny random SigLIP through ``hf:<dir>`` (max-length padding, its own image processor)."""
    case = hf_case(request)
    return EncoderCase(
        load_encoder(f"hf:{request.getfixturevalue('tiny_siglip_dir')}"),
        case.images,
        case.texts,
        unreadable=case.unreadable,
    )


def jina_v4_case(request: pytest.FixtureRequest) -> EncoderCase:
    """jina-embeddings-v4's API (the tiny stand-in's remote code) through ``hf:`` with its default options."""
    from helpers.tiny_jina import build_tiny_jina

    case = hf_case(request)
    folder = build_tiny_jina(request.getfixturevalue("tmp_path") / "v4", "jina-embeddings-v4")
    return EncoderCase(
        load_encoder(f"hf:{folder}", trust_remote_code=True), case.images, case.texts, unreadable=case.unreadable
    )


def cached_hf_case(request: pytest.FixtureRequest) -> EncoderCase:
    """The tiny CLIP behind the on-disk embedding cache."""
    case = hf_case(request)
    cache = EmbeddingCache(request.getfixturevalue("tmp_path") / "cache")
    return EncoderCase(CachedEncoder(case.encoder, cache), case.images, case.texts, unreadable=case.unreadable)


def precomputed_case(request: pytest.FixtureRequest) -> EncoderCase:
    """A precomputed .npz serving its own rows; refs from another file are foreign."""
    tmp_path = request.getfixturevalue("tmp_path")
    rng = np.random.default_rng(0)
    texts = ["a photo of a cat", "a dog", "ünïcødé ✓"]

    def write(name: str, rows: int) -> Path:
        path = tmp_path / name
        np.savez(
            path,
            image_embeddings=rng.normal(size=(rows, 8)),
            labels=np.array(["cat", "dog"] * (rows // 2)),
            texts=np.array(texts),
            text_embeddings=rng.normal(size=(len(texts), 8)),
        )
        return path

    mine, other = write("mine.npz", 4), write("other.npz", 2)
    images = load_dataset(f"precomputed:{mine}").images
    return EncoderCase(
        load_encoder(f"precomputed:{mine}"), images, texts, foreign=load_dataset(f"precomputed:{other}").images[0]
    )


def synthetic_case(request: pytest.FixtureRequest) -> EncoderCase:
    """The planted-attribute world's encoder (a simulation) on its own images; another world's refs are foreign."""
    data = load_dataset("synthetic:pokemon-like")
    encoder = load_encoder("synthetic", dataset=data)
    texts = ["It looks like a dog.", "a photo of a cat", "ünïcødé ✓"]
    return EncoderCase(encoder, data.images[:6], texts, foreign=load_dataset("synthetic:large").images[0])


ENCODER_CASES: dict[str, Callable[[pytest.FixtureRequest], EncoderCase] | str] = {
    "synthetic": synthetic_case,
    "hf": hf_case,
    "hf-siglip": siglip_case,
    "hf-jina-v4": jina_v4_case,
    "cached-hf": cached_hf_case,
    "precomputed": precomputed_case,
}


@pytest.fixture(params=sorted(ENCODER_CASES))
def case(request: pytest.FixtureRequest) -> EncoderCase:
    factory = ENCODER_CASES[request.param]
    if isinstance(factory, str):
        module, _sep, name = factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
    return factory(request)


def _unit_rows(matrix: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5))


def test_is_an_encoder_with_identity_and_dim(case: EncoderCase) -> None:
    assert isinstance(case.encoder, Encoder)
    assert isinstance(case.encoder.identity, str) and case.encoder.identity
    assert isinstance(case.encoder.dim, int) and case.encoder.dim > 0


def test_texts_are_float32_unit_rows_in_input_order(case: EncoderCase) -> None:
    rows = case.encoder.encode_texts(case.texts)
    assert rows.dtype == np.float32 and rows.shape == (len(case.texts), case.encoder.dim)
    assert _unit_rows(rows)
    reversed_rows = case.encoder.encode_texts(case.texts[::-1])
    np.testing.assert_allclose(reversed_rows[::-1], rows, atol=1e-5)
    assert not np.allclose(rows[0], rows[1])


def test_empty_text_list_gives_zero_rows(case: EncoderCase) -> None:
    assert case.encoder.encode_texts([]).shape == (0, case.encoder.dim)


def test_images_are_float32_unit_rows_and_batching_does_not_matter(case: EncoderCase) -> None:
    encoding = case.encoder.encode_images(case.images)
    assert encoding.ok_positions == list(range(len(case.images))) and encoding.failures == []
    assert encoding.embeddings.dtype == np.float32
    assert encoding.embeddings.shape == (len(case.images), case.encoder.dim)
    assert _unit_rows(encoding.embeddings)
    one_by_one = np.concatenate([case.encoder.encode_images([ref]).embeddings for ref in case.images])
    np.testing.assert_allclose(one_by_one, encoding.embeddings, atol=1e-5)
    assert not np.allclose(encoding.embeddings[0], encoding.embeddings[-1])


def test_encoding_is_pure(case: EncoderCase) -> None:
    first = case.encoder.encode_images(case.images[:2]).embeddings
    np.testing.assert_array_equal(case.encoder.encode_images(case.images[:2]).embeddings, first)
    np.testing.assert_array_equal(case.encoder.encode_texts(case.texts), case.encoder.encode_texts(case.texts))


def test_unreadable_image_is_a_failure_not_an_exception(case: EncoderCase) -> None:
    if case.unreadable is None:
        pytest.skip("this encoder has no pixels to fail on")
    refs = [case.images[0], case.unreadable, case.images[1]]
    encoding = case.encoder.encode_images(refs)
    assert encoding.ok_positions == [0, 2]
    assert [position for position, _reason in encoding.failures] == [1]
    assert encoding.failures[0][1]
    assert encoding.embeddings.shape == (2, case.encoder.dim)


def test_foreign_refs_are_refused(case: EncoderCase) -> None:
    if case.foreign is None:
        pytest.skip("this encoder accepts any image with pixels")
    with pytest.raises(EncoderError, match="not from"):
        case.encoder.encode_images([case.foreign])
