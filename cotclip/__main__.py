"""``python -m cotclip.optimizer`` runs the CLI."""

from cotclip.cli import run

run()
