"""``precomputed:<file.npz>`` as a dataset: one image per row of ``image_embeddings``.

The file's ``labels`` array labels the rows; image uids are ``npz:<file-sha256>:<row>``,
so only the precomputed encoder built from the same file can embed them. There are no
pixels, hence no crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cotclip.scoring.data._base import Dataset
from cotclip.scoring.encoders import ImageRef
from cotclip.scoring.encoders.precomputed import read_precomputed
from cotclip.systems.errors import DataError

__all__ = ["load_dataset"]


def load_dataset(rest: str, *, crop: Sequence[float] | None = None, **_: Any) -> Dataset:
    """The images and labels of ``precomputed:<rest>``; unknown options are ignored."""
    if crop is not None:
        raise DataError("a crop cannot apply to precomputed embeddings; drop --crop or crop before computing them")
    contents = read_precomputed(rest, DataError)
    if contents.labels is None:
        raise DataError(
            f"{contents.path} has no `labels` array; save labels [N] next to image_embeddings to use it as data"
        )
    refs = [
        ImageRef(uid=contents.uid(row), source=f"{contents.path}#{row}", row=row) for row in range(len(contents.labels))
    ]
    return Dataset(
        source=str(contents.path),
        identity=f"precomputed:{contents.sha256[:32]}",
        images=refs,
        labels=list(contents.labels),
    )
