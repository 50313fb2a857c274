"""``--model synthetic[:<world>]``: the frozen encoder of a planted-attribute world (a SIMULATION).

It obeys the :mod:`cotclip.scoring.encoders._base` contract like any real encoder:
images are :class:`ImageRef` s of the world's dataset (``synthetic:<world-hash>:<row>``),
texts are any strings (read as in :mod:`.text`). Refs of another dataset or another
world are an :class:`EncoderError`: this encoder has no pixels to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cotclip.scoring.data import Dataset
from cotclip.scoring.encoders import ImageEncoding, ImageRef
from cotclip.scoring.simulation.world import World, load_world
from cotclip.systems.errors import CotclipError, EncoderError

__all__ = ["SyntheticEncoder", "load_encoder"]


class SyntheticEncoder:
    """The encoder of one :class:`World`; pure and deterministic."""

    def __init__(self, world: World):
        self.world = world
        self._uid_prefix = f"synthetic:{world.hash}:"

    @property
    def identity(self) -> str:
        """``synthetic:<world-hash>`` (the hash covers the config and the geometry version)."""
        return f"synthetic:{self.world.hash}"

    @property
    def dim(self) -> int:
        """Embedding width (the world's ``dim``)."""
        return self.world.config.dim

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised ``float32 [len(texts), dim]`` in input order."""
        return self.world.text_model.embed(list(texts))

    def _row(self, ref: ImageRef) -> int:
        if not ref.uid.startswith(self._uid_prefix):
            raise EncoderError(
                f"image {ref.source!r} is not from synthetic world {self.world.name} ({self.world.hash}); "
                f"this simulated encoder embeds only that world's images (synthetic:{self.world.name}), "
                "use a real encoder for real images"
            )
        row = ref.row if ref.row is not None else int(ref.uid[len(self._uid_prefix) :])
        if not 0 <= row < self.world.n_images:
            raise EncoderError(
                f"image {ref.source!r} has row {row}, outside world {self.world.name}'s {self.world.n_images} images; "
                "load the dataset again"
            )
        return row

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Rows of the world's precomputed image embeddings, in input order."""
        rows = [self._row(ref) for ref in images]
        embeddings = self.world.image_embeddings[rows] if rows else np.zeros((0, self.dim), dtype=np.float32)
        return ImageEncoding(embeddings=embeddings, ok_positions=list(range(len(rows))))


def world_of_dataset(dataset: Dataset) -> World:
    """The world a ``synthetic:`` dataset was built from (EncoderError for other datasets)."""
    scheme, _, spec = dataset.source.partition(":")
    if scheme != "synthetic" or not dataset.identity.startswith("synthetic:"):
        raise EncoderError(
            f"--model synthetic needs a synthetic dataset, not {dataset.source!r}; "
            "use the data of a synthetic world (synthetic:<preset|world.yaml>) or a real encoder"
        )
    world = load_world(spec)
    if not dataset.identity.startswith(f"synthetic:{world.hash}"):
        raise EncoderError(f"world file {spec!r} changed since the dataset was loaded; load the data again")
    return world


def load_encoder(rest: str, *, dataset: Dataset | None = None, **_: Any) -> SyntheticEncoder:
    """``synthetic:<world>`` names the world; plain ``synthetic`` takes it from ``dataset``.

    ``synthetic:variant:<k>[:<world>]`` is encoder variant ``k`` of that world (:mod:`.variants`).
    """
    if rest.strip().startswith("variant:"):
        from cotclip.scoring.simulation.variants import VariantEncoder, parse_variant_spec

        index, world_spec = parse_variant_spec(rest.strip())
        base = load_encoder(world_spec, dataset=dataset)
        return VariantEncoder(base.world, index)
    if rest.strip():
        try:
            return SyntheticEncoder(load_world(rest.strip()))
        except EncoderError:
            raise
        except CotclipError as exc:
            raise EncoderError(exc.message) from None
    if dataset is None:
        raise EncoderError("--model synthetic needs to know its world; name it: --model synthetic:<preset|world.yaml>")
    return SyntheticEncoder(world_of_dataset(dataset))
