"""Encoders: frozen image/text models behind the :class:`Encoder` protocol."""

from cotclip.scoring.encoders._base import Encoder, ImageEncoding, ImageRef, l2_normalize

__all__ = ["Encoder", "ImageEncoding", "ImageRef", "l2_normalize"]
