"""Build a tiny random CLIP on disk, loadable exactly as users load models: ``hf:<dir>``.

The model is real transformers code (``CLIPModel`` + ``CLIPProcessor`` with the
torchvision-free ``CLIPImageProcessorPil`` and a byte-level ``CLIPTokenizer`` that has
no merges), only small: hidden width 32, 2 layers, 32 px images in 8 px patches,
16-dimensional embeddings. About 260 KB and well under a second to build; the
weights depend only on ``seed``.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["build_tiny_clip", "build_tiny_siglip", "build_image_folder", "byte_level_alphabet"]

_IMAGE_SIZE = 32


def byte_level_alphabet() -> list[str]:
    """The 256 printable characters GPT-2 style byte-level BPE uses for the 256 bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codepoints = list(printable)
    shifted = 0
    for byte in range(256):
        if byte not in printable:
            codepoints.append(256 + shifted)
            shifted += 1
    return [chr(point) for point in codepoints]


def _write_tokenizer_files(directory: Path) -> None:
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    alphabet = byte_level_alphabet()
    for suffix in ("", "</w>"):
        for char in alphabet:
            vocab[char + suffix] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")


def _seeded_model(model_class, config, seed: int):
    """``model_class(config)`` in eval mode, initialised from ``seed``; torch's global generator is left as it was."""
    import torch

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return model_class(config).eval()
    finally:
        torch.random.set_rng_state(generator_state)


def build_tiny_clip(
    directory: Path | str,
    *,
    seed: int = 0,
    image_mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073),
    image_size: int = _IMAGE_SIZE,
    width: int = 32,
    depth: int = 2,
) -> Path:
    """Save a tiny random ``CLIPModel`` with its processor into ``directory`` and return it.

    ``seed`` fixes the weights; ``image_mean`` lets tests change the preprocessing;
    ``image_size``/``width``/``depth`` make it bigger (benchmarks want a CPU-bound encoder).
    """
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_tokenizer_files(directory)
    tokenizer = CLIPTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"))
    layers = {
        "hidden_size": width,
        "intermediate_size": 2 * width,
        "num_hidden_layers": depth,
        "num_attention_heads": 2,
    }
    config = CLIPConfig(
        text_config={
            **layers,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={**layers, "image_size": image_size, "patch_size": 8},
        projection_dim=16,
    )
    model = _seeded_model(CLIPModel, config, seed)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(image_mean),
    )
    model.save_pretrained(directory)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def build_tiny_siglip(directory: Path | str, *, seed: int = 0) -> Path:
    """Save a tiny random ``SiglipModel`` (16-token texts, 32-dim embeddings) with a PIL image processor."""
    from transformers import CLIPTokenizer, SiglipConfig, SiglipImageProcessorPil, SiglipModel

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_tokenizer_files(directory)
    tokenizer = CLIPTokenizer(vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"))
    layers = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    text = {
        **layers,
        "vocab_size": len(tokenizer),
        "max_position_embeddings": 16,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "pad_token_id": 1,
    }
    config = SiglipConfig(text_config=text, vision_config={**layers, "image_size": _IMAGE_SIZE, "patch_size": 8})
    model = _seeded_model(SiglipModel, config, seed)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    SiglipImageProcessorPil(size={"height": _IMAGE_SIZE, "width": _IMAGE_SIZE}).save_pretrained(directory)
    return directory


def build_image_folder(
    root: Path | str, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 3, size: int = 24
) -> Path:
    """Write ``per_class`` distinct random PNG images into ``root/<class>/`` for each class; return ``root``."""
    import numpy as np
    from PIL import Image

    root = Path(root)
    for class_index, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for image_index in range(per_class):
            rng = np.random.default_rng(1000 * class_index + image_index)
            pixels = rng.integers(0, 256, size=(size, size + 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{image_index}.png")
    return root
