"""Checking image labels against a system's classes (one message for every caller)."""

from __future__ import annotations

from collections.abc import Sequence

from cotclip.systems.errors import DataError

__all__ = ["check_labels"]


def check_labels(labels: Sequence[str], classes: Sequence[str]) -> None:
    """DataError naming the labels that are not ``classes`` (and how many images carry them)."""
    known = set(classes)
    if unknown := sorted({label for label in labels if label not in known}):
        count = sum(1 for label in labels if label not in known)
        shown = ", ".join(repr(u) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise DataError(
            f"{count} image(s) have labels that are not classes of the system: {shown}; "
            "add those classes to the system or pass --ignore-unknown to drop the images"
        )
