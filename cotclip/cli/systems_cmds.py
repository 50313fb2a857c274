"""``cotclip validate``, ``cotclip export`` and ``cotclip import``: system files in and out.

A SYSTEM argument is anything :func:`cotclip.systems.io.load_system` accepts: a canonical
JSON/YAML file, a seed-format file, or ``ready:<name>``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from cotclip._export import export, is_run_dir
from cotclip._systems import FORMATS, convert_system, validate_system
from cotclip.cli._app import app, console, emit_json, err_console
from cotclip.cli._options import EncoderOptionFlag, SimilarityFlag, TrustRemoteCode, encoder_settings
from cotclip.systems.errors import InputError
from cotclip.systems.model import System
from cotclip.systems.validate import ValidationReport

__all__ = ["validate_command", "export_command", "import_command"]

_SYSTEM_HELP = "System file (canonical JSON/YAML or the seed article's format) or ready:<name>."


def _print_report(source: str, report: ValidationReport) -> None:
    for message in report.errors:
        err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    for message in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True, highlight=False)
    if report.valid:
        summary = f"{source}: valid" + (f", {len(report.warnings)} warning(s)" if report.warnings else "")
        console.print(escape(summary), soft_wrap=True, highlight=False)


@app.command("validate")
def validate_command(
    system: str = typer.Argument(..., help=_SYSTEM_HELP),
    as_json: bool = typer.Option(False, "--json", help='Print {"valid", "errors", "warnings"} as JSON.'),
) -> None:
    """Check a system: errors (exit 2) make it unusable, warnings (exit 0) point at weaknesses."""
    try:
        report = validate_system(system)
    except InputError as exc:  # unreadable (missing, binary, not UTF-8): still one JSON document with --json
        if not as_json:
            raise
        emit_json({"valid": False, "errors": [exc.message], "warnings": []})
        raise typer.Exit(2) from None
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_report(system, report)
    if not report.valid:
        raise typer.Exit(2)


def _wrote(out: Path, fmt: str, system: System) -> None:
    console.print(
        escape(f"wrote {out} ({fmt}: {len(system.classes)} classes, {len(system.groups)} groups)"),
        soft_wrap=True,
        highlight=False,
    )


@app.command("export")
def export_command(
    system: str = typer.Argument(
        ...,
        help=_SYSTEM_HELP
        + " Or a run dir runs/<name> (its current version: the newest human edit, else the run's final choice).",
    ),
    fmt: str = typer.Option(
        ..., "--format", "-f", help=f"Output format: {', '.join(FORMATS)}, npz (compiled classifier)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="File to write (written atomically; never the input file)."),
    version: int | None = typer.Option(
        None, "--version", help="With a run dir: export this version instead of the current one."
    ),
    model: str | None = typer.Option(
        None, "--model", help="npz: encoder that embeds the prompts (default for a run dir: the run's)."
    ),
    cache_dir: str | None = typer.Option(None, "--cache-dir", help="npz: embedding cache folder."),
    encoder_option: EncoderOptionFlag = None,
    similarity: SimilarityFlag = "cosine",
    trust_remote_code: TrustRemoteCode = False,
) -> None:
    """Write a system in another format, e.g. the seed article's (seed-json), or compile it (npz).

    --encoder-option, --similarity and --trust-remote-code apply to --model (a run dir's own
    encoder keeps the run's settings).
    """
    if fmt in FORMATS and not is_run_dir(system) and version is None:
        _wrote(out, fmt, convert_system(system, out, fmt))
        return
    settings = encoder_settings(encoder_option, similarity, trust_remote_code)
    written = export(system, out, fmt, model=model, version=version, cache_dir=cache_dir, encoder=settings)
    _wrote(out, fmt, written)


@app.command("import")
def import_command(
    path: str = typer.Argument(..., help=_SYSTEM_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Canonical JSON file to write (never the input file)."),
) -> None:
    """Convert a system in any accepted format (seed format included) to canonical JSON."""
    _wrote(out, "json", convert_system(path, out, "json"))
