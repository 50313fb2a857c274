"""The typer application and the error boundary every command shares.

Only the CLI configures logging. A :class:`CotclipError` becomes one line on stderr
and exit code 2; click usage errors also become one line and exit 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import typer
from rich.console import Console

from cotclip.systems.errors import CotclipError

__all__ = ["app", "main", "emit_json", "console", "err_console"]

app = typer.Typer(
    name="cotclip",
    help="Build and optimize attribute-question classification systems for frozen CLIP-style encoders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


# dspy sets its own "dspy" logger to INFO when it is imported, which happens after this
# callback; levels on its sub-packages' loggers survive that (they are looked up first).
_DSPY_PARTS = tuple(
    f"dspy.{part}"
    for part in (
        "adapters",
        "clients",
        "evaluate",
        "predict",
        "primitives",
        "propose",
        "signatures",
        "teleprompt",
        "utils",
    )
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details to stderr.")) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # Truncated or retried LLM answers are expected, repaired and recorded in the
        # proposer log; their library warnings would only bury the progress display.
        for noisy in ("dspy", *_DSPY_PARTS, "LiteLLM", "litellm", "httpx"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def emit_json(payload: Any) -> None:
    """Print one JSON document on stdout (what every ``--json`` flag does)."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (also used by tests)."""
    # litellm fetches its price map over the network at import unless told otherwise;
    # cotclip runs offline, so the bundled map is the default (a user's setting wins).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # litellm's own log handler writes records below WARNING to stdout, which broke `-v --json`;
    # at WARNING it leaves INFO to the root handler that -v points at stderr.
    os.environ.setdefault("LITELLM_LOG", "WARNING")
    from cotclip.cli import _commands  # noqa: F401  (registers every command)

    try:
        result = app(args=argv, prog_name="cotclip", standalone_mode=False)
        return int(result or 0)
    except CotclipError as exc:
        return _fail(exc.message)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _fail("aborted")
    except typer.TyperException as exc:
        return _usage_error(exc)
    except KeyboardInterrupt:
        _fail("interrupted; finished results are kept")
        return 130


def _usage_error(exc: typer.TyperException) -> int:
    """Typer bundles its own click: its usage errors derive from ``typer.TyperException``."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stdout.write(exc.format_message() + "\n")
        return 0
    ctx = getattr(exc, "ctx", None)
    hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
    return _fail(f"{exc.format_message().rstrip('.')}{hint}")
