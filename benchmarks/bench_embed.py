"""Embedding throughput: the raw encoder, ``cotclip embed`` locally, and on Ray with 1 and 2 workers.

Run: ``.venv/bin/python benchmarks/bench_embed.py`` (``--images 1200 --batch-size 32``).

On the tiny CLIP built by ``tests/helpers/tiny_clip.py`` (``hf:<dir>``, 32 px images,
a real transformers ``CLIPModel``) over a folder of random PNGs, side by side:

* ``raw forward``: ``encoder.encode_images`` in batches, no cache (decode + preprocess + forward);
* ``local``: ``embed_into_cache(engine="local")`` into an empty cache;
* ``ray N``: ``embed_into_cache(engine="ray", workers=N)`` into an empty cache, on a
  local Ray cluster started once beforehand (its start-up is reported apart); the
  time includes Ray Data planning and starting the N actors (each loads the encoder);
* ``steady``: images/s from the first batch an actor began to the last one it finished
  (timed inside the actors: start-up left out); ``start s``: the rest of the run's time
  (Ray Data planning, actors importing torch and loading the encoder, collecting results);
* ``rerun``: ``embed`` again (nothing to encode) and the evaluate pipeline over every
  image, which must report 0 cache misses.

Under each Ray row, one line per actor: batches, images, busy seconds (inside the
encoder call) as a share of the steady span, and CPU seconds (``time.process_time``
inside the actor). On a shared machine the wall-time rates depend on what else runs;
the CPU columns do not: ``img/cpu-s`` per actor stays flat when the actors do not
slow each other, and ``busy`` near 100% for every actor means Ray kept them all fed.
The load average and the machine's CPU use during the row (``/proc/stat``) are printed.

Every process computes with one torch thread (Ray gives a 1-CPU actor
``OMP_NUM_THREADS=1``; this process calls ``torch.set_num_threads(1)``), so that the
encoder is CPU-bound on one core per worker. ``overhead/img`` is the time per image
above the raw forward, from the steady rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers.tiny_clip import build_image_folder, build_tiny_clip  # noqa: E402

from cotclip.scoring.bulk_embed import EmbedJob, embed_into_cache  # noqa: E402
from cotclip.scoring.evaluation import prepare_images  # noqa: E402


def _raw(job: EmbedJob, batch_size: int) -> float:
    dataset, cached = job.open()
    encoder, refs = cached.encoder, list(dataset.images)
    started = time.perf_counter()
    for start in range(0, len(refs), batch_size):
        encoder.encode_images(refs[start : start + batch_size])
    return len(refs) / (time.perf_counter() - started)


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of the machine so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _workers(report) -> None:
    """One line per Ray actor: how busy it was in the steady span and what its images cost in CPU."""
    for used in report.workers_used:
        busy = 100 * used.busy_s / report.encode_s if report.encode_s else float("nan")
        rate = used.images / used.cpu_s if used.cpu_s else float("nan")
        print(
            f"    actor {used.worker:<18} {used.batches:>4} batches {used.images:>6} images  busy {used.busy_s:6.2f} s "
            f"({busy:3.0f}% of the span)  cpu {used.cpu_s:6.2f} s ({rate:.0f} img/cpu-s)"
        )


def _row(name: str, raw: float, report=None) -> None:
    if report is None:
        print(f"{name:<14}{raw:>12.1f}{'':>12}{0.0:>16.2f}{'':>10}")
        return
    steady = report.steady_images_per_s
    overhead = 1000 * (1 / steady - 1 / raw) if steady and raw else float("nan")
    start = report.seconds - report.encode_s
    print(
        f"{name:<14}{report.images_per_s:>12.1f}{steady:>12.1f}{overhead:>16.2f}{start:>10.1f}"
        f"  {report.encoded} encoded"
    )


def _ray_rows(job: Callable[[str], EmbedJob], raw: float, batch_size: int) -> tuple[dict, dict, float]:
    """One row per Ray worker count: (total, steady) images/s and images per CPU-second, and the cluster start-up."""
    import ray

    began = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - began
    rates, cpu_rates = {}, {}
    try:
        for workers in (1, 2):
            before, load = _cpu_times(), os.getloadavg()[0]
            report = embed_into_cache(
                job(f"ray{workers}"), engine="ray", workers=workers, batch_size=batch_size, progress=False
            )
            after = _cpu_times()
            rates[workers] = (report.images_per_s, report.steady_images_per_s)
            cpu_rates[workers] = report.encoded / max(sum(u.cpu_s for u in report.workers_used), 1e-9)
            _row(f"ray {workers}", raw, report)
            machine = 100 * (1 - (after[1] - before[1]) / max(after[0] - before[0], 1))
            print(f"    load average {load:.2f} before; machine CPU busy {machine:.0f}% during the row")
            _workers(report)
    finally:
        ray.shutdown()
    return rates, cpu_rates, startup


def _summary(job: Callable[[str], EmbedJob], batch_size: int, rates: dict, cpu_rates: dict, startup: float) -> None:
    """The rerun (must hit the cache), the CPU cost per image and the target line."""
    rerun = job("ray2")
    again = embed_into_cache(rerun, batch_size=batch_size, progress=False)
    prepared = prepare_images(rerun.data, rerun.model, split="all", cache_dir=rerun.cache_dir, progress=False)
    misses = prepared.encoder.stats.misses
    print(
        f"rerun: {again.encoded} encoded, {again.already_cached} already cached; evaluate pipeline: "
        f"{misses} cache misses; local Ray cluster start-up {startup:.1f} s (not in the rows)"
    )
    total, steady = rates[2][0] / rates[1][0], rates[2][1] / rates[1][1]
    print(
        f"CPU cost per image: ray 2 workers {cpu_rates[2]:.0f} vs ray 1 worker {cpu_rates[1]:.0f} img/cpu-s "
        f"({cpu_rates[2] / cpu_rates[1]:.2f}x: 1.00 means two actors do not slow each other's images); "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    print(
        f"target: ray 2 workers >= 1.6x ray 1 worker: steady {steady:.2f}x -> "
        f"{'met' if steady >= 1.6 else 'NOT met'} (whole run with actor start-up {total:.2f}x); "
        f"rerun cache misses 0: {misses} -> {'met' if misses == 0 else 'NOT met'}"
    )


def main() -> None:
    """Build the model and images, time every path, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1200, help="images in the folder (two classes)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=96, help="pixels the tiny CLIP sees (32 in the tests)")
    parser.add_argument("--width", type=int, default=64, help="hidden width of the tiny CLIP (32 in the tests)")
    parser.add_argument("--depth", type=int, default=4, help="layers of the tiny CLIP (2 in the tests)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        model = build_tiny_clip(scratch / "clip", image_size=args.image_size, width=args.width, depth=args.depth)
        images = build_image_folder(scratch / "images", per_class=args.images // 2, size=48)
        job = lambda cache: EmbedJob(str(images), f"hf:{model}", str(scratch / cache))  # noqa: E731
        raw = _raw(job("unused"), args.batch_size)
        print(
            f"{args.images} images, batch {args.batch_size}, tiny CLIP {args.image_size} px, width {args.width}, "
            f"{args.depth} layers; images/s (higher is better)"
        )
        print(f"{'path':<14}{'images/s':>12}{'steady':>12}{'overhead/img ms':>16}{'start s':>10}")
        _row("raw forward", raw)
        local = embed_into_cache(job("local"), batch_size=args.batch_size, progress=False)
        _row("local", raw, local)
        rates, cpu_rates, startup = _ray_rows(job, raw, args.batch_size)
        _summary(job, args.batch_size, rates, cpu_rates, startup)


if __name__ == "__main__":
    main()
