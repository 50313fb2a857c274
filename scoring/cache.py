"""A content-addressed, on-disk embedding cache and the encoder wrapper that uses it.

Layout: ``<directory>/v1/<sha256(identity)[:16]>/<key[:2]>/<key>.row``, one row per
file, where ``key = sha256(json({"encoder", "kind", ...}))`` names the encoder
identity, the kind (``image``/``text``) and either the image uid plus crop or the text.
Each identity folder also holds ``identity.txt`` for people looking at the folder.
A ``.row`` file is ``b"CCR1"``, the width as little-endian uint32, the float32 values,
and a 16-byte BLAKE2b digest of key + everything before it. This reads about three
times faster than one ``.npy`` per row (``benchmarks/bench_cache.py``) and the digest
catches truncated, foreign and bit-rotten files.

Multi-vector embeddings (``--similarity maxsim``: a patch matrix per image, a token
matrix per prompt) are one file per input too: ``b"CCM1"``, the vector count and width as
little-endian uint32, the values as **float16**, and the same digest, so an image of ``p``
patches of width ``d`` costs ``2 p d + 28`` bytes (a 128-wide vector 256 bytes; 1,024
patches 256 KiB, half of float32). float16 keeps about three significant digits, below
what a bfloat16 model (jina-embeddings-v4 runs in bf16) resolves, and every caller sees the
rounded values, also on the call that computed them, so a result never depends on whether
the cache was warm. The encoder identity carries the similarity, so these files never mix
with single-vector rows.

Concurrency: every write goes to a temporary file in the target folder and is moved
into place with ``os.replace``, which is atomic; two processes writing the same key
write the same bytes, so readers only ever see a complete row. A file that does not
load as the expected row (truncated, foreign, wrong shape) is logged, ignored and
rewritten. An in-memory layer makes repeated look-ups within a process free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cotclip.scoring.encoders import ImageEncoding, ImageRef
from cotclip.scoring.similarity import MultiVectors
from cotclip.systems.errors import CacheError

__all__ = ["EmbeddingCache", "CachedEncoder", "CacheStats", "default_cache_dir", "cache_key"]

logger = logging.getLogger(__name__)
_LAYOUT = "v1"
_MAGIC = b"CCR1"
_MATRIX_MAGIC = b"CCM1"
_DIGEST_SIZE = 16


def default_cache_dir() -> Path:
    """``<user cache dir>/cotclip/embeddings`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("cotclip", appauthor=False)) / "embeddings"


def cache_key(identity: str, kind: str, **fields: object) -> str:
    """sha256 of the explicit JSON of the encoder identity, the kind and the input fields."""
    payload = json.dumps({"encoder": identity, "kind": kind, **fields}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _image_key(identity: str, ref: ImageRef) -> str:
    return cache_key(identity, "image", uid=ref.uid, crop=list(ref.crop) if ref.crop else None)


def _text_key(identity: str, text: str) -> str:
    return cache_key(identity, "text", text=text)


@dataclass(frozen=True)
class CacheStats:
    """Look-ups served from the cache (``hits``), not found (``misses``), inputs encoded."""

    hits: int = 0
    misses: int = 0
    encoder_calls: int = 0

    def to_dict(self) -> dict[str, int]:
        """``{"hits", "misses", "encoder_calls"}``."""
        return {"hits": self.hits, "misses": self.misses, "encoder_calls": self.encoder_calls}


def _digest(key: str, body: bytes) -> bytes:
    return hashlib.blake2b(key.encode("ascii") + body, digest_size=_DIGEST_SIZE).digest()


def _encode_row(key: str, row: np.ndarray) -> bytes:
    if row.ndim == 2:
        body = _MATRIX_MAGIC + struct.pack("<II", *row.shape) + row.astype("<f2").tobytes()
    else:
        body = _MAGIC + struct.pack("<I", row.shape[0]) + row.astype("<f4").tobytes()
    return body + _digest(key, body)


def _decode_matrix(key: str, data: bytes, dim: int) -> tuple[np.ndarray | None, str]:
    count, width = struct.unpack("<II", data[4:12]) if len(data) >= 12 else (0, 0)
    if width != dim or len(data) != 12 + 2 * count * dim + _DIGEST_SIZE or count < 1:
        return None, f"{len(data)} bytes, expected {dim}-wide vectors"
    body, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    if _digest(key, body) != digest:
        return None, "checksum mismatch"
    matrix = np.frombuffer(body, dtype="<f2", offset=12).astype(np.float32).reshape(count, dim)
    return (matrix, "") if np.all(np.isfinite(matrix)) else (None, "non-finite values")


def _decode_row(key: str, data: bytes, dim: int) -> tuple[np.ndarray | None, str]:
    if data[:4] == _MATRIX_MAGIC:
        return _decode_matrix(key, data, dim)
    if len(data) != 8 + 4 * dim + _DIGEST_SIZE or data[:4] != _MAGIC:
        return None, f"{len(data)} bytes, expected a {dim}-wide row"
    body, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    if struct.unpack("<I", body[4:8])[0] != dim:
        return None, "width does not match the encoder"
    if _digest(key, body) != digest:
        return None, "checksum mismatch"
    row = np.frombuffer(body, dtype="<f4", offset=8).astype(np.float32)
    if not np.all(np.isfinite(row)):
        return None, "non-finite values"
    return row, ""


class EmbeddingCache:
    """Rows keyed by :func:`cache_key`, on disk under ``directory`` and in memory."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the embedding cache folder {self.directory} ({exc.strerror}); pass --cache-dir with a "
                "writable folder"
            ) from None
        self._memory: dict[str, np.ndarray] = {}
        self._identity_dirs: dict[str, str] = {}

    def _identity_dir(self, identity: str) -> str:
        folder = self._identity_dirs.get(identity)
        if folder is None:
            name = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
            folder = self._identity_dirs[identity] = os.path.join(self.directory, _LAYOUT, name)
        return folder

    def _path(self, identity: str, key: str) -> str:
        return f"{self._identity_dir(identity)}{os.sep}{key[:2]}{os.sep}{key}.row"

    def get(self, identity: str, key: str, dim: int) -> np.ndarray | None:
        """The cached ``float32 [dim]`` row (``[count, dim]`` matrix for a multi-vector) or None.

        Unusable files are logged and treated as absent."""
        row = self._memory.get(key)
        if row is not None:
            return row
        path = self._path(identity, key)
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("ignoring unreadable cache file %s (%s); it will be rewritten", path, exc.strerror)
            return None
        row, problem = _decode_row(key, data, dim)
        if row is None:
            logger.warning("ignoring corrupt cache file %s (%s); it will be rewritten", path, problem)
            return None
        self._memory[key] = row
        return row

    def put(self, identity: str, key: str, row: np.ndarray) -> np.ndarray:
        """Store one row (or multi-vector matrix) atomically: temporary file in the same folder, then ``os.replace``.

        Returns what a later :meth:`get` will return (a matrix rounded to float16 and back).
        """
        row = np.ascontiguousarray(row, dtype=np.float32)
        if row.ndim == 2:
            row = row.astype(np.float16).astype(np.float32)
        path = Path(self._path(identity, key))
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                self._write_identity_note(identity)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".row")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(_encode_row(key, row))
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CacheError(
                f"cannot write to the embedding cache {self.directory} ({exc.strerror}); free space or pass --cache-dir"
            ) from None
        self._memory[key] = row
        return row

    def _write_identity_note(self, identity: str) -> None:
        note = Path(self._identity_dir(identity)) / "identity.txt"
        if not note.exists():
            handle, temporary = tempfile.mkstemp(dir=note.parent, prefix=".tmp-")
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(identity + "\n")
            os.replace(temporary, note)


class CachedEncoder:
    """An :class:`~cotclip.scoring.encoders._base.Encoder` that asks ``encoder`` only for unseen inputs.

    Each call looks up every distinct input once; the misses go to the inner encoder
    in one call and are stored. ``stats`` counts hits and misses per distinct input
    per call and ``encoder_calls`` = inputs actually sent to the inner encoder.
    Image failures (unreadable files) are remembered for the life of this object.
    """

    def __init__(self, encoder, cache: EmbeddingCache) -> None:
        self.encoder = encoder
        self.cache = cache
        self._hits = self._misses = self._calls = 0
        self._failed: dict[str, str] = {}

    @property
    def identity(self) -> str:
        """The inner encoder's identity."""
        return self.encoder.identity

    @property
    def dim(self) -> int:
        """The inner encoder's width."""
        return self.encoder.dim

    @property
    def similarity(self) -> str:
        """The inner encoder's similarity (``cosine`` unless it returns multi-vectors)."""
        return getattr(self.encoder, "similarity", "cosine")

    def _rows_of(self, embeddings) -> list[np.ndarray]:
        if isinstance(embeddings, MultiVectors):
            return [embeddings.item(i) for i in range(len(embeddings))]
        return list(embeddings)

    def _stack(self, rows: list[np.ndarray]):
        if self.similarity == "maxsim":
            return MultiVectors.from_list(rows, self.dim)
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters so far."""
        return CacheStats(hits=self._hits, misses=self._misses, encoder_calls=self._calls)

    def _lookup(self, keys: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
        found: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            row = self.cache.get(self.identity, key, self.dim)
            if row is None:
                missing.append(key)
            else:
                found[key] = row
        self._hits += len(found)
        self._misses += len(missing)
        return found, missing

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Cached rows for known texts; the rest encoded once and stored."""
        keys = [_text_key(self.identity, text) for text in texts]
        found, missing = self._lookup(keys)
        if missing:
            first_text = {key: text for key, text in zip(keys, texts)}
            rows = self._rows_of(self.encoder.encode_texts([first_text[key] for key in missing]))
            self._calls += len(missing)
            for key, row in zip(missing, rows):
                found[key] = self.cache.put(self.identity, key, row)
        return self._stack([found[key] for key in keys])

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Cached rows for known images; unseen ones encoded once; failures passed through."""
        keys = [_image_key(self.identity, ref) for ref in images]
        found, missing = self._lookup([key for key in keys if key not in self._failed])
        if missing:
            first_ref = {key: ref for key, ref in zip(keys, images)}
            encoding = self.encoder.encode_images([first_ref[key] for key in missing])
            self._calls += len(missing)
            for position, row in zip(encoding.ok_positions, self._rows_of(encoding.embeddings)):
                found[missing[position]] = self.cache.put(self.identity, missing[position], row)
            for position, reason in encoding.failures:
                self._failed[missing[position]] = reason
        ok = [i for i, key in enumerate(keys) if key in found]
        failures = [(i, self._failed[key]) for i, key in enumerate(keys) if key not in found]
        rows = self._stack([found[keys[i]] for i in ok])
        return ImageEncoding(embeddings=rows, ok_positions=ok, failures=failures)
