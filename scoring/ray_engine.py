"""The Ray engine of ``cotclip embed``: Ray Data ``map_batches`` over an actor pool, one encoder per actor.

Each actor (:class:`EncodeBatches`) loads the dataset and the encoder once from the
job's specs and writes each batch's rows into the embedding cache before returning
(atomic writes, see :mod:`cotclip.scoring.cache`); the driver only counts what comes
back, for the progress bar and the report. Every actor is started before the first
batch is handed out (``wait_for_min_actors_s``: otherwise the first actor takes the
queue while the others still import torch, on the same cores), and each input block
is exactly one batch (``override_num_blocks``), so that each actor task is one
encoder call. Each batch reports which actor ran it and the CPU seconds it took, so
the report can say how busy each actor was. A batch whose actor dies is retried by
Ray Data on a restarted actor; if the job fails anyway, the rows already written
stay, and the next ``embed`` encodes only the rest. On a multi-machine cluster the
cache folder must be one shared filesystem path that every node can write.

Ray is the optional extra ``cotclip[ray]``; it is imported only here, only when
``--engine ray`` is asked for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from cotclip.scoring.bulk_embed import WorkerUsage
from cotclip.systems.errors import EncoderError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from cotclip.scoring.bulk_embed import EmbedJob

__all__ = ["EncodeBatches", "check_ray", "encode_with_ray", "RayEngineError"]

_INSTALL_HINT = "pip install 'cotclip[ray]'"
_CONNECT_TIMEOUT_S = 5.0
_ACTOR_START_TIMEOUT_S = 300  # all actors up (each imports torch and loads the encoder) before any batch


class RayEngineError(EncoderError):
    """The Ray job failed (e.g. workers died more often than Ray retries); what was written is kept."""


def check_ray(address: str | None = None) -> None:
    """Raise :class:`InputError` (one line) when Ray is not installed or ``address`` does not answer."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(
            f"--engine ray needs Ray, which is not installed; {_INSTALL_HINT}, or use --engine local"
        ) from None
    if address is not None:
        _check_address(address)


def _check_address(address: str) -> None:
    """Fail fast (one line) when ``host:port`` does not accept a TCP connection; ``auto`` is left to Ray."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"--address {address!r} is not host:port; e.g. --address 10.0.0.5:6379 (or auto)")
    try:
        with socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise InputError(
            f"the Ray cluster at {address} does not answer ({exc.strerror or exc}); start it with "
            "`ray start --head` there, or fix --address, or drop it to start a local cluster"
        ) from None


def _start(address: str | None, workers: int) -> bool:
    """Connect to ``address`` or start a local cluster; True when this call started Ray (and must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address,
            num_cpus=workers if address is None else None,  # a joined cluster keeps its own CPUs
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise InputError(
            f"cannot start or join {where} ({str(exc).splitlines()[0][:160]}); check --address "
            "or run `ray status` there"
        ) from None
    return True


class EncodeBatches:
    """A Ray Data actor: one dataset and one cached encoder, loaded once; encodes batches of positions."""

    def __init__(self, job: EmbedJob) -> None:
        self.dataset, self.encoder = job.open()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Encode the images at ``batch["position"]`` into the cache; return which could not be read and why.

        Also returns, per row, the batch's start and end (wall clock), the actor
        (``host:pid``) and the batch's CPU seconds per image.
        """
        began = time.time()  # wall clock: comparable across the actors of one machine or a synced cluster
        cpu = time.process_time()
        positions = [int(p) for p in batch["position"]]
        encoding = self.encoder.encode_images([self.dataset.images[p] for p in positions])
        reasons = [""] * len(positions)
        for index, reason in encoding.failures:
            reasons[index] = reason or "unreadable"
        count = len(positions)
        ended = np.full(count, time.time())
        worker = f"{socket.gethostname()}:{os.getpid()}"
        return {
            "position": np.asarray(positions, dtype=np.int64),
            "reason": np.asarray(reasons, dtype=object),
            "began": np.full(count, began),
            "ended": ended,
            "worker": np.asarray([worker] * count, dtype=object),
            "cpu": np.full(count, (time.process_time() - cpu) / max(count, 1)),
        }


@contextlib.contextmanager
def _data_context(**values: Any) -> Iterator[None]:
    """Ray Data's current ``DataContext`` with ``values`` set for the block, restored afterwards."""
    import ray.data

    context = ray.data.DataContext.get_current()
    before = {name: getattr(context, name) for name in values}
    for name, value in values.items():
        setattr(context, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(context, name, value)


def _worker_usage(batches: dict[tuple[str, float, float], tuple[int, float]]) -> list[WorkerUsage]:
    """Per actor: batches, images, busy seconds and CPU seconds, from ``{(worker, began, ended): (images, cpu)}``."""
    totals: dict[str, list[float]] = {}
    for (worker, began, ended), (images, cpu) in batches.items():
        row = totals.setdefault(worker, [0, 0, 0.0, 0.0])
        row[0] += 1
        row[1] += images
        row[2] += ended - began
        row[3] += cpu
    return [WorkerUsage(worker, int(b), int(n), busy, cpu) for worker, (b, n, busy, cpu) in sorted(totals.items())]


def encode_with_ray(
    job: EmbedJob,
    positions: list[int],
    *,
    batch_size: int,
    workers: int,
    address: str | None,
    advance: Callable[[int], None],
) -> tuple[list[tuple[str, str]], float, list[WorkerUsage]]:
    """Encode ``positions`` of ``job.data`` on Ray.

    Returns the unreadable images as ``(source, reason)``, the encoding span (seconds
    from the first batch an actor began to the last one it finished: start-up left
    out) and what each actor did.
    """
    import ray

    check_ray(address)
    started = _start(address, workers)
    try:
        with _data_context(enable_progress_bars=False, wait_for_min_actors_s=_ACTOR_START_TIMEOUT_S):
            # one block per batch: each actor task is one encoder call (no 32 + 4 remainder calls)
            items = ray.data.from_items(
                [{"position": p} for p in positions], override_num_blocks=-(-len(positions) // batch_size)
            )
            encoded = items.map_batches(
                EncodeBatches,
                fn_constructor_kwargs={"job": job},
                batch_size=batch_size,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=1,
                batch_format="numpy",
            )
            failed, batches = _collect(encoded, workers, advance)
        first = min((began for _, began, _ in batches), default=0.0)
        last = max((ended for _, _, ended in batches), default=0.0)
        dataset_images = job.open()[0].images if failed else ()
        unreadable = [(dataset_images[p].source, reason) for p, reason in failed]
        return unreadable, max(0.0, last - first), _worker_usage(batches)
    finally:
        if started:
            ray.shutdown()


def _collect(
    encoded: Any, workers: int, advance: Callable[[int], None]
) -> tuple[list[tuple[int, str]], dict[tuple[str, float, float], tuple[int, float]]]:
    """Run the job: the failed positions and, per batch ``(worker, began, ended)``, its images and CPU seconds."""
    import ray

    failed: list[tuple[int, str]] = []
    batches: dict[tuple[str, float, float], tuple[int, float]] = {}
    try:
        # a few outputs buffered per actor: a driver that is slow to take them must not stall the actors
        for batch in encoded.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2 * workers):
            failed.extend((int(p), str(r)) for p, r in zip(batch["position"], batch["reason"]) if r)
            for worker, began, ended, cpu in zip(batch["worker"], batch["began"], batch["ended"], batch["cpu"]):
                key = (str(worker), float(began), float(ended))
                images, total = batches.get(key, (0, 0.0))
                batches[key] = (images + 1, total + float(cpu))
            advance(len(batch["position"]))
    except ray.exceptions.RayError as exc:
        raise RayEngineError(
            f"the Ray job failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); rows already written "
            "are kept: run the same `cotclip embed` again to encode only the missing images"
        ) from None
    return failed, batches
