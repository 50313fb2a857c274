"""A content-addressed, on-disk embedding cache and the encoder wrapper that uses it.

Layout: ``<directory>/v1/<sha256(identity)[:16]>/<key[:2]>/<key>.npy``, one float32
row per file, where ``key = sha256(json({"encoder", "kind", ...}))`` names the encoder
identity, the kind (``image``/``text``) and either the image uid plus crop or the text.
Each identity folder also holds ``identity.txt`` for people looking at the folder.

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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from cotclip.scoring.encoders._base import ImageEncoding, ImageRef
from cotclip.systems.errors import CacheError

__all__ = ["EmbeddingCache", "CachedEncoder", "CacheStats", "default_cache_dir", "cache_key"]

logger = logging.getLogger(__name__)
_LAYOUT = "v1"


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


class EmbeddingCache:
    """Rows keyed by :func:`cache_key`, on disk under ``directory`` and in memory."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the embedding cache folder {self.directory} ({exc.strerror}); pass --cache-dir with a writable folder") from None
        self._memory: dict[str, np.ndarray] = {}

    def _identity_dir(self, identity: str) -> Path:
        return self.directory / _LAYOUT / hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]

    def _path(self, identity: str, key: str) -> Path:
        return self._identity_dir(identity) / key[:2] / f"{key}.npy"

    def get(self, identity: str, key: str, dim: int) -> np.ndarray | None:
        """The cached ``float32 [dim]`` row or None; unreadable files are logged and treated as absent."""
        row = self._memory.get(key)
        if row is not None:
            return row
        path = self._path(identity, key)
        try:
            row = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError) as exc:
            logger.warning("ignoring corrupt cache file %s (%s); it will be rewritten", path, exc)
            return None
        if row.dtype != np.float32 or row.shape != (dim,) or not np.all(np.isfinite(row)):
            logger.warning("ignoring corrupt cache file %s (dtype %s, shape %s); it will be rewritten", path, row.dtype, row.shape)
            return None
        self._memory[key] = row
        return row

    def put(self, identity: str, key: str, row: np.ndarray) -> np.ndarray:
        """Store one row atomically (temporary file in the same folder, then ``os.replace``); return it."""
        row = np.ascontiguousarray(row, dtype=np.float32)
        path = self._path(identity, key)
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(parents=True, exist_ok=True)
                self._write_identity_note(identity)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
            try:
                with os.fdopen(handle, "wb") as stream:
                    np.save(stream, row, allow_pickle=False)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CacheError(f"cannot write to the embedding cache {self.directory} ({exc.strerror}); free space or pass --cache-dir") from None
        self._memory[key] = row
        return row

    def _write_identity_note(self, identity: str) -> None:
        note = self._identity_dir(identity) / "identity.txt"
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
            rows = self.encoder.encode_texts([first_text[key] for key in missing])
            self._calls += len(missing)
            for key, row in zip(missing, rows):
                found[key] = self.cache.put(self.identity, key, row)
        return np.stack([found[key] for key in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Cached rows for known images; unseen ones encoded once; failures passed through."""
        keys = [_image_key(self.identity, ref) for ref in images]
        found, missing = self._lookup([key for key in keys if key not in self._failed])
        if missing:
            first_ref = {key: ref for key, ref in zip(keys, images)}
            encoding = self.encoder.encode_images([first_ref[key] for key in missing])
            self._calls += len(missing)
            for position, row in zip(encoding.ok_positions, encoding.embeddings):
                found[missing[position]] = self.cache.put(self.identity, missing[position], row)
            for position, reason in encoding.failures:
                self._failed[missing[position]] = reason
        ok = [i for i, key in enumerate(keys) if key in found]
        failures = [(i, self._failed[key]) for i, key in enumerate(keys) if key not in found]
        rows = np.stack([found[keys[i]] for i in ok]) if ok else np.zeros((0, self.dim), dtype=np.float32)
        return ImageEncoding(embeddings=rows, ok_positions=ok, failures=failures)
