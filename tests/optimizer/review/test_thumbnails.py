"""Thumbnails: real (cropped) pixels when there are any, labelled placeholders otherwise; a pixel run end to end."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from helpers.tiny_clip import build_image_folder, build_tiny_clip
from PIL import Image

from cotclip.optimizer.loop.config import RunConfig
from cotclip.optimizer.loop.runs import RunDir, VersionRecord, utc_now
from cotclip.optimizer.review.rundata import load_review_data
from cotclip.optimizer.review.session import ReviewSession, load_version
from cotclip.optimizer.review.thumbnails import thumbnail
from cotclip.scoring.data.local import file_ref
from cotclip.scoring.encoders import ImageRef
from cotclip.systems.model import System


def _decode(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_real_image_is_shrunk_after_the_crop(tmp_path: Path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (400, 200), (200, 30, 30)).save(path)
    full = thumbnail(file_ref(path, None), size=96)
    cropped = thumbnail(file_ref(path, (0.0, 0.0, 0.25, 1.0)), size=96)  # 100x200: taller than wide
    assert not full.placeholder and full.source == str(path)
    assert _decode(full.uri).size == (96, 48)
    assert _decode(cropped.uri).size == (48, 96)
    red, green, _ = _decode(full.uri).getpixel((10, 10))
    assert red > 150 and green < 80


def test_images_without_pixels_get_a_labelled_placeholder(tmp_path: Path):
    synthetic = thumbnail(ImageRef(uid="synthetic:abc:17", source="synthetic:pokemon-like#17", row=17))
    assert synthetic.placeholder and _decode(synthetic.uri).size == (96, 96)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    unreadable = thumbnail(file_ref(broken, None))
    assert unreadable.placeholder and unreadable.source == str(broken)
    assert _decode(unreadable.uri).tobytes() != _decode(synthetic.uri).tobytes()


def test_pixels_that_are_not_an_image_get_the_unreadable_placeholder():
    ref = ImageRef(uid="odd:1", source="odd#1", open_pixels=lambda: b"raw bytes")
    odd = thumbnail(ref)
    assert odd.placeholder and odd.source == "odd#1"


@pytest.fixture(scope="module")
def pixel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pixel_run")
    images = build_image_folder(root / "images", per_class=5)
    model = build_tiny_clip(root / "clip")
    config = RunConfig(
        name="pixels",
        runs_dir=str(root / "runs"),
        data=str(images),
        model=f"hf:{model}",
        cache_dir=str(root / "cache"),
        fractions=(0.6, 0.2, 0.2),
    )
    system = System.from_data(
        {
            "classes": ["cat", "dog"],
            "groups": [{"name": "color", "prompt": "a {} animal", "options": ["red", "blue"]}],
            "rules": {"cat": {"color": 0}, "dog": {"color": 1}},
        }
    )
    run = RunDir.create(config.run_dir)
    run.write_text("run.yaml", config.to_yaml())
    run.save_version(VersionRecord(1, system, 0.5, 2, "proposal", None, 0, utc_now(), utc_now()))
    run.release_lock()
    return config.run_dir


@pytest.mark.slow
def test_review_of_a_pixel_run_shows_real_thumbnails(pixel_run: Path):
    record = load_version(pixel_run)
    session = ReviewSession(pixel_run, record, load_review_data(pixel_run, record.system))
    state = session.state()
    assert state["train_n"] == 6 and state["val_n"] == 2
    shown = [p for e in state["evidence"] for p in e["agreeing"] + e["disagreeing"]]
    thumbs = session.thumbnails(shown)
    assert thumbs and not any(t["placeholder"] for t in thumbs.values())
    assert all(t["source"].endswith(".png") for t in thumbs.values())


@pytest.mark.slow
def test_predict_with_a_run_dir_uses_the_runs_model(pixel_run: Path, capsys):
    import json

    from cotclip.cli import main

    files = sorted(str(p) for p in (pixel_run.parents[1] / "images").rglob("*.png"))[:3]
    code = main(["predict", "--system", str(pixel_run), "--json", *files])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [item["path"] for item in out] == files
    assert all(item["label"] in ("cat", "dog") for item in out)
