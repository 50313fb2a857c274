"""``export``: a system, or a run dir's current (or given) version, in another format or compiled to ``.npz``.

A run's current version is its newest human edit (or the best version built on it), else
the run's final choice (``best.json``). ``npz`` is the compiled classifier :class:`~cotclip.Classifier` loads; from a
run dir it also carries the adaptive answer model fitted on the run's train split.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cotclip._systems import SystemLike, load_system, same_file
from cotclip._types import need, need_optional_path, need_path
from cotclip.optimizer.review.session import load_version
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.systems.errors import InputError
from cotclip.systems.io import SYSTEM_DUMPERS, save_system
from cotclip.systems.io import load_system as load_system_file
from cotclip.systems.model import System

__all__ = ["export", "export_any", "is_run_dir", "load_system_or_run", "run_model_spec"]


def export(
    source: SystemLike,
    out: str | os.PathLike[str],
    fmt: str = "json",
    *,
    version: int | None = None,
    model: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    encoder: EncoderSettings | None = None,
) -> System:
    """Write ``source`` as ``fmt`` to ``out`` and return the system written.

    ``source`` is a system, a mapping, a system file, ``ready:<name>`` or a run dir.

    ``fmt`` is ``json``, ``yaml``, ``seed-json`` (the seed article's format) or ``npz`` (a
    compiled classifier: its prompts embedded by ``model``, default for a run dir the run's
    encoder through ``cache_dir``). ``version`` picks a run dir's version; ``encoder`` holds
    ``model``'s settings. Never overwrites the input file; writes atomically. Raises
    :class:`InputError` with the CLI's messages.
    """
    need_path(out, "out")
    need(fmt, "fmt", str, f"one of {', '.join([*SYSTEM_DUMPERS, 'npz'])}")
    if version is not None:
        need(version, "version", int, "a version number")
    if model is not None:
        need(model, "model", str, "an encoder spec such as 'hf:openai/clip-vit-base-patch32'")
    settings = need(encoder or EncoderSettings(), "encoder", EncoderSettings, "EncoderSettings")
    cache = need_optional_path(cache_dir, "cache_dir")
    if same_file(source, out):
        raise InputError(f"--out {out} is the input file itself; write to a different path")
    if isinstance(source, (System, Mapping)):
        system = load_system(source)
        if version is not None:
            raise InputError("--version applies to run dirs only; drop --version")
        if fmt != "npz":
            return _write(system, Path(out), fmt)
        from cotclip.scoring.deploy.compiled import write_compiled

        write_compiled(_compiled_for_export(system, None, model, cache, settings), Path(out))
        return system
    return export_any(
        os.fspath(need_path(source, "system")),
        fmt,
        Path(out),
        model=model,
        version=version,
        cache_dir=cache,
        settings=settings,
    )


def _write(system: System, out: Path, fmt: str) -> System:
    if fmt not in SYSTEM_DUMPERS:
        raise InputError(
            f"unknown export format {fmt!r}; use --format with one of: {', '.join([*SYSTEM_DUMPERS, 'npz'])}"
        )
    save_system(system, out, fmt=fmt)
    return system


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` is a run directory (has ``versions/`` or ``run.yaml``)."""
    path = Path(path)
    return path.is_dir() and ((path / "versions").is_dir() or (path / "run.yaml").is_file())


def load_system_or_run(spec: str, version: int | None = None) -> tuple[System, Path | None]:
    """A system from a file/``ready:`` spec, or from a run dir (its current version, or ``version``).

    A run dir's system is the one the run evaluated: when ``run.yaml`` overrides the
    temperature, the override is written into the system's scoring block.
    """
    if is_run_dir(spec):
        system = load_version(Path(spec), version).system
        if (Path(spec) / "run.yaml").is_file():
            from cotclip.optimizer.review.rundata import run_config

            override = run_config(Path(spec)).temperature
            if override is not None:
                system = system.evolve(scoring=system.scoring.model_copy(update={"temperature": override}))
        return system, Path(spec)
    if version is not None:
        raise InputError(f"--version applies to run dirs only and {spec} is not one; drop --version")
    return load_system_file(spec), None


def export_any(
    spec: str,
    fmt: str,
    out: Path,
    *,
    model: str | None = None,
    version: int | None = None,
    cache_dir: str | None = None,
    settings=None,
) -> System:
    """``cotclip export`` for a system or run dir in any format, ``npz`` included.

    ``npz`` embeds the prompts with ``--model`` (default for a run dir: the run's encoder,
    through its embedding cache). Other formats go through the system writers.
    """
    system, run_path = load_system_or_run(spec, version)
    if fmt == "npz":
        from cotclip.scoring.deploy.compiled import write_compiled

        write_compiled(_compiled_for_export(system, run_path, model, cache_dir, settings), out)
    elif fmt in SYSTEM_DUMPERS:
        save_system(system, out, fmt=fmt)
    else:
        raise InputError(
            f"unknown export format {fmt!r}; use --format with one of: {', '.join([*SYSTEM_DUMPERS, 'npz'])}"
        )
    return system


def _compiled_for_export(
    system: System, run_path: Path | None, model: str | None, cache_dir: str | None, settings=None
):
    """The compiled classifier; from a run dir it carries the adaptive model fitted on the run's train split."""
    from cotclip.optimizer.review.rundata import load_review_data
    from cotclip.scoring.deploy.classifier import Classifier
    from cotclip.scoring.deploy.compiled import compile_system

    encoder, encoder_spec = _export_encoder(model, run_path, cache_dir, settings)
    classifier = Classifier(compile_system(system, encoder, encoder_spec=encoder_spec), encoder)
    if run_path is None:
        return classifier.compiled
    train = load_review_data(run_path, system, cache_dir=cache_dir, encoder=encoder).train
    return classifier.fit_adaptive(train.embeddings, train.labels).compiled


def _export_encoder(model: str | None, run_path: Path | None, cache_dir: str | None, settings=None):
    from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
    from cotclip.scoring.registry import load_encoder

    if model is not None:
        loader = settings.loader_kwargs() if settings is not None else {}
        return CachedEncoder(load_encoder(model, **loader), EmbeddingCache(cache_dir)), model
    if run_path is None:
        raise InputError("--format npz needs --model to embed the prompts, e.g. --model hf:<dir>")
    from cotclip.optimizer.review.rundata import cached_run_encoder, run_inputs

    config, inputs = run_inputs(run_path)
    return cached_run_encoder(config, inputs, cache_dir), run_model_spec(config)


def run_model_spec(config) -> str:
    """The run's ``--model``; plain ``synthetic`` gets its world named, so it loads without the run's data."""
    if config.model.strip() == "synthetic" and config.data.startswith("synthetic:"):
        return f"synthetic:{config.data.partition(':')[2]}"
    return config.model
