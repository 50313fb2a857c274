"""``--data synthetic:<preset|world.yaml>``: the labelled images of a planted-attribute world.

Images carry no pixels: each :class:`ImageRef` is ``synthetic:<world-hash>:<row>`` with
``row`` set, and only the synthetic encoder of the same world can embed it. Splits and
the embedding cache treat these refs like any others.
"""

from __future__ import annotations

from typing import Any

from cotclip.scoring.data import Crop, Dataset
from cotclip.scoring.encoders import ImageRef
from cotclip.scoring.simulation.world import World, load_world
from cotclip.systems.errors import DataError

__all__ = ["load_dataset", "dataset_of_world", "world_image_refs"]


def dataset_of_world(world: World, spec: str) -> Dataset:
    """The dataset of ``world``; ``spec`` is what ``synthetic:<spec>`` re-loads it from."""
    images = [
        ImageRef(uid=world.image_uid(row), source=f"synthetic:{spec}#{row}", row=row) for row in range(world.n_images)
    ]
    return Dataset(
        source=f"synthetic:{spec}", identity=f"synthetic:{world.hash}", images=images, labels=list(world.labels)
    )


def load_dataset(rest: str, *, crop: Crop | None = None, **_: Any) -> Dataset:
    """The dataset for ``synthetic:<rest>``; column options do not apply and are ignored, a crop is refused."""
    spec = rest.strip()
    if crop is not None:
        raise DataError(f"synthetic:{spec} images have no pixels to crop; drop --crop for synthetic data")
    return dataset_of_world(load_world(spec), spec)


def world_image_refs(world: World, specs: list[str]) -> list[ImageRef]:
    """Refs of the world's images named by row: ``17``, ``#17`` or ``synthetic:<world>#17`` (what ``source`` says).

    A synthetic world has no image files; this is how ``cotclip predict`` addresses its images.
    """
    refs = []
    for spec in specs:
        text = str(spec).rpartition("#")[2] if "#" in str(spec) else str(spec)
        try:
            row = int(text)
        except ValueError:
            row = -1
        if not 0 <= row < world.n_images:
            raise DataError(
                f"synthetic world {world.name} has no image files; name its images by row, "
                f"0..{world.n_images - 1} (e.g. 0 17 or synthetic:{world.name}#17), not {spec!r}"
            )
        refs.append(ImageRef(uid=world.image_uid(row), source=f"synthetic:{world.name}#{row}", row=row))
    return refs
