"""An encoder wrapper that counts the texts it is asked to embed (for "no encoding per trial" checks)."""

from __future__ import annotations


class CountingEncoder:
    """Wraps an encoder and counts the texts it is asked to embed in ``texts``."""

    def __init__(self, inner):
        self.inner, self.texts = inner, 0
        self.identity, self.dim = inner.identity, inner.dim

    def encode_texts(self, texts):
        """Count, then forward."""
        self.texts += len(texts)
        return self.inner.encode_texts(texts)

    def encode_images(self, images):
        """Forward (images are not counted)."""
        return self.inner.encode_images(images)
