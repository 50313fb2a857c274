"""``hf:`` embeddings equal what transformers itself computes for the same files.

The reference decodes each image with PIL alone (RGB, crop box in pixels), runs the
folder's own processor and ``get_image_features`` / ``get_text_features``, and
L2-normalises: the documented recipe, written without any cotclip code. Shape, norm
and determinism checks cannot notice an image decoded in the wrong colour mode, a crop
applied to the wrong box, or texts padded the wrong way; this comparison does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cotclip.scoring.registry import load_dataset, load_encoder

TEXTS = ["a photo of a cat", "a dog", "red", "a very long description of a small dog " * 4]
CROP = (0.125, 0.25, 0.75, 0.875)


def _features(output) -> np.ndarray:
    tensor = output if isinstance(output, torch.Tensor) else output.pooler_output
    rows = tensor.detach().float().numpy()
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _pil(path: Path, crop: tuple[float, float, float, float] | None) -> Image.Image:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    if crop is None:
        return rgb
    width, height = rgb.size
    return rgb.crop((round(crop[0] * width), round(crop[1] * height), round(crop[2] * width), round(crop[3] * height)))


def _reference(folder: Path, paths: list[Path], crop, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Image and text rows by transformers' own model, processor and feature functions."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    images = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    siglip = model.config.model_type == "siglip"  # SigLIP is trained on texts padded to the full length
    with torch.no_grad():
        pixels = images(images=[_pil(p, crop) for p in paths], return_tensors="pt")["pixel_values"]
        image_rows = _features(model.get_image_features(pixel_values=pixels))
        tokens = tokenizer(
            texts,
            padding="max_length" if siglip else True,
            truncation=True,
            max_length=model.config.text_config.max_position_embeddings,
            return_tensors="pt",
        )
        text_rows = _features(
            model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        )
    return image_rows, text_rows


@pytest.mark.parametrize("model", ["tiny_clip_dir", "tiny_siglip_dir"])
@pytest.mark.parametrize("crop", [None, CROP], ids=["whole", "cropped"])
def test_hf_rows_equal_transformers_features(
    model: str, crop, image_folder: Path, request: pytest.FixtureRequest
) -> None:
    folder = request.getfixturevalue(model)
    dataset = load_dataset(str(image_folder), crop=crop)
    encoding = load_encoder(f"hf:{folder}", batch_size=4).encode_images(dataset.images)
    assert encoding.ok_positions == list(range(len(dataset.images))) and not encoding.failures
    paths = [Path(ref.source) for ref in dataset.images]
    image_rows, text_rows = _reference(folder, paths, crop, TEXTS)
    np.testing.assert_allclose(encoding.embeddings, image_rows, atol=2e-5)
    np.testing.assert_allclose(load_encoder(f"hf:{folder}").encode_texts(TEXTS), text_rows, atol=2e-5)
