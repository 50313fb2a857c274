"""Real write faults for tests: a child process whose files may not grow past a limit.

``RLIMIT_FSIZE`` makes the kernel stop a ``write`` at ``limit`` bytes and fail the next
one with ``EFBIG``, as a full disk would, whatever code path does the writing; so a
test can check what a writer leaves behind when a write breaks off half-way without
knowing how the writer writes. POSIX only (the suite runs on Linux).
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
from collections.abc import Callable

__all__ = ["outcome_under_file_size_limit"]


def _child(limit: int, action: Callable[[], object], queue: multiprocessing.Queue[str]) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing the process
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        action()
    except BaseException as exc:  # reported to the parent, which asserts on it
        queue.put(type(exc).__name__)
        return
    queue.put("ok")


def outcome_under_file_size_limit(limit: int, action: Callable[[], object], timeout: float = 60.0) -> str:
    """Run ``action()`` in a forked child limited to ``limit``-byte files; ``"ok"`` or the exception's class name."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(limit, action, queue))
    child.start()
    outcome = queue.get(timeout=timeout)
    child.join(timeout=timeout)
    if child.exitcode != 0:
        raise RuntimeError(f"the faulted child exited with {child.exitcode}")
    return outcome
