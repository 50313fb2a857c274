"""``cotclip transfer RUN --model M [--model M2 ...]``: a run's systems on encoders it was not optimized on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cotclip._transfer import TransferTable, transfer
from cotclip.cli._app import app, console, emit_json
from cotclip.cli._options import (
    CacheDir,
    EncoderOptionFlag,
    JsonFlag,
    SimilarityFlag,
    TrustRemoteCode,
    encoder_settings,
)
from cotclip.optimizer.loop.result import HeldOutScore

__all__ = ["transfer_command"]


def _cell(score: HeldOutScore | None) -> str:
    return "n/a" if score is None else f"{score.accuracy:.1%} [dim]({score.ci[0]:.1%}-{score.ci[1]:.1%})[/]"


def _print_table(table: TransferTable) -> None:
    view = Table(
        title=f"transfer of v{table.best_version} (best) and v{table.initial_version or '-'} (first proposal), test "
        "split",
        title_justify="left",
    )
    for column in ("encoder", "images", "best", "first proposal", "class-name baseline"):
        view.add_column(column, justify="left" if column == "encoder" else "right")
    for row in table.rows:
        name = f"{row.model} [dim](optimized on)[/]" if row.own else row.model
        view.add_row(name, str(row.n), _cell(row.best), _cell(row.initial), _cell(row.baseline))
    console.print(view)


@app.command("transfer")
def transfer_command(
    run: Annotated[Path, typer.Argument(help="A run dir made by `cotclip optimize`.")],
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Another encoder to score on (repeatable).")
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="The run's data (default: run.yaml's data spec).")] = None,
    cache_dir: CacheDir = None,
    encoder_option: EncoderOptionFlag = None,
    similarity: SimilarityFlag = "cosine",
    trust_remote_code: TrustRemoteCode = False,
    as_json: JsonFlag = False,
) -> None:
    """Score the run's best system, first proposal and class-name baseline on other encoders, same test split.

    The first row is the encoder the run was optimized on. --encoder-option, --similarity and
    --trust-remote-code apply to the --model encoders; the run's own encoder keeps its settings.
    """
    settings = encoder_settings(encoder_option, similarity, trust_remote_code)
    table = transfer(run, model or [], data=data, cache_dir=cache_dir, encoder=settings)
    if as_json:
        emit_json(table.to_dict())
        return
    _print_table(table)
