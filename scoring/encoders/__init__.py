"""Encoders: frozen image/text models behind the :class:`Encoder` protocol."""

from cotclip.scoring.encoders._base import Encoder, ImageEncoding, ImageRef, l2_normalize
from cotclip.scoring.encoders.options import EncoderOptions, EncoderSettings, parse_encoder_options

__all__ = [
    "Encoder",
    "ImageEncoding",
    "ImageRef",
    "l2_normalize",
    "EncoderOptions",
    "EncoderSettings",
    "parse_encoder_options",
]
