"""Small JPEG thumbnails (base64 data URIs) of dataset images for the review page.

An image with pixels (``ImageRef.open_pixels``, crop already applied) is shrunk to
fit a square. An image without pixels (the synthetic world, precomputed embeddings)
gets a drawn placeholder that shows its id and says ``placeholder`` so nobody
mistakes it for the real picture.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from cotclip.scoring.encoders import ImageRef

__all__ = ["Thumbnail", "thumbnail", "placeholder_image"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    """A data URI plus whether it is a drawn placeholder rather than the image itself."""

    uri: str
    placeholder: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        """``{"uri", "placeholder", "source"}``."""
        return {"uri": self.uri, "placeholder": self.placeholder, "source": self.source}


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def placeholder_image(uid: str, size: int = 96, reason: str = "placeholder") -> Image.Image:
    """A flat tile coloured from ``uid`` with the id's last part and ``reason`` written on it."""
    digest = hashlib.sha256(uid.encode()).digest()
    background = tuple(80 + b % 120 for b in digest[:3])
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    label = uid.rsplit(":", 1)[-1][-10:]
    draw.rectangle((0, size - 28, size, size), fill=(0, 0, 0))
    draw.text((4, size - 26), f"id {label}", fill=(255, 255, 255))
    draw.text((4, size - 14), reason, fill=(255, 220, 120))
    return image


def thumbnail(ref: ImageRef, size: int = 96) -> Thumbnail:
    """The thumbnail of one image; unreadable files get a placeholder saying so."""
    if ref.open_pixels is None:
        return Thumbnail(uri=_data_uri(placeholder_image(ref.uid, size)), placeholder=True, source=ref.source)
    try:
        image = ref.open_pixels()
        if not isinstance(image, Image.Image):
            raise ValueError(f"its pixels came as a {type(image).__name__}, not a PIL image")
        image.thumbnail((size, size))
    except (OSError, ValueError) as exc:
        logger.warning("cannot read %s for a thumbnail: %s", ref.source, exc)
        return Thumbnail(
            uri=_data_uri(placeholder_image(ref.uid, size, "unreadable")), placeholder=True, source=ref.source
        )
    return Thumbnail(uri=_data_uri(image), placeholder=False, source=ref.source)
