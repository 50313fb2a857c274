"""``predict``: label image files with a system (file, ``ready:<name>`` or run dir) or a compiled ``.npz``.

Unreadable files are reported and skipped; a synthetic world's encoder labels that
world's rows (the "images" are row numbers). ``adaptive`` asks groups one at a time and
stops early; it needs an ``.npz`` exported from a run dir (its answer model was fitted
on the run's train split).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cotclip._export import load_system_or_run, run_model_spec
from cotclip._types import need, need_path
from cotclip.systems.errors import DataError, InputError

if TYPE_CHECKING:
    import numpy as np

    from cotclip.scoring.data import Crop
    from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy
    from cotclip.scoring.deploy.classifier import Classifier
    from cotclip.scoring.encoders import ImageRef
    from cotclip.scoring.encoders.options import EncoderSettings
    from cotclip.scoring.similarity import MultiVectors

__all__ = ["predict"]

logger = logging.getLogger(__name__)


def predict(
    images: Sequence[str | os.PathLike[str]],
    *,
    system: str | os.PathLike[str] | None = None,
    compiled: str | os.PathLike[str] | None = None,
    model: str | None = None,
    crop: Crop | None = None,
    adaptive: AdaptivePolicy | Callable[[str], AdaptivePolicy | None] | None = None,
    encoder_settings: EncoderSettings | None = None,
) -> list[dict[str, Any]]:
    """One row per image, in order: ``{path, label, scores: top-3 {class, probability}}``.

    Give exactly one of ``system`` (a file, ``ready:<name>`` or a run dir; ``model`` is
    required unless the run dir names its encoder) or ``compiled`` (an ``.npz`` from
    ``export``; ``model`` overrides the encoder stored in it). ``crop`` is a box
    ``(left, top, right, bottom)`` in fractions. With ``adaptive`` (a policy, or a function
    of the classifier's aggregation returning one) a row holds ``label``, ``prompts`` and
    the ``asked`` groups instead of scores. An unreadable image's row is
    ``{path, label: None, error}``; :class:`DataError` when none can be read.
    """
    paths = [Path(need_path(image, "images")) for image in need(images, "images", (list, tuple), "a list of paths")]
    classifier = _classifier(
        None if system is None else os.fspath(need_path(system, "system")),
        None if compiled is None else Path(need_path(compiled, "compiled")),
        model,
        encoder_settings,
    )
    aggregation = classifier.compiled.aggregation
    # a function of the aggregation (the CLI's flag parser) checks what it builds; a given policy is checked here
    policy = adaptive(aggregation) if callable(adaptive) else adaptive and adaptive.check(aggregation)
    _check_adaptive(classifier, policy)
    return _predictions(classifier, paths, crop, policy)


def _classifier(
    system: str | None, compiled: Path | None, model: str | None, settings: EncoderSettings | None = None
) -> Classifier:
    from cotclip.scoring.deploy.classifier import Classifier

    if compiled is not None and system is None:
        return Classifier.load(compiled, encoder=model, encoder_settings=settings)
    if system is None or compiled is not None:
        raise InputError("give exactly one of --system SYSTEM or --compiled FILE.npz")
    loaded, run_path = load_system_or_run(system)
    if model is None and run_path is not None:
        from cotclip.optimizer.review.rundata import run_config

        model = run_model_spec(run_config(run_path))
    if model is None:
        raise InputError("--system needs --model to embed its prompts; add --model hf:<dir> (or use --compiled)")
    return Classifier.load(loaded, encoder=model, encoder_settings=settings)


def _image_refs(classifier: Classifier, images: list[Path], crop_box: Crop | None) -> list[ImageRef]:
    """Refs of image files, or of a synthetic world's rows when the encoder is that world's (it has no files)."""
    from cotclip.scoring.deploy.classifier import image_refs_from_paths

    world = getattr(classifier.encoder, "world", None)
    if world is None:
        return image_refs_from_paths(images, crop=crop_box)
    if crop_box is not None:
        raise InputError(f"synthetic world {world.name} images have no pixels to crop; drop --crop")
    from cotclip.scoring.simulation.dataset import world_image_refs

    return world_image_refs(world, [str(image) for image in images])


def _labelled_rows(
    classifier: Classifier, embeddings: np.ndarray | MultiVectors, policy: AdaptivePolicy | None
) -> list[dict[str, Any]]:
    """One dict per embedded image: label and top-3 probabilities.

    With ``policy`` given: the adaptive label and the prompts it asked.
    """
    if not len(embeddings):
        return []
    if policy is not None:
        result = classifier.predict_adaptive(
            embeddings,
            threshold=policy.threshold,
            budget=policy.budget,
            rank=policy.rank,
            stop=policy.stop,
            epsilon=policy.epsilon,
        )
        groups = classifier.compiled.group_names
        return [
            {"label": label, "prompts": int(prompts), "asked": [g for g, on in zip(groups, asked) if on]}
            for label, prompts, asked in zip(result.labels, result.prompts, result.asked)
        ]
    proba = classifier.predict_proba(embeddings)
    rows = []
    for row in proba:
        order = sorted(range(len(classifier.classes)), key=lambda c: (-row[c], c))[:3]
        rows.append(
            {
                "label": classifier.classes[order[0]],
                "scores": [{"class": classifier.classes[c], "probability": float(row[c])} for c in order],
            }
        )
    return rows


def _check_adaptive(classifier: Classifier, policy: AdaptivePolicy | None) -> None:
    """Refuse ``--adaptive`` that this classifier cannot run, before any image is embedded."""
    if policy is None:
        return
    if not classifier.compiled.has_adaptive:
        raise InputError(
            "--adaptive needs an answer model fitted on train images; export the npz from a run dir "
            "(cotclip export runs/<name> --format npz) or call Classifier.fit_adaptive"
        )
    refusal = classifier.adaptive_refusal(policy.stop)
    if refusal:
        raise InputError(refusal)


def _predictions(
    classifier: Classifier, images: list[Path], crop_box: Crop | None, policy: AdaptivePolicy | None
) -> list[dict[str, Any]]:
    """One row per image file, in order: its label (and scores or asked groups), or why it could not be read."""
    refs = _image_refs(classifier, images, crop_box)
    embeddings, ok_positions, failures = classifier.embed(refs)
    if failures and not ok_positions:
        raise DataError(
            f"none of the {len(images)} image(s) could be read, first: {refs[failures[0][0]].source} "
            f"({failures[0][1]}); check the files"
        )
    for position, reason in failures:
        logger.warning("skipped unreadable image %s: %s", refs[position].source, reason)
    rows = _labelled_rows(classifier, embeddings, policy)
    results = [{"path": str(images[p]), **row} for p, row in zip(ok_positions, rows)]
    results += [{"path": str(images[p]), "label": None, "error": reason} for p, reason in failures]
    return results
