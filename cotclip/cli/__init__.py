"""The ``cotclip`` command line."""

import sys

from cotclip.cli._app import app, main

__all__ = ["app", "main", "run"]


def run() -> None:
    """Entry point used by the console script: exit with :func:`main`'s code."""
    sys.exit(main())
