"""cotclip: build and optimize attribute-question classification systems for frozen CLIP-style encoders.

The public Python API. Every name is a plain function or class; configuration is passed
in (a :class:`RunConfig`, a dict or keyword arguments), never read from globals or the
environment. Importing ``cotclip`` is cheap: torch, dspy and litellm load only when a
function needs them (PEP 562 lazy attributes). Errors a caller can cause derive from
:class:`CotclipError` and carry the same one-line, fix-stating message the CLI prints;
a value of the wrong type raises :class:`WrongTypeError` (also a ``TypeError``).

Systems
    :func:`load_system`, :func:`validate_system`, :func:`convert_system`, :class:`System`
Data and encoders
    :func:`load_dataset` (a spec string or a ``datasets.Dataset``), :func:`load_encoder`
Scoring
    :func:`evaluate` (a system on a split, beside the class-name baseline), :func:`baseline`,
    :func:`embed` (fill the embedding cache ahead of time), :func:`transfer` (a run's systems on
    other encoders)
Optimizing
    :func:`propose` (candidate systems from an LLM), :func:`optimize` (a whole run;
    :class:`RunConfig` in, :class:`RunSummary` out), :func:`review` (apply reviewer edits to a run),
    :func:`review_page` (the run's review page on 127.0.0.1), :func:`fetch_model` (a bundled local LLM)
The synthetic world (a SIMULATION)
    :func:`describe_world`, :func:`world_oracle`, :func:`world_notes`, :func:`demo` (the
    offline end-to-end run of ``cotclip demo``, with the world's oracle beside it)
Deploying
    :func:`export` (a system or run in another format, or a compiled ``.npz``), :class:`Classifier`,
    :func:`predict` (label image files with a system, a run or a compiled ``.npz``)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "load_system": "cotclip._systems",
    "validate_system": "cotclip._systems",
    "convert_system": "cotclip._systems",
    "System": "cotclip.systems.model",
    "ValidationReport": "cotclip.systems.validate",
    "load_dataset": "cotclip._data",
    "load_encoder": "cotclip._data",
    "evaluate": "cotclip._evaluate",
    "baseline": "cotclip._evaluate",
    "Evaluation": "cotclip._evaluate",
    "AdaptivePolicy": "cotclip.scoring.deploy.adaptive_stops",
    "propose": "cotclip._propose",
    "Proposals": "cotclip._propose",
    "optimize": "cotclip._optimize",
    "demo": "cotclip._demo",
    "DemoResult": "cotclip._demo",
    "RunConfig": "cotclip.optimizer.loop.config",
    "RunSummary": "cotclip.optimizer.loop.result",
    "review": "cotclip._review",
    "review_page": "cotclip._review",
    "ReviewPage": "cotclip._review",
    "transfer": "cotclip._transfer",
    "TransferTable": "cotclip._transfer",
    "embed": "cotclip._embed",
    "EmbedReport": "cotclip._embed",
    "describe_world": "cotclip._world",
    "WorldDescription": "cotclip._world",
    "world_oracle": "cotclip._world",
    "world_notes": "cotclip._world",
    "fetch_model": "cotclip._models",
    "FetchedModel": "cotclip._models",
    "export": "cotclip._export",
    "predict": "cotclip._predict",
    "Classifier": "cotclip.scoring.deploy.classifier",
    "CotclipError": "cotclip.systems.errors",
    "InputError": "cotclip.systems.errors",
    "WrongTypeError": "cotclip.systems.errors",
    "SystemValidationError": "cotclip.systems.errors",
    "DataError": "cotclip.systems.errors",
    "EncoderError": "cotclip.systems.errors",
    "ProposerError": "cotclip.systems.errors",
    "LLMServerError": "cotclip.systems.errors",
    "BudgetExhaustedError": "cotclip.systems.errors",
    "RunDirError": "cotclip.systems.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    """Import the module defining ``name`` on first access and cache the attribute here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cotclip' has no attribute {name!r}; see cotclip.__all__")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
