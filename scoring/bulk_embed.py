"""``cotclip embed``: encode a whole dataset (and a system's prompts) into the embedding cache ahead of time.

Everything lands in the same content-addressed cache (:mod:`cotclip.scoring.cache`)
that ``evaluate``/``optimize`` read, so afterwards they find every image and text
there (cache misses 0). Two engines:

* ``local``: this process, in batches of ``batch_size`` images (today's path);
* ``ray``: Ray Data's ``map_batches`` over an actor pool of ``workers`` actors, each
  loading the dataset and the encoder once and writing its rows into the cache
  itself (:mod:`cotclip.scoring.ray_engine`); ``address`` joins a running cluster,
  none starts a local one that is shut down afterwards.

Only images whose row is not in the cache yet are encoded, and every row is written
(atomically) as soon as its batch is done: a run that dies part-way keeps what it
wrote, and running ``embed`` again encodes only what is missing. Texts (the system's
prompts and the class-name baseline's) are few and always encoded in this process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field

from cotclip.scoring.baselines import DEFAULT_NAME_TEMPLATES
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache, cache_key
from cotclip.scoring.data import Dataset
from cotclip.scoring.registry import load_dataset, load_encoder
from cotclip.systems.errors import InputError, MissingTextEmbeddingsError
from cotclip.systems.model import System

__all__ = ["EmbedJob", "EmbedReport", "WorkerUsage", "embed_into_cache", "missing_positions", "ENGINES"]

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EmbedJob:
    """What to encode and where: the specs every Ray actor loads again on its own."""

    data: str
    model: str
    cache_dir: str | None = None
    crop: tuple[float, float, float, float] | None = None
    image_column: str = "image"
    label_column: str = "label"

    def open(self) -> tuple[Dataset, CachedEncoder]:
        """The dataset and the cached encoder these specs name."""
        dataset = load_dataset(
            self.data, crop=self.crop, image_column=self.image_column, label_column=self.label_column
        )
        return dataset, CachedEncoder(load_encoder(self.model, dataset=dataset), EmbeddingCache(self.cache_dir))

    def to_dict(self) -> dict[str, object]:
        """All fields."""
        return asdict(self)


@dataclass(frozen=True)
class WorkerUsage:
    """What one Ray actor did: batches and images encoded, seconds busy in them, CPU seconds they took."""

    worker: str
    batches: int
    images: int
    busy_s: float
    cpu_s: float

    def to_dict(self) -> dict[str, object]:
        """All fields."""
        return asdict(self)


@dataclass(frozen=True)
class EmbedReport:
    """What one ``embed`` run did: images found cached, encoded, unreadable; texts; time."""

    engine: str
    workers: int
    images: int
    already_cached: int
    encoded: int
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    texts: int = 0
    texts_encoded: int = 0
    seconds: float = 0.0
    encode_s: float = 0.0
    workers_used: list[WorkerUsage] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        """Images encoded per second of this run's image phase (0 when none was encoded)."""
        return self.encoded / self.seconds if self.seconds > 0 and self.encoded else 0.0

    @property
    def steady_images_per_s(self) -> float:
        """Images per second of ``encode_s``: from the first batch begun to the last one stored.

        Leaves out start-up (Ray: joining the cluster, planning, actors loading the encoder).
        """
        done = self.encoded + len(self.unreadable)
        return done / self.encode_s if self.encode_s > 0 and done else 0.0

    def to_dict(self) -> dict[str, object]:
        """All fields plus ``images_per_s`` and ``steady_images_per_s``.

        Unreadable images are listed as ``{"source", "reason"}``.

        ``workers_used`` (Ray only) lists each actor's batches, images, busy and CPU seconds.
        """
        data = asdict(self)
        data["unreadable"] = [{"source": s, "reason": r} for s, r in self.unreadable]
        return {**data, "images_per_s": self.images_per_s, "steady_images_per_s": self.steady_images_per_s}


def missing_positions(dataset: Dataset, encoder: CachedEncoder) -> list[int]:
    """Dataset positions whose image row is not (readably) in the cache."""
    identity, dim, cache = encoder.identity, encoder.dim, encoder.cache
    missing = []
    for position, ref in enumerate(dataset.images):
        key = cache_key(identity, "image", uid=ref.uid, crop=list(ref.crop) if ref.crop else None)
        if cache.get(identity, key, dim) is None:
            missing.append(position)
    return missing


def _encode_texts(encoder: CachedEncoder, system: System, templates: Sequence[str] = DEFAULT_NAME_TEMPLATES) -> int:
    """Cache every text ``evaluate`` embeds for ``system``: its prompts, then the class-name baseline's.

    Returns how many texts were looked at. A fixed-vocabulary encoder that lacks the
    baseline's texts skips them (``evaluate`` then reports no baseline either).
    """
    prompts = system.prompt_texts()
    encoder.encode_texts(prompts)
    baseline = list(dict.fromkeys(template.format(name) for template in templates for name in system.classes))
    try:
        encoder.encode_texts(baseline)
    except MissingTextEmbeddingsError:
        return len(prompts)
    return len(prompts) + len(baseline)


def _progress(total: int, show: bool, what: str) -> Generator[Callable[[int], None], None, None]:
    """A generator yielding one ``advance(n)`` function; a rich bar on stderr when ``show``."""
    if not show:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)


def _encode_local(
    dataset: Dataset, encoder: CachedEncoder, positions: list[int], batch_size: int, advance: Callable[[int], None]
) -> list[tuple[str, str]]:
    unreadable: list[tuple[str, str]] = []
    for start in range(0, len(positions), batch_size):
        chunk = positions[start : start + batch_size]
        encoding = encoder.encode_images([dataset.images[p] for p in chunk])
        unreadable.extend((dataset.images[chunk[i]].source, reason) for i, reason in encoding.failures)
        advance(len(chunk))
    return unreadable


def embed_into_cache(
    job: EmbedJob,
    *,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 64,
    workers: int = 1,
    system: System | None = None,
    progress: bool = True,
) -> EmbedReport:
    """Encode every image of ``job.data`` (and ``system``'s texts) into the cache; see the module docstring."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r} is not an engine; use one of {', '.join(ENGINES)}")
    if batch_size < 1 or workers < 1:
        raise InputError(f"--batch-size and --workers must be >= 1 (got {batch_size}, {workers})")
    if address is not None and engine != "ray":
        raise InputError("--address names a Ray cluster; add --engine ray or drop --address")
    if engine == "ray":
        from cotclip.scoring.ray_engine import check_ray

        check_ray(address)  # before any image is looked at: no install or no cluster is one line, at once
    dataset, encoder = job.open()
    missing = missing_positions(dataset, encoder)
    show = progress and sys.stderr.isatty() and bool(missing)
    started = time.perf_counter()
    bar = _progress(len(missing), show, f"embedding {len(missing)} images ({engine})")
    advance = next(bar)
    try:
        used: list[WorkerUsage] = []
        if not missing:
            unreadable, encode_s = [], 0.0
        elif engine == "local":
            unreadable = _encode_local(dataset, encoder, missing, batch_size, advance)
            encode_s = time.perf_counter() - started
        else:
            from cotclip.scoring.ray_engine import encode_with_ray

            unreadable, encode_s, used = encode_with_ray(
                job, missing, batch_size=batch_size, workers=workers, address=address, advance=advance
            )
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    before = encoder.stats.encoder_calls
    texts = _encode_texts(encoder, system) if system is not None else 0
    return EmbedReport(
        engine,
        workers if engine == "ray" else 1,
        len(dataset),
        len(dataset) - len(missing),
        len(missing) - len(unreadable),
        unreadable,
        texts,
        encoder.stats.encoder_calls - before,
        seconds,
        encode_s,
        used,
    )
