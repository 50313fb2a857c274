"""The embedding cache: keys, hits, corrupt files, failures, and two processes at once."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cotclip.scoring.cache import CachedEncoder, CacheStats, EmbeddingCache, cache_key, default_cache_dir
from cotclip.scoring.encoders import ImageEncoding, ImageRef, l2_normalize
from cotclip.systems.errors import CacheError


class HashEncoder:
    """Deterministic toy encoder (rows from a hash of the input) that counts what it is sent."""

    identity = "toy-hash-encoder/v1"
    dim = 4

    def __init__(self) -> None:
        self.sent: list[str] = []

    @staticmethod
    def _row(token: str) -> np.ndarray:
        seed = int.from_bytes(token.encode()[:8].ljust(8, b"\0"), "little") + len(token)
        return np.random.default_rng(seed).normal(size=4)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.sent.extend(texts)
        return l2_normalize(np.array([self._row(t) for t in texts]).reshape(len(texts), 4))

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        self.sent.extend(ref.uid for ref in images)
        ok = [i for i, ref in enumerate(images) if not ref.uid.startswith("bad")]
        rows = l2_normalize(np.array([self._row(images[i].uid + str(images[i].crop)) for i in ok]).reshape(len(ok), 4))
        return ImageEncoding(
            rows, ok, [(i, "broken file") for i, ref in enumerate(images) if ref.uid.startswith("bad")]
        )


def test_second_run_is_served_from_disk_without_encoder_calls(tmp_path: Path) -> None:
    texts = ["a cat", "a dog", "a cat"]
    first = CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path))
    rows = first.encode_texts(texts)
    assert first.stats == CacheStats(hits=0, misses=2, encoder_calls=2)
    inner = HashEncoder()
    second = CachedEncoder(inner, EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(second.encode_texts(texts), rows)
    assert inner.sent == [] and second.stats.to_dict() == {"hits": 2, "misses": 0, "encoder_calls": 0}


def test_only_unseen_inputs_reach_the_encoder(tmp_path: Path) -> None:
    inner = HashEncoder()
    cached = CachedEncoder(inner, EmbeddingCache(tmp_path))
    cached.encode_texts(["a", "b"])
    cached.encode_texts(["b", "c", "c"])
    assert inner.sent == ["a", "b", "c"] and cached.stats.encoder_calls == 3


def test_crop_is_part_of_the_image_key(tmp_path: Path) -> None:
    cached = CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path))
    plain, cropped = ImageRef("sha256:1", "x.png"), ImageRef("sha256:1", "x.png", crop=(0, 0, 0.5, 0.5))
    rows = cached.encode_images([plain, cropped, plain]).embeddings
    assert cached.stats.encoder_calls == 2 and not np.allclose(rows[0], rows[1])
    np.testing.assert_array_equal(rows[0], rows[2])
    assert cache_key("e", "image", uid="u", crop=None) != cache_key("e", "image", uid="u", crop=[0, 0, 0.5, 0.5])
    assert cache_key("e", "text", text="u") != cache_key("f", "text", text="u")


def test_failures_pass_through_and_are_not_stored(tmp_path: Path) -> None:
    inner = HashEncoder()
    cached = CachedEncoder(inner, EmbeddingCache(tmp_path))
    refs = [ImageRef("sha256:1", "a.png"), ImageRef("bad:2", "b.png"), ImageRef("sha256:3", "c.png")]
    encoding = cached.encode_images(refs)
    assert encoding.ok_positions == [0, 2] and encoding.failures == [(1, "broken file")]
    again = cached.encode_images(refs)
    assert again.failures == [(1, "broken file")] and inner.sent.count("bad:2") == 1
    np.testing.assert_array_equal(again.embeddings, encoding.embeddings)


def test_corrupt_files_are_ignored_with_a_warning_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path)).encode_texts(["a cat", "a dog"])
    files = sorted(tmp_path.rglob("*.row"))
    files[0].write_bytes(files[0].read_bytes()[:-5])
    flipped = bytearray(files[1].read_bytes())
    flipped[12] ^= 0xFF
    files[1].write_bytes(bytes(flipped))
    inner = HashEncoder()
    with caplog.at_level(logging.WARNING, logger="cotclip.scoring.cache"):
        rows = CachedEncoder(inner, EmbeddingCache(tmp_path)).encode_texts(["a cat", "a dog"])
    assert sorted(inner.sent) == ["a cat", "a dog"]
    assert caplog.text.count("ignoring corrupt cache file") == 2
    assert f"ignoring corrupt cache file {files[1]} (checksum mismatch); it will be rewritten" in caplog.text
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    third = CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path))
    third.encode_texts(["a cat", "a dog"])
    assert third.stats.encoder_calls == 0


def test_a_row_file_under_another_key_is_rejected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("enc", "a" * 64, np.ones(4, dtype=np.float32) / 2)
    moved = tmp_path.rglob("a*.row").__next__()
    target = moved.parent.parent / "bb" / ("b" * 64 + ".row")
    target.parent.mkdir()
    target.write_bytes(moved.read_bytes())
    with caplog.at_level(logging.WARNING, logger="cotclip.scoring.cache"):
        assert EmbeddingCache(tmp_path).get("enc", "b" * 64, 4) is None
        assert EmbeddingCache(tmp_path).get("enc", "a" * 64, 8) is None
    assert "checksum mismatch" in caplog.text and "expected a 8-wide row" in caplog.text


def test_layout_is_sharded_with_no_leftover_temporaries(tmp_path: Path) -> None:
    CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path)).encode_texts([f"t{i}" for i in range(20)])
    files = list(tmp_path.rglob("*.row"))
    assert len(files) == 20 and not list(tmp_path.rglob(".tmp-*"))
    assert all(f.parent.name == f.stem[:2] for f in files)
    assert (files[0].parent.parent / "identity.txt").read_text().strip() == HashEncoder.identity


def test_default_directory_and_unusable_directory(tmp_path: Path) -> None:
    assert default_cache_dir().parts[-2:] == ("cotclip", "embeddings")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="--cache-dir"):
        EmbeddingCache(blocker / "sub")


def _hammer(directory: str, offset: int, queue: multiprocessing.Queue[list[str]]) -> None:
    inner = HashEncoder()
    cached = CachedEncoder(inner, EmbeddingCache(directory))
    for round_ in range(5):
        cached.encode_texts([f"shared-{i}" for i in range(40)] + [f"own-{offset}-{round_}-{i}" for i in range(10)])
    queue.put(inner.sent)


def test_two_processes_share_the_cache_safely(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(str(tmp_path), n, queue)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    sent = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len(list(tmp_path.rglob("*.row"))) == 40 + 2 * 5 * 10 and not list(tmp_path.rglob(".tmp-*"))
    assert all(len(s) == len(set(s)) for s in sent)
    inner = HashEncoder()
    reader = CachedEncoder(inner, EmbeddingCache(tmp_path))
    rows = reader.encode_texts([f"shared-{i}" for i in range(40)])
    assert inner.sent == []
    np.testing.assert_allclose(rows, HashEncoder().encode_texts([f"shared-{i}" for i in range(40)]), atol=0)


class OtherEncoder(HashEncoder):
    """Another model (another identity) whose rows differ for the very same inputs."""

    identity = "toy-hash-encoder/v2"

    @staticmethod
    def _row(token: str) -> np.ndarray:
        return -HashEncoder._row(token)


def test_two_encoders_sharing_one_cache_each_get_their_own_rows(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    texts, images = (
        ["a cat", "a dog"],
        [ImageRef("sha256:1", "a.png"), ImageRef("sha256:1", "a.png", crop=(0, 0, 0.5, 0.5))],
    )
    first = CachedEncoder(HashEncoder(), cache)
    first.encode_texts(texts), first.encode_images(images)
    fresh = CachedEncoder(OtherEncoder(), EmbeddingCache(tmp_path))  # another process: rows come from disk
    same = CachedEncoder(OtherEncoder(), cache)  # the same process: rows come from the memory layer too
    for second in (fresh, same):
        np.testing.assert_array_equal(second.encode_texts(texts), OtherEncoder().encode_texts(texts))
        np.testing.assert_array_equal(
            second.encode_images(images).embeddings, OtherEncoder().encode_images(images).embeddings
        )
    assert fresh.encoder.sent == [*texts, "sha256:1", "sha256:1"]
    # each identity's rows stay served to it: the first encoder still reads its own, without encoding
    inner = HashEncoder()
    again = CachedEncoder(inner, EmbeddingCache(tmp_path))
    np.testing.assert_array_equal(again.encode_texts(texts), HashEncoder().encode_texts(texts))
    assert inner.sent == []


def _rewrite(directory: Path, identity: str, key: str, row: np.ndarray) -> None:
    EmbeddingCache(directory).put(identity, key, row)


def test_a_write_that_breaks_off_leaves_the_previous_row_intact(tmp_path: Path) -> None:
    from helpers.faults import outcome_under_file_size_limit

    key = cache_key("enc", "text", text="a cat")
    old = l2_normalize(np.arange(1, 9, dtype=np.float32))
    EmbeddingCache(tmp_path).put("enc", key, old)
    (stored,) = tmp_path.rglob("*.row")
    before = stored.read_bytes()
    # the replacement row breaks off after 20 of its 56 bytes (as on a full disk)
    outcome = outcome_under_file_size_limit(20, lambda: _rewrite(tmp_path, "enc", key, -old))
    assert outcome == "CacheError"
    assert stored.read_bytes() == before and not list(tmp_path.rglob(".tmp-*"))
    np.testing.assert_array_equal(EmbeddingCache(tmp_path).get("enc", key, 8), old)


def test_keys_and_row_files_keep_the_documented_v1_format(tmp_path: Path) -> None:
    """Caches outlive releases: the key recipe, the folder layout and the row bytes must not drift."""
    import hashlib
    import struct

    text_payload = '{"encoder": "enc", "kind": "text", "text": "café"}'
    image_payload = '{"crop": [0, 0, 0.5, 0.5], "encoder": "enc", "kind": "image", "uid": "sha256:1"}'
    text_key = hashlib.sha256(text_payload.encode()).hexdigest()
    assert cache_key("enc", "text", text="café") == text_key
    assert (
        cache_key("enc", "image", uid="sha256:1", crop=[0, 0, 0.5, 0.5])
        == hashlib.sha256(image_payload.encode()).hexdigest()
    )
    inner = HashEncoder()
    inner.identity = "enc"
    cached = CachedEncoder(inner, EmbeddingCache(tmp_path))
    row = cached.encode_texts(["café"])[0]
    cached.encode_images([ImageRef("sha256:1", "a.png", crop=(0, 0, 0.5, 0.5))])
    folder = tmp_path / "v1" / hashlib.sha256(b"enc").hexdigest()[:16]
    text_file = folder / text_key[:2] / f"{text_key}.row"
    image_key = hashlib.sha256(image_payload.encode()).hexdigest()
    assert text_file.is_file() and (folder / image_key[:2] / f"{image_key}.row").is_file()
    body = b"CCR1" + struct.pack("<I", 4) + row.astype("<f4").tobytes()
    assert text_file.read_bytes() == body + hashlib.blake2b(text_key.encode() + body, digest_size=16).digest()
    assert (folder / "identity.txt").read_text(encoding="utf-8") == "enc\n"


def test_rows_are_float32_from_memory_disk_and_empty_inputs(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    stored = cache.put("enc", "a" * 64, np.array([0.6, 0.8], dtype=np.float64))
    assert stored.dtype == np.float32
    assert EmbeddingCache(tmp_path).get("enc", "a" * 64, 2).dtype == np.float32
    cached = CachedEncoder(HashEncoder(), cache)
    empty = cached.encode_texts([])
    assert empty.shape == (0, 4) and empty.dtype == np.float32
    failed = cached.encode_images([ImageRef("bad:1", "b.png")])
    assert failed.embeddings.shape == (0, 4) and failed.embeddings.dtype == np.float32 and failed.ok_positions == []


def test_the_memory_layer_serves_a_process_its_own_rows(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    cache.put("enc", "a" * 64, np.array([1.0, 0.0], dtype=np.float32))
    for path in tmp_path.rglob("*.row"):
        path.unlink()
    np.testing.assert_array_equal(cache.get("enc", "a" * 64, 2), [1.0, 0.0])  # no disk read needed
    assert EmbeddingCache(tmp_path).get("enc", "a" * 64, 2) is None
    cache.put("enc", "b" * 64, np.array([0.0, 1.0], dtype=np.float32))
    reader = EmbeddingCache(tmp_path)
    assert reader.get("enc", "b" * 64, 2) is not None  # read from disk once ...
    for path in tmp_path.rglob("*.row"):
        path.unlink()
    np.testing.assert_array_equal(reader.get("enc", "b" * 64, 2), [0.0, 1.0])  # ... then kept in memory


def test_non_finite_rows_on_disk_are_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    EmbeddingCache(tmp_path).put("enc", "a" * 64, np.array([np.nan, 1.0], dtype=np.float32))
    with caplog.at_level(logging.WARNING, logger="cotclip.scoring.cache"):
        assert EmbeddingCache(tmp_path).get("enc", "a" * 64, 2) is None
    assert "(non-finite values); it will be rewritten" in caplog.text


def test_stats_add_up_over_calls(tmp_path: Path) -> None:
    cached = CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path))
    cached.encode_images([ImageRef("sha256:1", "a.png"), ImageRef("sha256:2", "b.png")])
    cached.encode_images([ImageRef("sha256:2", "b.png"), ImageRef("sha256:3", "c.png")])
    cached.encode_texts(["a"])
    cached.encode_texts(["a", "b"])
    assert cached.stats == CacheStats(hits=2, misses=5, encoder_calls=5)


def test_unreadable_row_file_is_a_warning_not_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    CachedEncoder(HashEncoder(), EmbeddingCache(tmp_path)).encode_texts(["a cat"])
    (row,) = tmp_path.rglob("*.row")
    row.unlink()
    row.mkdir()  # reading it now fails with an OSError other than "not found"
    key = row.stem
    with caplog.at_level(logging.WARNING, logger="cotclip.scoring.cache"):
        assert EmbeddingCache(tmp_path).get(HashEncoder.identity, key, 4) is None
    assert f"ignoring unreadable cache file {row} (Is a directory); it will be rewritten" in caplog.text


def test_nested_default_and_unwritable_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    assert EmbeddingCache(tmp_path / "a" / "b" / "c").directory.is_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert EmbeddingCache().directory == tmp_path / "xdg" / "cotclip" / "embeddings"
    # temporaries go next to their target (same file system, so the rename is atomic), never to $TMPDIR
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmp"))
    cache = EmbeddingCache(tmp_path / "d")
    cache.put("enc", "a" * 64, np.ones(2, dtype=np.float32))
    blocked = EmbeddingCache(tmp_path / "e")
    (tmp_path / "e" / "v1").write_text("a file where the layout folder should be")
    with pytest.raises(
        CacheError, match=r"cannot write to the embedding cache .*e \(.*\); free space or pass --cache-dir"
    ):
        blocked.put("enc", "a" * 64, np.ones(2, dtype=np.float32))
