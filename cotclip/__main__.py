"""``python -m cotclip`` runs the CLI."""

from cotclip.cli import run

run()
