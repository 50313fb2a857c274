"""``python -m cotclip.optimizer`` runs the CLI."""

from cotclip.optimizer.cli import run

run()
