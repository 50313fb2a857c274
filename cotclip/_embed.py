"""``embed``: encode a dataset (and a system's prompts) into the embedding cache that evaluate and optimize read.

Only images missing from the cache are encoded and each batch is stored as soon as it is
done, so an interrupted call keeps its work and the next one finishes the rest. The
``ray`` engine spreads the images over an actor pool (``pip install 'cotclip[ray]'``).
"""

from __future__ import annotations

import os

from cotclip._systems import SystemLike, load_system
from cotclip._types import need, need_crop, need_optional_path, need_text
from cotclip.scoring.bulk_embed import ENGINES, EmbedJob, EmbedReport, embed_into_cache
from cotclip.systems.errors import InputError

__all__ = ["EmbedReport", "embed", "ENGINES"]


def embed(
    data: str,
    model: str,
    *,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 64,
    workers: int = 2,
    system: SystemLike | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    crop: tuple[float, float, float, float] | None = None,
    image_column: str = "image",
    label_column: str = "label",
    progress: bool = False,
) -> EmbedReport:
    """Encode every image of ``data`` with ``model`` into the embedding cache and return what was done.

    ``data`` and ``model`` are spec strings (``--data``/``--model``; Ray actors load them
    again on their own, so a ``datasets.Dataset`` object is not accepted here).
    ``engine`` is ``local`` (this process, ``batch_size`` images per encoder call) or
    ``ray`` (``workers`` actors; ``address`` joins a running cluster, default a local
    one). ``system`` also caches that system's prompts and its class-name baseline texts.
    ``cache_dir`` defaults to the user cache dir; ``crop``, ``image_column`` and
    ``label_column`` are as for :func:`cotclip.load_dataset`; ``progress`` draws a bar
    on a terminal. Raises :class:`InputError` for a bad engine, size or address,
    :class:`DataError`/:class:`EncoderError` for unusable data or model.
    """
    need_text(data, "data", "synthetic:pokemon-like")
    need_text(model, "model", "hf:openai/clip-vit-base-patch32")
    need(engine, "engine", str, f"one of {', '.join(ENGINES)}")
    if address is not None:
        need(address, "address", str, "host:port or auto")
    for name, value in (("batch_size", batch_size), ("workers", workers)):
        need(value, name, int, "an int >= 1")
    need(image_column, "image_column", str, "a column name")
    need(label_column, "label_column", str, "a column name")
    if engine not in ENGINES:  # before the system is read or anything is loaded
        raise InputError(f"--engine {engine!r} is not an engine; use one of {', '.join(ENGINES)}")
    loaded = load_system(system) if system is not None else None
    job = EmbedJob(data, model, need_optional_path(cache_dir, "cache_dir"), need_crop(crop), image_column, label_column)
    return embed_into_cache(
        job,
        engine=engine,
        address=address,
        batch_size=batch_size,
        workers=workers,
        system=loaded,
        progress=need(progress, "progress", bool, "True or False"),
    )
