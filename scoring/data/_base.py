"""The dataset seam: labelled images identified by content.

A loader turns a spec's remainder into a :class:`Dataset`. Contract:

* ``images[i]`` is labelled ``labels[i]``; order is deterministic for the same input.
* ``identity`` changes whenever the images, labels or crop could change (it seeds
  nothing by itself: splits depend on labels, seed and fractions only).
* Unreadable files are *not* detected here (that needs decoding); encoders report
  them and the evaluation skips and counts them.
* Bad specs raise :class:`~cotclip.systems.errors.DataError` with a one-line fix.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cotclip.scoring.encoders import ImageRef

__all__ = ["Dataset", "Crop"]

Crop = tuple[float, float, float, float]


@dataclass(frozen=True)
class Dataset:
    """Labelled images; ``source`` is the spec it came from."""

    source: str
    identity: str
    images: list[ImageRef]
    labels: list[str]
    notes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def class_names(self) -> list[str]:
        """Distinct labels in first-seen order."""
        return list(dict.fromkeys(self.labels))

    def counts(self) -> Counter[str]:
        """Images per label."""
        return Counter(self.labels)

    def subset(self, positions: list[int]) -> Dataset:
        """The images at ``positions`` (same identity suffix records the selection)."""
        return Dataset(
            source=self.source,
            identity=f"{self.identity}[{len(positions)}]",
            images=[self.images[i] for i in positions],
            labels=[self.labels[i] for i in positions],
            notes=self.notes,
        )
