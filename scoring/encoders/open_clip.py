"""``open_clip:<arch>/<pretrained>``: OpenCLIP models, behind the optional ``open_clip`` extra.

``<pretrained>`` is an OpenCLIP pretrained tag (``laion2b_s34b_b79k``) or a path to a
weight file. Offline by default: a tag is resolved to the weight file already in the
local Hugging Face cache, so a missing model fails at once with one line;
``allow_download=True`` lets OpenCLIP download it. Identity = arch + tag + hub commit
or weight-file hash + the preprocessing transform's description.

Without ``open_clip_torch`` installed, loading raises an EncoderError with the install
hint. (The project's own tests can only check that hint: the extra needs torchvision,
which has no build for the pinned torch 2.13.0.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cotclip.scoring.encoders._base import ImageEncoding, ImageRef, l2_normalize
from cotclip.scoring.encoders.hf import UNREADABLE_IMAGE_ERRORS
from cotclip.scoring.encoders.hf_hub import hub_offline
from cotclip.systems.errors import EncoderError

__all__ = ["OpenClipEncoder", "load_encoder", "INSTALL_HINT"]

INSTALL_HINT = (
    "open_clip is not installed; run pip install 'cotclip[open_clip]' (it needs torchvision, which requires a newer "
    "torch than the pinned 2.13.0), or use an hf:<model> encoder instead"
)
_WEIGHT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _import_open_clip() -> Any:
    try:
        import open_clip
    except ImportError:
        raise EncoderError(INSTALL_HINT) from None
    return open_clip


def _offline_weights(open_clip: Any, arch: str, tag: str) -> tuple[str, str]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = open_clip.get_pretrained_cfg(arch, tag).get("hf_hub", "").strip("/")
    if not repo:
        raise EncoderError(
            f"open_clip has no hub weights for {arch}/{tag}; pass a local weight file as open_clip:{arch}/<path>"
        )
    try:
        folder = Path(snapshot_download(repo, local_files_only=True))
    except LocalEntryNotFoundError:
        raise EncoderError(
            f"open_clip weights {arch}/{tag} ({repo}) are not in the local Hugging Face cache and downloads are off; "
            "pass a local weight file or allow downloads (allow_download=True)"
        ) from None
    for name in _WEIGHT_NAMES:
        if (folder / name).is_file():
            return str(folder / name), f"rev:{folder.name}"
    raise EncoderError(f"the cached snapshot {folder} has no open_clip weight file; allow downloads to complete it")


class OpenClipEncoder:
    """An OpenCLIP model behind the Encoder protocol (float32, no grad, L2-normalised rows)."""

    def __init__(
        self, model: Any, preprocess: Any, tokenizer: Any, identity: str, device: str, batch_size: int
    ) -> None:
        self._model, self._preprocess, self._tokenizer = model, preprocess, tokenizer
        self._identity, self._device, self._batch_size = identity, device, batch_size
        self._dim = int(self.encode_texts(["a photo"]).shape[1])

    @property
    def identity(self) -> str:
        """Arch, pretrained tag, revision or weight hash, preprocessing hash."""
        return self._identity

    @property
    def dim(self) -> int:
        """Embedding width."""
        return self._dim

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised ``float32 [len(texts), dim]`` in input order."""
        import torch

        rows = []
        with torch.no_grad():
            for start in range(0, len(texts), self._batch_size):
                tokens = self._tokenizer(list(texts[start : start + self._batch_size])).to(self._device)
                rows.append(self._model.encode_text(tokens).float().cpu().numpy())
        return l2_normalize(np.concatenate(rows)) if rows else np.zeros((0, self._dim), dtype=np.float32)

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Embeddings of the readable images; unreadable ones become ``failures``."""
        import torch

        rows, ok, failures = [], [], []
        with torch.no_grad():
            for start in range(0, len(images), self._batch_size):
                tensors = []
                for position in range(start, min(start + self._batch_size, len(images))):
                    ref = images[position]
                    if ref.open_pixels is None:
                        raise EncoderError(
                            f"{ref.source} carries no pixels (id-only image); open_clip encoders need image files"
                        )
                    try:
                        tensors.append(self._preprocess(ref.open_pixels()))
                        ok.append(position)
                    except UNREADABLE_IMAGE_ERRORS as exc:
                        failures.append((position, f"{type(exc).__name__}: {exc}"))
                if tensors:
                    batch = torch.stack(tensors).to(self._device)
                    rows.append(self._model.encode_image(batch).float().cpu().numpy())
        embeddings = l2_normalize(np.concatenate(rows)) if rows else np.zeros((0, self._dim), dtype=np.float32)
        return ImageEncoding(embeddings=embeddings, ok_positions=ok, failures=failures)


def load_encoder(
    rest: str, *, device: str | None = None, batch_size: int = 32, allow_download: bool = False, **_: Any
) -> OpenClipEncoder:
    """The model ``open_clip:<arch>/<pretrained>``; unknown options are ignored."""
    arch, _sep, pretrained = rest.partition("/")
    if not arch or not pretrained:
        raise EncoderError(
            f"open_clip spec {rest!r} must be <arch>/<pretrained>, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k"
        )
    open_clip = _import_open_clip()
    weights_path = Path(pretrained).expanduser()
    if weights_path.is_file():
        with weights_path.open("rb") as handle:
            weights, version = str(weights_path), "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()[:32]
    elif allow_download and not hub_offline():
        weights, version = pretrained, "tag"
    else:
        weights, version = _offline_weights(open_clip, arch, pretrained)
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        model, _train, preprocess = open_clip.create_model_and_transforms(arch, pretrained=weights, device=device)
    except (RuntimeError, ValueError, OSError) as exc:
        raise EncoderError(
            f"cannot load open_clip model {arch}/{pretrained}: {str(exc).splitlines()[0]}; check the arch and tag"
        ) from None
    pre = hashlib.sha256(repr(preprocess).encode()).hexdigest()[:16]
    identity = f"open_clip:{arch}/{Path(pretrained).name}@{version}:pre={pre}"
    return OpenClipEncoder(model.eval(), preprocess, open_clip.get_tokenizer(arch), identity, device, batch_size)
