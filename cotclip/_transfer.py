"""``transfer``: a run's best system, first proposal and class-name baseline scored on encoders it was not optimized on.

Every encoder sees the same test split the run made (its ``run.yaml``'s data, classes,
seed and fractions), embedded through the embedding cache; the run dir is only read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cotclip._types import need, need_optional_path, need_path, need_texts
from cotclip.optimizer.loop.transfer import TransferTable, transfer_run
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.systems.errors import InputError

__all__ = ["TransferTable", "transfer"]


def transfer(
    run: str | os.PathLike[str],
    models: Sequence[str],
    *,
    data: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    encoder: EncoderSettings | None = None,
) -> TransferTable:
    """Score the run's best version, first proposal and class-name baseline on each of ``models``, test split.

    ``run`` is a run dir made by :func:`cotclip.optimize`; the table's first row is the
    encoder the run was optimized on (with the run's own encoder settings), then one row per
    spec in ``models`` (e.g. ``hf:<dir>``, ``synthetic:variant:1``), each with 95% bootstrap
    intervals. ``encoder`` (see :func:`cotclip._data.encoder_settings`) applies to ``models``
    only; ``data`` replaces the run's data spec (another copy of the same data);
    ``cache_dir`` the run's embedding cache. Raises :class:`InputError` when ``models`` is
    empty and :class:`RunDirError` when ``run`` is not a run dir.
    """
    path = Path(need_path(run, "run"))
    specs = need_texts(models, "models")
    if not specs:
        raise InputError("pass at least one --model to transfer to, e.g. --model synthetic:variant:1")
    if data is not None:
        need(data, "data", str, "a dataset spec such as 'synthetic:pokemon-like'")
    settings = need(encoder or EncoderSettings(), "encoder", EncoderSettings, "EncoderSettings (see encoder_settings)")
    return transfer_run(path, specs, settings=settings, data=data, cache_dir=need_optional_path(cache_dir, "cache_dir"))
