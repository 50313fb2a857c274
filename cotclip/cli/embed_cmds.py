"""``cotclip embed``: encode a dataset (and a system's prompts) into the embedding cache, locally or on Ray."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from cotclip._embed import ENGINES, embed
from cotclip._systems import load_system
from cotclip.cli._app import app, console, emit_json
from cotclip.cli._options import (
    CacheDir,
    CropBox,
    DataSpec,
    ImageColumn,
    JsonFlag,
    LabelColumn,
    ModelSpec,
    parse_crop,
)

__all__ = ["embed_command"]

Engine = Annotated[
    str,
    typer.Option(
        "--engine", help=f"Where to encode: {' or '.join(ENGINES)} (Ray Data actor pool; pip install 'cotclip\\[ray]')."
    ),
]
Address = Annotated[
    str | None, typer.Option("--address", help="Ray cluster to join, host:port or auto (default: start a local one).")
]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Images per encoder call (and per Ray batch).")]
Workers = Annotated[int, typer.Option("--workers", help="Ray actors, one encoder each (--engine ray).")]
SystemOption = Annotated[
    str | None, typer.Option("--system", help="Also cache this system's prompts and its class-name baseline texts.")
]


def _quiet_ray() -> None:
    """Ray Data logs every execution at INFO; the command prints its own summary (``-v`` keeps Ray's lines)."""
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)


@app.command("embed")
def embed_command(
    data: DataSpec,
    model: ModelSpec,
    engine: Engine = "local",
    address: Address = None,
    batch_size: BatchSize = 64,
    workers: Workers = 2,
    system: SystemOption = None,
    cache_dir: CacheDir = None,
    crop: CropBox = None,
    image_column: ImageColumn = "image",
    label_column: LabelColumn = "label",
    as_json: JsonFlag = False,
) -> None:
    """Encode every image of --data (and --system's texts) into the embedding cache that evaluate/optimize read.

    Only images missing from the cache are encoded, and each batch is stored as soon as
    it is done: an interrupted run keeps its work and a rerun finishes the rest.
    """
    _quiet_ray()
    loaded = load_system(system) if system is not None else None
    report = embed(
        data,
        model,
        engine=engine,
        address=address,
        batch_size=batch_size,
        workers=workers,
        system=loaded,
        cache_dir=cache_dir,
        crop=parse_crop(crop),
        image_column=image_column,
        label_column=label_column,
        progress=not as_json,
    )
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(
        f"{report.images} images: {report.already_cached} already cached, {report.encoded} encoded "
        f"({report.engine}, {report.workers} worker(s), {report.images_per_s:.1f} images/s)"
    )
    if report.unreadable:
        console.print(
            f"[yellow]{len(report.unreadable)} unreadable image(s), e.g. {report.unreadable[0][0]} "
            f"({report.unreadable[0][1]})[/]"
        )
    if loaded is not None:
        console.print(f"{report.texts} text(s) of {loaded.name} cached ({report.texts_encoded} encoded)")
