"""``hf:<hub-id-or-local-dir>``: transformers CLIP-family models as frozen encoders.

Supported models: anything ``AutoModel`` loads that has ``get_image_features`` and
``get_text_features`` (``CLIPModel``, ``SiglipModel``, ...), preprocessed by the
folder's own processor; and jina-clip style models that bring ``encode_image`` /
``encode_text`` as remote code (only with ``trust_remote_code=True``, because that
code runs on this machine). The processor comes from ``AutoProcessor``; only when that
yields no image processor or no tokenizer (repositories without a processor config)
are ``AutoImageProcessor`` and ``AutoTokenizer`` loaded separately. A processor, image
processor or tokenizer that is the folder's own code (an ``auto_map`` in its config) also
needs ``trust_remote_code=True``; without it the model is refused before anything runs.

Offline by default (:mod:`.hf_hub` finds the model): a hub id is looked up in the local Hugging Face cache only
(``local_files_only``), so a missing model fails at once with one line instead of
retrying the network. ``allow_download=True`` opts in to downloading, unless the
environment says ``HF_HUB_OFFLINE=1``.

Identity = model class + model id/folder + revision (hub commit) or a sha256 of the
folder's files + a hash of the image processor's configuration (resize, crop, mean,
std, backend class), so any change to weights or preprocessing changes the cache key.
Remote-code models also take encoder options (:mod:`.options`: ``task``, ``prompt_name``,
``truncate_dim``, ..., with defaults for the jina families) and, with ``similarity="maxsim"``,
are asked for multi-vectors (``return_multivector=True``); both enter the identity.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cotclip.scoring.encoders._base import ImageEncoding, ImageRef, l2_normalize
from cotclip.scoring.encoders.hf_hub import folder_fingerprint, hub_offline, resolve_model_folder
from cotclip.scoring.encoders.options import (
    EncoderOptions,
    accepts,
    check_accepted,
    family_defaults,
    parse_encoder_options,
)
from cotclip.scoring.similarity import MultiVectors, check_similarity
from cotclip.systems.errors import EncoderError

__all__ = [
    "HFEncoder",
    "load_encoder",
    "folder_fingerprint",
    "resolve_model_folder",
    "hub_offline",
    "UNREADABLE_IMAGE_ERRORS",
]

LONG_JOB = 256
"""Calls with more inputs than this show a progress bar (when stderr is a terminal)."""

UNREADABLE_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class _Backend:
    """How one model family turns PIL images and strings into raw feature rows (or token/patch matrices)."""

    def __init__(
        self,
        model: Any,
        image_fn: Callable[[list], Any],
        text_fn: Callable[[list[str]], Any],
        pre: str,
        options: EncoderOptions = EncoderOptions(),
        similarity: str = "cosine",
    ) -> None:
        self.model, self.image_fn, self.text_fn, self.preprocessing = model, image_fn, text_fn, pre
        self.options, self.similarity = options, similarity


def _as_numpy(output: Any) -> np.ndarray:
    import torch

    if isinstance(output, (list, tuple)):  # jina-embeddings-v4 returns a list of row tensors
        output = np.stack([_as_numpy(row) for row in output]) if output else np.zeros((0, 0), np.float32)
    if not isinstance(output, (torch.Tensor, np.ndarray)):
        output = getattr(output, "pooler_output", None)
        if output is None:
            raise EncoderError("the model's feature method returned no tensor; use a CLIP-family model")
    if isinstance(output, torch.Tensor):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float32)


def _feature_backend(model: Any, folder: Path, device: str, trust: bool) -> _Backend:
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True, trust_remote_code=trust)
    except (OSError, ValueError, TypeError, KeyError):
        processor = None  # documented fallback below: repos that ship no processor config
    image_processor = getattr(processor, "image_processor", None)
    tokenizer = getattr(processor, "tokenizer", None)
    try:
        if image_processor is None:
            image_processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True, trust_remote_code=trust)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=trust)
    except (OSError, ValueError, KeyError) as exc:
        raise EncoderError(
            f"{folder} has no usable image processor/tokenizer ({str(exc).splitlines()[0]}); save the processor next "
            "to the model"
        ) from None
    settings = {k: v for k, v in image_processor.to_dict().items() if not k.startswith("_") and k != "processor_class"}
    pre = json.dumps([type(image_processor).__name__, type(tokenizer).__name__, settings], sort_keys=True, default=str)
    text_config = getattr(model.config, "text_config", model.config)
    max_length = getattr(text_config, "max_position_embeddings", None)
    padding = "max_length" if str(getattr(model.config, "model_type", "")).startswith("siglip") else True

    def images(pixels: list) -> Any:
        batch = image_processor(images=pixels, return_tensors="pt")
        return model.get_image_features(pixel_values=batch["pixel_values"].to(device=device, dtype=model.dtype))

    def texts(strings: list[str]) -> Any:
        tokens = tokenizer(strings, padding=padding, truncation=True, max_length=max_length, return_tensors="pt")
        inputs = {k: v.to(device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return model.get_text_features(**inputs)

    return _Backend(model, images, texts, hashlib.sha256(pre.encode()).hexdigest()[:16])


def _remote_code_backend(model: Any, folder: Path, options: EncoderOptions, similarity: str) -> _Backend:
    """``encode_image``/``encode_text`` with the family's defaults under the user's options."""
    family, defaults = family_defaults(model, model.encode_text)
    options = options.merged_over(defaults)
    where = f"{type(model).__name__} ({family or 'remote code'}) in {folder}"
    check_accepted(options, model.encode_image, model.encode_text, where)
    image_kwargs, text_kwargs = dict(options.image), dict(options.text)
    if similarity == "maxsim":
        for side, function, kwargs in (
            ("image", model.encode_image, image_kwargs),
            ("text", model.encode_text, text_kwargs),
        ):
            if not accepts(function, "return_multivector"):
                raise EncoderError(
                    f"--similarity maxsim needs multi-vector output, but {where}'s encode_{side} takes no "
                    "return_multivector; use --similarity cosine or a multi-vector model such as jina-embeddings-v4"
                )
            kwargs["return_multivector"] = True

    def images(pixels: list) -> Any:
        return model.encode_image(pixels, **image_kwargs)

    def texts(strings: list[str]) -> Any:
        return model.encode_text(strings, **text_kwargs)

    return _Backend(model, images, texts, "remote-code", options, similarity)


_PARTS = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")
"""Where a standard model's processor may name its own code (``auto_map``) besides ``config.json``."""


def _json_or_none(path: Path) -> Any:
    """``path``'s JSON, or None when absent or unreadable (transformers then reports it when it loads)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _asks_for_code(data: Any) -> bool:
    """Whether a config (or a part nested in it, such as a processor's image processor) has an ``auto_map``."""
    return isinstance(data, dict) and ("auto_map" in data or any(_asks_for_code(v) for v in data.values()))


def _load_backend(
    folder: Path, device: str, trust: bool, options: EncoderOptions = EncoderOptions(), similarity: str = "cosine"
) -> _Backend:
    import torch
    from transformers import AutoModel

    config_path = folder / "config.json"
    if not config_path.is_file():
        raise EncoderError(f"{folder} has no config.json; point hf: at a folder saved with save_pretrained or a hub id")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise EncoderError(
            f"{config_path} is not readable JSON ({exc}); re-save the model with save_pretrained"
        ) from None
    if not trust and (_asks_for_code(config) or any(_asks_for_code(_json_or_none(folder / n)) for n in _PARTS)):
        raise EncoderError(
            f"{folder} needs its own Python code to load; pass trust_remote_code=True (--trust-remote-code) only if "
            "you trust it"
        )
    from safetensors import SafetensorError  # a corrupt weights file (installed with transformers)

    try:
        model = AutoModel.from_pretrained(folder, local_files_only=True, trust_remote_code=trust, dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        raise EncoderError(
            f"cannot load the model in {folder}: {str(exc).splitlines()[0]}; check that it is a CLIP-style model"
        ) from None
    model = model.to(device).eval()
    if hasattr(model, "encode_image") and hasattr(model, "encode_text"):  # the model's own preprocessing wins
        return _remote_code_backend(model, folder, options, similarity)
    if options or similarity != "cosine":
        asked = "--similarity maxsim" if similarity != "cosine" else "--encoder-option " + " ".join(options.as_flags())
        raise EncoderError(
            f"{type(model).__name__} in {folder} has no encode_image/encode_text of its own, so {asked} cannot apply; "
            "drop it or use a remote-code model that takes it (jina-clip, jina-embeddings-v4)"
        )
    if hasattr(model, "get_image_features") and hasattr(model, "get_text_features"):
        return _feature_backend(model, folder, device, trust)
    raise EncoderError(
        f"{type(model).__name__} in {folder} has neither get_image_features/get_text_features nor "
        "encode_image/encode_text; use a CLIP-family model"
    )


class HFEncoder:
    """A transformers model behind the Encoder protocol (float32, no grad, L2-normalised rows)."""

    def __init__(
        self, backend: _Backend, name: str, version: str, *, batch_size: int = 32, progress: bool = True
    ) -> None:
        self._backend = backend
        self._batch_size = batch_size
        self._progress = progress
        self._identity = f"hf:{type(backend.model).__name__}:{name}@{version}:pre={backend.preprocessing}"
        if backend.options:
            self._identity += f":opts={backend.options.identity()}"
        if backend.similarity != "cosine":
            self._identity += f":sim={backend.similarity}"
        try:
            self._dim = int(self.encode_texts(["a photo"]).shape[1])
        except (ValueError, TypeError, KeyError, RuntimeError, AssertionError) as exc:
            if not backend.options:
                raise
            shown = " ".join(backend.options.as_flags())
            raise EncoderError(
                f"{type(backend.model).__name__} rejected the encoder options {shown} "
                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); fix or drop the --encoder-option"
            ) from None

    @property
    def identity(self) -> str:
        """Model class, id or folder name, revision or content hash, preprocessing hash, options, similarity."""
        return self._identity

    @property
    def similarity(self) -> str:
        """``maxsim`` when the model is asked for multi-vectors, else ``cosine``."""
        return self._backend.similarity

    @property
    def options(self) -> EncoderOptions:
        """The options passed to the model's encode calls (family defaults included)."""
        return self._backend.options

    def _rows(self, output: Any, count: int):
        """The model's output as unit rows, or as unit multi-vectors under MaxSim."""
        if self.similarity == "maxsim":
            matrices = [_as_numpy(item) for item in output]
            matrices = [m.reshape(-1, m.shape[-1]) for m in matrices]
            if len(matrices) != count:
                raise EncoderError(
                    f"the model returned {len(matrices)} multi-vectors for {count} inputs; check its return_multivector"
                )
            return matrices
        return _as_numpy(output)

    def _finish(self, parts: list, dim: int):
        """Unit rows ``[n, dim]``, or unit multi-vectors under MaxSim."""
        if self.similarity == "maxsim":
            matrices = [m for part in parts for m in part]
            stacked = MultiVectors.from_list(matrices, matrices[0].shape[-1] if matrices else dim)
            return MultiVectors(l2_normalize(stacked.vectors), stacked.offsets)
        return l2_normalize(np.concatenate(parts)) if parts else np.zeros((0, dim), dtype=np.float32)

    @property
    def dim(self) -> int:
        """Embedding width."""
        return self._dim

    def _batches(self, count: int, what: str) -> Iterator[range]:
        starts = range(0, count, self._batch_size)
        show = self._progress and count > LONG_JOB and sys.stderr.isatty()
        if not show:
            yield from (range(s, min(s + self._batch_size, count)) for s in starts)
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"encoding {count} {what}", total=count)
            for start in starts:
                batch = range(start, min(start + self._batch_size, count))
                yield batch
                bar.advance(task, len(batch))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray | MultiVectors:
        """L2-normalised ``float32 [len(texts), dim]`` (multi-vectors under MaxSim) in input order."""
        import torch

        texts = [str(t) for t in texts]
        parts = []
        with torch.no_grad():
            for batch in self._batches(len(texts), "texts"):
                output = self._backend.text_fn([texts[i] for i in batch])
                parts.append(self._rows(output, len(batch)))
        return self._finish(parts, getattr(self, "_dim", 0))

    def encode_images(self, images: Sequence[ImageRef]) -> ImageEncoding:
        """Embeddings of the readable images; unreadable ones become ``failures``."""
        import torch

        rows, ok, failures = [], [], []
        with torch.no_grad():
            for batch in self._batches(len(images), "images"):
                pixels = []
                for position in batch:
                    ref = images[position]
                    if ref.open_pixels is None:
                        raise EncoderError(
                            f"{ref.source} carries no pixels (id-only image); hf: encoders need image files"
                        )
                    try:
                        pixels.append(ref.open_pixels())
                        ok.append(position)
                    except UNREADABLE_IMAGE_ERRORS as exc:
                        failures.append(
                            (
                                position,
                                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}",
                            )
                        )
                if pixels:
                    output = self._backend.image_fn(pixels)
                    rows.append(self._rows(output, len(pixels)))
        embeddings = self._finish(rows, self._dim)
        return ImageEncoding(embeddings=embeddings, ok_positions=ok, failures=failures)


def _device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise EncoderError(f"unknown device {device!r} ({exc}); use cpu, cuda or cuda:<n>") from None
    return str(device)


def load_encoder(
    rest: str,
    *,
    device: str | None = None,
    batch_size: int = 32,
    progress: bool = True,
    allow_download: bool = False,
    trust_remote_code: bool = False,
    revision: str | None = None,
    hub_cache_dir: str | None = None,
    encoder_options: Any = None,
    similarity: str = "cosine",
    **_: Any,
) -> HFEncoder:
    """The model ``hf:<rest>`` (hub id or folder); unknown loader options are ignored.

    ``encoder_options`` (``["text.task=retrieval", ...]``, a mapping or :class:`EncoderOptions`)
    go to a remote-code model's encode calls; ``similarity="maxsim"`` asks it for multi-vectors.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise EncoderError(f"batch size must be a positive integer, got {batch_size!r}; pass e.g. batch_size=32")
    try:
        similarity = check_similarity(similarity)
    except ValueError as exc:
        raise EncoderError(f"{exc}; pass --similarity cosine or maxsim") from None
    options = parse_encoder_options(encoder_options)
    folder, version = resolve_model_folder(
        rest, revision=revision, allow_download=allow_download, hub_cache_dir=hub_cache_dir
    )
    backend = _load_backend(folder, _device(device), trust_remote_code, options, similarity)
    name = f"dir:{folder.name}" if version.startswith("sha256:") else rest
    return HFEncoder(backend, name, version, batch_size=batch_size, progress=progress)
