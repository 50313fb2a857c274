"""``cotclip evaluate`` (a system on a split, beside the class-name baseline) and ``cotclip baseline``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cotclip._evaluate import DataOptions, baseline, check_templates, evaluate
from cotclip._systems import load_system
from cotclip.cli._adaptive_options import (
    Adaptive,
    AdaptiveBudget,
    AdaptiveEpsilon,
    AdaptiveRank,
    AdaptiveStop,
    AdaptiveThreshold,
    adaptive_policy,
    describe_policy,
)
from cotclip.cli._app import app, console, emit_json
from cotclip.cli._options import (
    CacheDir,
    CropBox,
    DataSpec,
    EncoderOptionFlag,
    Fractions,
    IgnoreUnknown,
    ImageColumn,
    JsonFlag,
    LabelColumn,
    ModelSpec,
    Seed,
    SimilarityFlag,
    SplitName,
    SystemSpec,
    Temperature,
    TrustRemoteCode,
    check_split,
    check_temperature,
    encoder_settings,
    parse_crop,
    parse_fractions,
)
from cotclip.scoring.baselines import BASELINE_METHODS
from cotclip.scoring.deploy.adaptive_stops import AdaptivePolicy
from cotclip.scoring.encoders.options import EncoderSettings
from cotclip.scoring.evaluation import ClassificationSummary, EvaluationResult
from cotclip.systems.errors import InputError

if TYPE_CHECKING:
    from cotclip.scoring.deploy.adaptive import AdaptiveResult

__all__ = ["evaluate_command", "baseline_command"]

Templates = Annotated[
    list[str] | None,
    typer.Option(
        "--template", help="Class-name template with one {} (repeat to average several; default 'a photo of {}')."
    ),
]


def _options(
    data: str,
    model: str,
    split: str,
    seed: int,
    fractions: str,
    crop: str | None,
    cache_dir: Path | None,
    columns: tuple[str, str],
    settings: EncoderSettings,
    ignore_unknown: bool,
) -> DataOptions:
    """The shared data flags, parsed and typed (their one-line errors are the flags')."""
    return DataOptions(
        data,
        model,
        split=check_split(split),
        seed=seed,
        fractions=parse_fractions(fractions),
        crop=parse_crop(crop),
        cache_dir=None if cache_dir is None else str(cache_dir),
        image_column=columns[0],
        label_column=columns[1],
        encoder=settings,
        ignore_unknown=ignore_unknown,
        progress=True,
    )


def _templates(templates: list[str] | None) -> tuple[str, ...]:
    return check_templates(templates)


def _print_summary(summary: ClassificationSummary, counts: Counter, title: str) -> None:
    console.print(f"[bold]{title}[/]")
    table = Table()
    table.add_column("class")
    table.add_column("images", justify="right")
    table.add_column("accuracy", justify="right")
    for name, value in summary.per_class.items():
        table.add_row(name, str(counts.get(name, 0)), "-" if value is None else f"{value:.1%}")
    console.print(table)
    if summary.confusions:
        confused = Table(title="most confused (true -> predicted)", title_justify="left")
        for column in ("true", "predicted", "images"):
            confused.add_column(column, justify="right" if column == "images" else "left")
        for true, predicted, count in summary.confusions:
            confused.add_row(true, predicted, str(count))
        console.print(confused)


def _print_skipped(skipped: dict[str, int]) -> None:
    if skipped.get("unreadable"):
        console.print(f"[yellow]skipped {skipped['unreadable']} unreadable image(s)[/]")
    if skipped.get("unknown_label"):
        console.print(
            f"[yellow]dropped {skipped['unknown_label']} image(s) with labels outside the system (--ignore-unknown)[/]"
        )


@app.command("evaluate")
def evaluate_command(
    system: SystemSpec,
    data: DataSpec,
    model: ModelSpec,
    split: SplitName = "test",
    seed: Seed = 0,
    fractions: Fractions = "0.6,0.2,0.2",
    temperature: Temperature = None,
    crop: CropBox = None,
    cache_dir: CacheDir = None,
    ignore_unknown: IgnoreUnknown = False,
    template: Templates = None,
    image_column: ImageColumn = "image",
    label_column: LabelColumn = "label",
    adaptive: Adaptive = False,
    threshold: AdaptiveThreshold = None,
    budget: AdaptiveBudget = None,
    stop: AdaptiveStop = None,
    epsilon: AdaptiveEpsilon = None,
    rank: AdaptiveRank = None,
    encoder_option: EncoderOptionFlag = None,
    similarity: SimilarityFlag = "cosine",
    trust_remote_code: TrustRemoteCode = False,
    as_json: JsonFlag = False,
) -> None:
    """Accuracy of a system on a split, per class, its top confusions and the class-name baseline.

    With ``--adaptive``, the answer model is fitted on the train split and each image of
    the evaluated split is questioned group by group until the ``--stop`` rule is met.
    """
    check_temperature(temperature)
    templates = _templates(template)
    loaded = load_system(system)
    policy = adaptive_policy(
        adaptive,
        threshold=threshold,
        budget=budget,
        stop=stop,
        epsilon=epsilon,
        rank=rank,
        aggregation=loaded.scoring.aggregation,
    )
    settings = encoder_settings(encoder_option, similarity, trust_remote_code)
    options = _options(
        data, model, split, seed, fractions, crop, cache_dir, (image_column, label_column), settings, ignore_unknown
    )
    evaluation = evaluate(loaded, options, temperature=temperature, templates=templates, adaptive=policy)
    if as_json:
        emit_json(evaluation.to_dict())
        return
    result = evaluation.result
    summary = ClassificationSummary(result.accuracy, result.n, result.per_class, result.confusions)
    _print_summary(summary, Counter(evaluation.label_counts), evaluation.title)
    _print_skipped(result.skipped)
    _print_accuracies(result, evaluation.adaptive, policy)


def _print_accuracies(
    result: EvaluationResult, adaptive_result: AdaptiveResult | None, policy: AdaptivePolicy | None
) -> None:
    """The accuracy lines under the tables: system, baseline, cache and the adaptive run if any."""
    console.print(f"accuracy: [bold]{result.accuracy:.1%}[/]")
    baseline = "n/a" if result.baseline_accuracy is None else f"{result.baseline_accuracy:.1%}"
    console.print(f"class-name baseline: {baseline} [dim]({result.baseline_note})[/]")
    if result.cache is not None:  # None only for a result scored without the embedding cache
        console.print(f"[dim]embedding cache: {result.cache['hits']} hits, {result.cache['misses']} misses[/]")
    if adaptive_result is not None and policy is not None:
        console.print(
            f"adaptive ({describe_policy(policy)}): {adaptive_result.accuracy:.1%} with "
            f"{adaptive_result.mean_prompts:.1f} of {adaptive_result.full_prompts} prompts per image "
            f"({adaptive_result.prompt_fraction:.0%})"
        )


@app.command("baseline")
def baseline_command(
    data: DataSpec,
    model: ModelSpec,
    method: Annotated[str, typer.Option("--method", help="name, descriptors (needs --system) or waffle.")] = "name",
    system: Annotated[
        str | None, typer.Option("--system", help="System whose classes (and rule options) to use.")
    ] = None,
    split: SplitName = "test",
    seed: Seed = 0,
    fractions: Fractions = "0.6,0.2,0.2",
    crop: CropBox = None,
    cache_dir: CacheDir = None,
    template: Templates = None,
    waffle_seed: Annotated[int, typer.Option("--waffle-seed", help="Seed of the random waffle descriptors.")] = 0,
    waffle_count: Annotated[int, typer.Option("--waffle-count", help="Random descriptors per class.")] = 16,
    ignore_unknown: IgnoreUnknown = False,
    image_column: ImageColumn = "image",
    label_column: LabelColumn = "label",
    encoder_option: EncoderOptionFlag = None,
    similarity: SimilarityFlag = "cosine",
    trust_remote_code: TrustRemoteCode = False,
    as_json: JsonFlag = False,
) -> None:
    """Zero-shot accuracy of a baseline: class names, DCLIP-style descriptors or WaffleCLIP random words."""
    if method not in BASELINE_METHODS:
        raise InputError(f"--method {method!r} is not a baseline; use one of {', '.join(BASELINE_METHODS)}")
    if method == "descriptors" and system is None:
        raise InputError("--method descriptors describes classes by their rule options; pass --system S")
    templates = _templates(template)
    loaded = load_system(system) if system is not None else None
    settings = encoder_settings(encoder_option, similarity, trust_remote_code)
    options = _options(
        data, model, split, seed, fractions, crop, cache_dir, (image_column, label_column), settings, ignore_unknown
    )
    evaluation = baseline(
        options, method=method, system=loaded, templates=templates, waffle_seed=waffle_seed, waffle_count=waffle_count
    )
    if as_json:
        emit_json(evaluation.to_dict())
        return
    summary = evaluation.result.summary
    _print_summary(summary, Counter(evaluation.label_counts), evaluation.title)
    _print_skipped(evaluation.result.skipped)
    console.print(f"{method} baseline accuracy: [bold]{summary.accuracy:.1%}[/]")
