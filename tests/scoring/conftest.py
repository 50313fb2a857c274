"""Shared scoring fixtures: a tiny random CLIP on disk and a small image folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.tiny_clip import build_image_folder, build_tiny_clip


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP saved with save_pretrained; load it as ``hf:<dir>``. Do not modify it."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """``<tmp>/images/{cat,dog}/*.png``: 3 random 32x24 PNGs per class (yours to modify)."""
    return build_image_folder(tmp_path / "images")
