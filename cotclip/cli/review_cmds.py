"""``cotclip review`` and ``cotclip predict``.

``review`` serves the local review page of a run (127.0.0.1 only) or, with
``--apply edits.yaml``, applies reviewer edits from the terminal; both write a new
version of the run. ``predict`` labels image files with a system or a compiled
``.npz`` classifier. A run's current version is its newest human edit (or the best version
built on it), else the run's final choice (best.json).
"""

from __future__ import annotations

import logging
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from cotclip._predict import predict
from cotclip._review import review, review_page
from cotclip.cli._adaptive_options import (
    AdaptiveBudget,
    AdaptiveEpsilon,
    AdaptiveRank,
    AdaptiveStop,
    AdaptiveThreshold,
    adaptive_policy,
)
from cotclip.cli._app import app, console, emit_json, err_console
from cotclip.cli._options import EncoderOptionFlag, SimilarityFlag, TrustRemoteCode, encoder_settings, parse_crop

if TYPE_CHECKING:
    pass

__all__ = ["review_command", "predict_command"]

logger = logging.getLogger(__name__)

_EDITS_HELP = "Apply the edits in this YAML file (schema above) instead of serving the page."


def _apply(run: Path, version: int | None, edits_path: Path, cache_dir: str | None, as_json: bool) -> None:
    saved = review(run, edits_path, version=version, cache_dir=cache_dir)
    if as_json:
        emit_json(saved.to_dict())
    else:
        console.print(
            escape(
                f"edited version {saved.edited_version} ({saved.edited_why}); saved version {saved.version} "
                f"({saved.path}): val accuracy {saved.val_accuracy:.4f}, now the run's current "
                "version (the newest human edit)"
            ),
            soft_wrap=True,
            highlight=False,
        )


def _serve(run: Path, version: int | None, port: int, open_browser: bool, cache_dir: str | None) -> None:
    page = review_page(run, version=version, port=port, cache_dir=cache_dir)
    console.print(
        escape(f"reviewing {run} version {page.version} ({page.why}) at {page.url} (Ctrl-C to stop)"),
        soft_wrap=True,
        highlight=False,
    )
    if open_browser:
        webbrowser.open(page.url)
    try:
        page.serve_forever()
    except KeyboardInterrupt:
        err_console.print("stopped")


@app.command("review")
def review_command(
    run: Path = typer.Argument(..., help="Run directory, e.g. runs/<name>."),
    version: int | None = typer.Option(
        None,
        "--version",
        help="Version number to review (default: the current one: the newest human edit, else the run's final choice).",
    ),
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 (0 = any free port)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser tab."),
    apply: Path | None = typer.Option(None, "--apply", help=_EDITS_HELP),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help="Embedding cache folder (default: the run's)."),
    as_json: bool = typer.Option(False, "--json", help="With --apply: print the new version as JSON."),
) -> None:
    """Review a run's rules against the evidence; edits and locks are saved as a new version.

    The page (127.0.0.1 only) shows, per rule, the share of the class's
    train images on which the encoder picks the rule's option.
    --apply edits.yaml applies edits from a file instead:

    \b
    edits:
      - {op: set_rule, class: Absol, group: color, option: 0}
      - {op: set_option, group: color, index: 1, text: grey}
      - {op: set_template, group: color, index: 0, template: "It is {}."}
      - {op: lock_rule, class: Absol, group: color}
      - {op: lock_group, group: scene}
    notes:
      - "why these edits"

    option: null removes a rule; template index 0 is the main prompt,
    1.. its variants; unlock_rule and unlock_group undo locks.
    """
    if apply is not None:
        _apply(run, version, apply, cache_dir, as_json)
    else:
        _serve(run, version, port, not no_browser, cache_dir)


@app.command("predict")
def predict_command(
    images: list[Path] = typer.Argument(..., help="Image files to label (a synthetic world's images: row numbers)."),
    system: str | None = typer.Option(None, "--system", help="System file, ready:<name> or run dir."),
    compiled: Path | None = typer.Option(
        None, "--compiled", help="Compiled classifier (.npz from `cotclip export --format npz`)."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Encoder spec; default for --compiled: the one stored in the file."
    ),
    crop: str | None = typer.Option(
        None, "--crop", help="Crop box left,top,right,bottom as fractions, e.g. 0.08,0.11,0.92,0.55."
    ),
    adaptive: bool = typer.Option(
        False,
        "--adaptive",
        help="Ask groups adaptively, stopping early (see --stop); needs an npz exported from a run dir.",
    ),
    threshold: AdaptiveThreshold = None,
    budget: AdaptiveBudget = None,
    stop: AdaptiveStop = None,
    epsilon: AdaptiveEpsilon = None,
    rank: AdaptiveRank = None,
    encoder_option: EncoderOptionFlag = None,
    similarity: SimilarityFlag = "cosine",
    trust_remote_code: TrustRemoteCode = False,
    as_json: bool = typer.Option(False, "--json", help="Print [{path, label, scores: top-3}] as JSON."),
) -> None:
    """Label image files; unreadable files are reported and skipped.

    ``--adaptive`` needs a compiled ``.npz`` exported from a run dir (it carries the answer
    model fitted on the run's train split); every ``--stop`` rule but ``accuracy`` works on it.
    """
    crop_box = parse_crop(crop)  # before the classifier loads its encoder
    results = predict(
        images,
        system=system,
        compiled=compiled,
        model=model,
        crop=crop_box,
        adaptive=lambda aggregation: adaptive_policy(
            adaptive,
            threshold=threshold,
            budget=budget,
            stop=stop,
            epsilon=epsilon,
            rank=rank,
            aggregation=aggregation,
        ),
        encoder_settings=encoder_settings(encoder_option, similarity, trust_remote_code),
    )
    if as_json:
        emit_json(results)
        return
    for item in results:
        typer.echo(
            f"{item['path']}\t{item['label']}"
            if item["label"] is not None
            else f"{item['path']}\tunreadable: {item['error']}"
        )
