"""Transfer: a run's systems scored on encoders they were not optimized on.

For each encoder spec, the run's data is loaded and split exactly as the run did
(``run.yaml``'s data, classes, seed and fractions; ``data`` may point at another copy of
the data), its **test** images are embedded through the embedding cache, and three
things are scored side by side with 95% bootstrap intervals: the run's best version (on
val), its first proposal (the best round-0 candidate on val) and the class-name baseline.
The run's own encoder comes first in the table, so every row compares with where the
system was optimized. Nothing is optimized here; the test split is only read.

Used by ``cotclip transfer RUN --model M ...`` and by ``optimize --transfer-model M``
(the table then goes into the run's report and ``summary.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotclip.optimizer.loop.config import RunConfig, load_run_config
from cotclip.optimizer.loop.data import load_inputs
from cotclip.optimizer.loop.final import baseline_on_test, pick_comparisons, score_on_test
from cotclip.optimizer.loop.result import HeldOutScore
from cotclip.optimizer.loop.runs import RunDir, VersionRecord
from cotclip.scoring.cache import CachedEncoder, EmbeddingCache
from cotclip.scoring.data import Dataset
from cotclip.scoring.embedding import embed_dataset
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.registry import load_encoder
from cotclip.scoring.scorer import ImageSet, PromptEmbedder
from cotclip.systems.errors import RunDirError

__all__ = [
    "TransferRow",
    "TransferTable",
    "transfer_table",
    "transfer_run",
    "transfer_markdown",
    "check_transfer_models",
]


@dataclass(frozen=True)
class TransferRow:
    """One encoder's test scores of the run's best, its first proposal and the class-name baseline."""

    model: str
    identity: str
    own: bool
    n: int
    best: HeldOutScore
    initial: HeldOutScore | None
    baseline: HeldOutScore | None
    baseline_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready row (scores as ``{"accuracy", "ci"}``)."""

        def brief(score: HeldOutScore | None) -> dict[str, Any] | None:
            return None if score is None else {"accuracy": score.accuracy, "ci": list(score.ci)}

        return {
            "model": self.model,
            "identity": self.identity,
            "optimized_on": self.own,
            "n": self.n,
            "best": brief(self.best),
            "initial": brief(self.initial),
            "baseline": brief(self.baseline),
            "baseline_note": self.baseline_note,
        }


@dataclass(frozen=True)
class TransferTable:
    """Rows for the run's own encoder and each other one, all on the same test split."""

    best_version: str
    initial_version: str | None
    rows: tuple[TransferRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"best_version", "initial_version", "rows": [...]}``."""
        return {
            "best_version": self.best_version,
            "initial_version": self.initial_version,
            "rows": [row.to_dict() for row in self.rows],
        }

    def to_markdown(self) -> str:
        """A Markdown table (see :func:`transfer_markdown`)."""
        return transfer_markdown(self.to_dict())


def transfer_markdown(table: dict[str, Any]) -> str:
    """Markdown for a :meth:`TransferTable.to_dict` (accuracy and 95% CI per cell; best's ratio to its own encoder)."""

    def cell(score: dict[str, Any] | None) -> str:
        return "n/a" if score is None else f"{score['accuracy']:.1%} ({score['ci'][0]:.1%}-{score['ci'][1]:.1%})"

    own = next((row["best"]["accuracy"] for row in table["rows"] if row["optimized_on"]), None)
    lines = [
        f"Best = v{table['best_version']}, first proposal = v{table['initial_version'] or '-'}; "
        "test split, 95% bootstrap intervals.",
        "",
        "| encoder | images | best | first proposal | class-name baseline | best / best on its own encoder |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in table["rows"]:
        ratio = "-" if not own else f"{row['best']['accuracy'] / own:.2f}"
        name = f"{row['model']} (optimized on)" if row["optimized_on"] else row["model"]
        lines.append(
            f"| `{name}` | {row['n']} | {cell(row['best'])} | {cell(row['initial'])} | {cell(row['baseline'])} | "
            f"{ratio} |"
        )
    return "\n".join(lines) + "\n"


def _score_row(config: RunConfig, best: VersionRecord, initial: VersionRecord | None, own: bool) -> TransferRow:
    inputs = load_inputs(config)
    encoder = CachedEncoder(inputs.encoder, EmbeddingCache(config.cache_dir))
    known = set(inputs.classes)
    positions = [p for p in inputs.splits.test if inputs.dataset.labels[p] in known]
    embedded = embed_dataset(inputs.dataset, encoder, positions=positions, progress=False)
    test = ImageSet(embedded.embeddings, list(embedded.labels), PromptEmbedder(encoder))

    def scored(key: str, record: VersionRecord) -> HeldOutScore:
        return score_on_test(
            key,
            record.system,
            test,
            temperature=config.temperature,
            n_resamples=config.bootstrap,
            seed=config.seed,
            version=record.version_id,
        )

    top, first = scored("best", best), None if initial is None else scored("initial", initial)
    baseline, note = baseline_on_test(inputs.classes, test, n_resamples=config.bootstrap, seed=config.seed)
    return TransferRow(config.model, encoder.identity, own, len(test), top, first, baseline, note)


def transfer_table(
    config: RunConfig,
    versions: Sequence[VersionRecord],
    models: Sequence[str],
    *,
    settings: EncoderSettings | None = None,
    data: str | None = None,
    include_own: bool = True,
) -> TransferTable:
    """Score the best version, the first proposal and the baseline of a run on ``models``.

    ``settings`` (encoder options, similarity, remote-code trust) apply to every model in
    ``models``; the run's own encoder keeps the run's. ``data`` replaces the run's data spec.
    """
    picked = pick_comparisons(list(versions))
    best, initial = picked["best"], picked["initial"]
    if best is None:
        raise RunDirError(f"run {config.run_dir} has no versions to transfer; let it evaluate at least one system")
    base = config.model_copy(update={"data": data}) if data else config
    settings = settings or EncoderSettings()
    rows = [_score_row(base, best, initial, own=True)] if include_own else []
    for model in models:
        other = base.model_copy(
            update={
                "model": model,
                "encoder_options": list(settings.options),
                "similarity": settings.similarity,
                "trust_remote_code": settings.trust_remote_code,
            }
        )
        rows.append(_score_row(other, best, initial, own=False))
    return TransferTable(best.version_id, None if initial is None else initial.version_id, tuple(rows))


def transfer_run(
    run_path: Path | str,
    models: Sequence[str],
    *,
    settings: EncoderSettings | None = None,
    data: str | None = None,
    cache_dir: str | None = None,
) -> TransferTable:
    """:func:`transfer_table` for the finished (or running) run in ``run_path``; reads, never writes, the run dir."""
    config_path = Path(run_path) / "run.yaml"
    if not config_path.is_file():
        raise RunDirError(f"{run_path} is not a run dir (no run.yaml); pass the folder `cotclip optimize` created")
    config = load_run_config(config_path)
    if cache_dir:
        config = config.model_copy(update={"cache_dir": cache_dir})
    return transfer_table(config, RunDir(Path(run_path)).load_versions(), models, settings=settings, data=data)


def check_transfer_models(config: RunConfig, dataset: Dataset) -> None:
    """Load every ``config.transfer_models`` encoder once, so that a bad spec fails before the run starts."""
    settings = EncoderSettings(trust_remote_code=config.trust_remote_code)
    for model in config.transfer_models:
        load_encoder(model, dataset=dataset, **settings.loader_kwargs())
