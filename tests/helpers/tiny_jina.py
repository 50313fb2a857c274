"""Tiny random stand-ins for the seeds' encoders, saved as a user's download would be.

Each folder holds ``config.json`` with an ``auto_map``, the remote-code ``.py`` files and
``model.safetensors``, and loads through ``hf:<dir>`` with ``trust_remote_code=True``.
The ``encode_image``/``encode_text`` signatures mirror the public remote code of

* jina-clip-v1 (``JinaCLIPModel``): ``encode_text(sentences, batch_size, show_progress_bar,
  convert_to_numpy, convert_to_tensor, device, normalize_embeddings, **tokenizer_kwargs)``,
  ``encode_image`` the same without the tokenizer kwargs; numpy out;
* jina-clip-v2 (``JinaCLIPModel``): as v1 plus ``truncate_dim`` on both and ``task`` on
  ``encode_text`` (an instruction prefix from ``config.task_instructions``, unknown tasks
  are a ValueError);
* jina-embeddings-v4 (``JinaEmbeddingsV4Model``): ``encode_text(texts, task, max_length,
  batch_size, return_multivector, return_numpy, truncate_dim, prompt_name)`` and
  ``encode_image(images, task, batch_size, return_multivector, return_numpy, truncate_dim,
  max_pixels)``; ``task`` picks a per-task adapter (a LoRA stand-in) and must be one of
  ``config.task_names``, ``truncate_dim`` one of ``config.matryoshka_dims``, ``prompt_name``
  ``query``/``passage``; a list of tensors comes back, and with ``return_multivector`` one
  ``[tokens, 8]`` / ``[patches, 8]`` matrix per input (patch counts follow the aspect ratio).

The networks themselves are a byte embedding and a patch projection with one hidden layer:
just enough that every option changes the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["build_tiny_jina", "FAMILIES"]

FAMILIES = ("jina-clip-v1", "jina-clip-v2", "jina-embeddings-v4")
_HIDDEN, _DIM, _MULTI = 16, 12, 8

_CONFIG = '''
from transformers import PretrainedConfig


class JinaCLIPConfig(PretrainedConfig):
    model_type = "jina_clip"

    def __init__(self, hidden=16, dim=12, task_instructions=None, matryoshka_dimensions=None, truncate_dim=None,
                 **kwargs):
        self.hidden, self.dim, self.truncate_dim = hidden, dim, truncate_dim
        self.task_instructions = task_instructions
        self.matryoshka_dimensions = matryoshka_dimensions
        super().__init__(**kwargs)


class JinaEmbeddingsV4Config(PretrainedConfig):
    model_type = "jina-embeddings-v4"

    def __init__(self, hidden=16, dim=12, multi_vector_dim=8, task_names=None, matryoshka_dims=None, truncate_dim=None,
                 **kwargs):
        self.hidden, self.dim, self.multi_vector_dim, self.truncate_dim = hidden, dim, multi_vector_dim, truncate_dim
        self.task_names = task_names or ["retrieval", "text-matching", "code"]
        self.matryoshka_dims = matryoshka_dims or [4, 8]
        super().__init__(**kwargs)
'''

_MODEL = '''
from typing import List, Optional, Union

import numpy as np
import torch
from transformers import PreTrainedModel

from .configuration_tiny_jina import JinaCLIPConfig, JinaEmbeddingsV4Config

PREFIX_DICT = {"query": "Query", "passage": "Passage"}


class _Towers(torch.nn.Module):
    def __init__(self, hidden, dim):
        super().__init__()
        self.text_embed = torch.nn.Embedding(256, hidden)
        self.text_hidden = torch.nn.Linear(hidden, hidden)
        self.text_proj = torch.nn.Linear(hidden, dim)
        self.vision_patch = torch.nn.Linear(48, hidden)
        self.vision_hidden = torch.nn.Linear(hidden, hidden)
        self.vision_proj = torch.nn.Linear(hidden, dim)

    def text_tokens(self, text, max_length, adapter=None):
        codes = torch.tensor(list(text.encode("utf-8"))[:max_length] or [0])
        hidden = self.text_hidden(self.text_embed(codes))
        if adapter is not None:
            hidden = hidden + hidden @ adapter
        return torch.tanh(hidden)

    def image_patches(self, image, adapter=None):
        image = image.convert("RGB")
        width, height = image.size
        scale = 16.0 / max(width, height)
        size = (max(4, int(round(width * scale)) // 4 * 4), max(4, int(round(height * scale)) // 4 * 4))
        pixels = torch.tensor(np.asarray(image.resize(size), dtype=np.float32) / 255.0)  # [h, w, 3]
        h, w = pixels.shape[0] // 4, pixels.shape[1] // 4
        patches = pixels.reshape(h, 4, w, 4, 3).permute(0, 2, 1, 3, 4).reshape(h * w, 48)
        hidden = self.vision_hidden(self.vision_patch(patches))
        if adapter is not None:
            hidden = hidden + hidden @ adapter
        return torch.tanh(hidden)


def _normalize(rows):
    return torch.nn.functional.normalize(rows, p=2, dim=-1)


class JinaCLIPModel(PreTrainedModel):
    config_class = JinaCLIPConfig

    def __init__(self, config):
        super().__init__(config)
        self.towers = _Towers(config.hidden, config.dim)
        self.post_init()

    def _finish(self, rows, normalize_embeddings, truncate_dim, convert_to_numpy, convert_to_tensor):
        if truncate_dim:
            rows = rows[:, :truncate_dim]
        if normalize_embeddings:
            rows = _normalize(rows)
        if convert_to_tensor:
            return rows
        return rows.detach().numpy() if convert_to_numpy else list(rows)

    def _text(self, sentences, instruction, max_length):
        prefix = instruction or ""
        rows = [self.towers.text_tokens(prefix + s, max_length).mean(dim=0) for s in sentences]
        return self.towers.text_proj(torch.stack(rows))

    def _image(self, images):
        rows = [self.towers.image_patches(image).mean(dim=0) for image in images]
        return self.towers.vision_proj(torch.stack(rows))


class JinaCLIPv1Model(JinaCLIPModel):
    @torch.inference_mode()
    def encode_text(self, sentences: Union[str, List[str]], batch_size: int = 32,
                    show_progress_bar: Optional[bool] = None,
                    convert_to_numpy: bool = True, convert_to_tensor: bool = False, device=None,
                    normalize_embeddings: bool = True, **tokenizer_kwargs):
        single = isinstance(sentences, str)
        rows = self._text([sentences] if single else list(sentences), None, tokenizer_kwargs.get("max_length", 512))
        out = self._finish(rows, normalize_embeddings, None, convert_to_numpy, convert_to_tensor)
        return out[0] if single else out

    @torch.inference_mode()
    def encode_image(self, images, batch_size: int = 32, show_progress_bar: Optional[bool] = None,
                     convert_to_numpy: bool = True, convert_to_tensor: bool = False, device=None,
                     normalize_embeddings: bool = True):
        single = not isinstance(images, list)
        rows = self._image([images] if single else images)
        out = self._finish(rows, normalize_embeddings, None, convert_to_numpy, convert_to_tensor)
        return out[0] if single else out


class JinaCLIPv2Model(JinaCLIPModel):
    def get_instruction_from_task(self, task):
        if task is None:
            return None
        if task not in (self.config.task_instructions or {}):
            known = ', '.join(self.config.task_instructions or {})
            raise ValueError(f"Unsupported task '{task}'. Choose one of the following: {known}")
        return self.config.task_instructions[task]

    @torch.inference_mode()
    def encode_text(self, sentences: Union[str, List[str]], task: Optional[str] = None, batch_size: int = 32,
                    show_progress_bar: Optional[bool] = None, convert_to_numpy: bool = True,
                    convert_to_tensor: bool = False, device=None, normalize_embeddings: bool = True,
                    truncate_dim: Optional[int] = None, **tokenizer_kwargs):
        single = isinstance(sentences, str)
        instruction = self.get_instruction_from_task(task)
        texts = [sentences] if single else list(sentences)
        rows = self._text(texts, instruction, tokenizer_kwargs.get("max_length", 512))
        truncate_dim = truncate_dim or self.config.truncate_dim
        out = self._finish(rows, normalize_embeddings, truncate_dim, convert_to_numpy, convert_to_tensor)
        return out[0] if single else out

    @torch.inference_mode()
    def encode_image(self, images, batch_size: int = 32, show_progress_bar: Optional[bool] = None,
                     convert_to_numpy: bool = True, convert_to_tensor: bool = False, device=None,
                     normalize_embeddings: bool = True, truncate_dim: Optional[int] = None):
        single = not isinstance(images, list)
        rows = self._image([images] if single else images)
        truncate_dim = truncate_dim or self.config.truncate_dim
        out = self._finish(rows, normalize_embeddings, truncate_dim, convert_to_numpy, convert_to_tensor)
        return out[0] if single else out


class JinaEmbeddingsV4Model(PreTrainedModel):
    config_class = JinaEmbeddingsV4Config

    def __init__(self, config):
        super().__init__(config)
        self.towers = _Towers(config.hidden, config.dim)
        self.multi_vector_projector = torch.nn.Linear(config.hidden, config.multi_vector_dim)
        self.adapters = torch.nn.Parameter(torch.zeros(len(config.task_names), config.hidden, config.hidden))
        self.task = None
        self.post_init()

    def _validate_task(self, task):
        if task is None:
            if self.task is None:
                raise ValueError("Task must be specified before encoding data.")
            task = self.task
        elif task not in self.config.task_names:
            raise ValueError(f"Invalid task: {task}. Must be one of {self.config.task_names}.")
        return task

    def _validate_encoding_params(self, truncate_dim=None, prompt_name=None):
        kwargs = {}
        if prompt_name is not None:
            if prompt_name not in PREFIX_DICT:
                raise ValueError(f"Invalid prompt_name: {prompt_name}. Must be one of {list(PREFIX_DICT.keys())}.")
            kwargs["prefix"] = PREFIX_DICT[prompt_name] if self.task != "text-matching" else PREFIX_DICT["query"]
        truncate_dim = truncate_dim or self.config.truncate_dim
        if truncate_dim is not None and truncate_dim not in self.config.matryoshka_dims:
            raise ValueError(f"Invalid truncate_dim: {truncate_dim}. Must be one of {self.config.matryoshka_dims}.")
        kwargs["truncate_dim"] = truncate_dim
        return kwargs

    def _outputs(self, hidden_list, return_multivector, return_numpy, truncate_dim, projector):
        if return_multivector:
            return [_normalize(self.multi_vector_projector(h)) for h in hidden_list]
        rows = projector(torch.stack([h.mean(dim=0) for h in hidden_list]))
        rows = _normalize(rows[:, :truncate_dim] if truncate_dim is not None else rows)
        return rows.numpy() if return_numpy else list(torch.unbind(rows))

    @torch.no_grad()
    def encode_text(self, texts: Union[str, List[str]], task: Optional[str] = None, max_length: int = 32768,
                    batch_size: int = 8, return_multivector: bool = False, return_numpy: bool = False,
                    truncate_dim: Optional[int] = None, prompt_name: Optional[str] = None):
        prompt_name = prompt_name or "query"
        kwargs = self._validate_encoding_params(truncate_dim=truncate_dim, prompt_name=prompt_name)
        adapter = self.adapters[self.config.task_names.index(self._validate_task(task))]
        single = isinstance(texts, str)
        hidden = [self.towers.text_tokens(f"{kwargs['prefix']}: {t}", max_length, adapter)
                  for t in ([texts] if single else texts)]
        out = self._outputs(hidden, return_multivector, return_numpy, kwargs["truncate_dim"], self.towers.text_proj)
        return out[0] if single else out

    @torch.no_grad()
    def encode_image(self, images, task: Optional[str] = None, batch_size: int = 8, return_multivector: bool = False,
                     return_numpy: bool = False, truncate_dim: Optional[int] = None, max_pixels: Optional[int] = None):
        kwargs = self._validate_encoding_params(truncate_dim=truncate_dim)
        adapter = self.adapters[self.config.task_names.index(self._validate_task(task))]
        single = not isinstance(images, list)
        hidden = [self.towers.image_patches(image, adapter) for image in ([images] if single else images)]
        out = self._outputs(hidden, return_multivector, return_numpy, kwargs["truncate_dim"], self.towers.vision_proj)
        return out[0] if single else out
'''

_CLASSES = {
    "jina-clip-v1": ("JinaCLIPConfig", "JinaCLIPv1Model", {}),
    "jina-clip-v2": (
        "JinaCLIPConfig",
        "JinaCLIPv2Model",
        {
            "task_instructions": {"retrieval.query": "Represent the query for retrieving evidence documents: "},
            "matryoshka_dimensions": [4, 8, 12],
        },
    ),
    "jina-embeddings-v4": (
        "JinaEmbeddingsV4Config",
        "JinaEmbeddingsV4Model",
        {"multi_vector_dim": _MULTI, "task_names": ["retrieval", "text-matching", "code"], "matryoshka_dims": [4, 8]},
    ),
}


def _weights(family: str, seed: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * 0.5

    weights = {"towers.text_embed.weight": rand(256, _HIDDEN)}
    for tower, inputs in (("text", _HIDDEN), ("vision", 48)):
        first = "towers.text_hidden" if tower == "text" else "towers.vision_patch"
        weights[f"{first}.weight"], weights[f"{first}.bias"] = rand(_HIDDEN, inputs), rand(_HIDDEN)
        if tower == "vision":
            weights["towers.vision_hidden.weight"], weights["towers.vision_hidden.bias"] = (
                rand(_HIDDEN, _HIDDEN),
                rand(_HIDDEN),
            )
        weights[f"towers.{tower}_proj.weight"], weights[f"towers.{tower}_proj.bias"] = rand(_DIM, _HIDDEN), rand(_DIM)
    if family == "jina-embeddings-v4":
        weights["multi_vector_projector.weight"], weights["multi_vector_projector.bias"] = (
            rand(_MULTI, _HIDDEN),
            rand(_MULTI),
        )
        weights["adapters"] = rand(3, _HIDDEN, _HIDDEN)
    return weights


def build_tiny_jina(directory: Path | str, family: str, *, seed: int = 0) -> Path:
    """Write the tiny model of ``family`` (one of :data:`FAMILIES`) into ``directory`` and return it."""
    from safetensors.torch import save_file

    config_class, model_class, extra = _CLASSES[family]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "configuration_tiny_jina.py").write_text(_CONFIG, encoding="utf-8")
    (directory / "modeling_tiny_jina.py").write_text(_MODEL, encoding="utf-8")
    model_type = "jina-embeddings-v4" if family == "jina-embeddings-v4" else "jina_clip"
    config = {
        "model_type": model_type,
        "architectures": [model_class],
        "hidden": _HIDDEN,
        "dim": _DIM,
        **extra,
        "auto_map": {
            "AutoConfig": f"configuration_tiny_jina.{config_class}",
            "AutoModel": f"modeling_tiny_jina.{model_class}",
        },
    }
    (directory / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    save_file(_weights(family, seed), str(directory / "model.safetensors"), metadata={"format": "pt"})
    return directory
