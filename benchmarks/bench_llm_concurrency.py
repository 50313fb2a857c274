"""LLM concurrency: one optimize round of K proposals at --llm-concurrency 1 vs N, same versions.

Run: ``.venv/bin/python benchmarks/bench_llm_concurrency.py`` (``--latency 2 --k 4``;
``--local`` adds the same round against the bundled llama-server, slow on 2 cores;
``--local-only`` runs just that).

The endpoint is a **fixed-latency OpenAI-compatible server written for this
benchmark** (``tests/optimizer/llm/fake_llm_server.py``): every answer waits
``--latency`` seconds, then returns a valid system whose option names carry the
request's seed. Each row is a fresh ``cotclip optimize`` run (synthetic
pokemon-like world, ``--max-evaluations K`` so that it stops after round 0, its own
LLM cache, so nothing is answered from a cache) and reports:

* ``round s``: from the first request reaching the server to the last answer leaving it;
* ``run s``: the whole ``optimize`` call (data, round 0, final report);
* ``peak``: the most requests the server saw at once;
* ``versions``: the version fingerprints, which must be identical across rows.

The llama-server rows (``--lm local``, SmolLM2 or ``$COTCLIP_GGUF``) report the whole
run, the slots of the server the run started (``-np`` on its command line and
``total_slots`` from its ``/props``, read while the run is going), its threads
(``-t``: 1 on a busy machine, see ``default_threads``) and the versions.
A CPU-bound server on 2 cores answers parallel requests by batching them, so the
speed-up there is what batching gives, not the fixed-latency endpoint's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "optimizer" / "llm"))
from fake_llm_server import FakeServer  # noqa: E402

from cotclip.optimizer.loop.config import RunConfig  # noqa: E402
from cotclip.optimizer.loop.runs import RunDir  # noqa: E402
from cotclip.optimizer.loop.session import optimize  # noqa: E402
from cotclip.scoring.simulation.world import load_world  # noqa: E402


def _round(lm: str, api_base: str | None, k: int, concurrency: int, scratch: Path) -> tuple[float, list[str]]:
    config = RunConfig(
        name=f"c{concurrency}",
        runs_dir=str(scratch),
        data="synthetic:pokemon-like",
        model="synthetic",
        lm=lm,
        api_base=api_base,
        proposer="oneshot",
        n_proposals=k,
        llm_concurrency=concurrency,
        moves=["fit_rules"],
        max_evaluations=k,
        llm_max_tokens=400,
        llm_timeout_s=600.0,
        cache_dir=str(scratch / "cache"),
    )
    started = time.perf_counter()
    optimize(config, progress=False)
    elapsed = time.perf_counter() - started
    run = RunDir.open_existing(scratch / config.name)
    versions = [v.system.fingerprint()[:10] for v in run.load_versions()]
    run.release_lock()
    return elapsed, versions


def fixed_latency(latency: float, k: int, levels: list[int]) -> None:
    classes = list(load_world("pokemon-like").classes)
    print(f"fixed-latency endpoint (benchmark server), {latency:.1f} s per answer, K={k}")
    warm = FakeServer(classes=classes)  # pays the first-call imports (litellm, dspy) outside the rows
    try:
        with tempfile.TemporaryDirectory() as scratch:
            _round("openai/bench-fixed-latency", warm.api_base, 1, 1, Path(scratch))
    finally:
        warm.close()
    print(f"{'concurrency':>11}{'round s':>10}{'run s':>9}{'peak':>6}  versions")
    rows = {}
    for level in levels:
        server = FakeServer(latency_s=latency, classes=classes)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                run_s, versions = _round("openai/bench-fixed-latency", server.api_base, k, level, Path(scratch))
            round_s = server.last_at - server.first_at
        finally:
            server.close()
        rows[level] = (round_s, run_s, versions)
        print(f"{level:>11}{round_s:>10.2f}{run_s:>9.2f}{server.peak:>6}  {' '.join(versions)}")
    low, high = rows[levels[0]], rows[levels[-1]]
    speedup = low[0] / high[0]
    same = "identical" if low[2] == high[2] else "DIFFERENT"
    met = "met" if speedup >= 3.0 and same == "identical" else "NOT met"
    print(
        f"target: round >= 3x faster at concurrency {levels[-1]} with identical versions: "
        f"{speedup:.2f}x, versions {same} -> {met} (whole run: {low[1] / high[1]:.2f}x)"
    )


class _SlotWatcher:
    """Finds the llama-server this process starts and reads its ``-np`` and ``/props`` ``total_slots``."""

    def __init__(self) -> None:
        self.np: str | None = None
        self.threads: str | None = None
        self.total_slots: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _SlotWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.2) and self.total_slots is None:
            for argv in _children_argv():
                if argv and argv[0].endswith("llama-server"):
                    self.np = argv[argv.index("-np") + 1] if "-np" in argv else None
                    self.threads = argv[argv.index("-t") + 1] if "-t" in argv else None
                    port = argv[argv.index("--port") + 1] if "--port" in argv else None
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/props", timeout=2) as answer:
                            self.total_slots = json.load(answer).get("total_slots")
                    except OSError:
                        pass  # still loading the model: try again


def _children_argv() -> list[list[str]]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid():
                found.append((entry / "cmdline").read_bytes().decode().split("\0"))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _wait_for_quiet(limit_s: float = 180.0) -> None:
    """Wait (at most ``limit_s``) until the load average lets llama-server take every core.

    ``default_threads`` gives llama-server one thread on a busy machine, and the previous
    row's own server keeps the load average up for a minute after it stops: without
    this wait the second row would run with fewer threads than the first.
    """
    cores = os.cpu_count() or 1
    start = time.monotonic()
    while os.getloadavg()[0] >= cores - 0.5 and time.monotonic() - start < limit_s:
        time.sleep(5)
    waited = time.monotonic() - start
    if waited >= 5:
        print(f"  (waited {waited:.0f} s for load average {os.getloadavg()[0]:.2f} < {cores - 0.5})")


def local_server(k: int, levels: list[int]) -> None:
    print(
        f"\nbundled llama-server (SmolLM2-135M, --lm local, one-shot proposer), K={k}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPU(s)"
    )
    print(f"{'concurrency':>11}{'run s':>9}{'-np':>5}{'slots':>7}{'-t':>4}  versions")
    rows = {}
    for level in levels:
        _wait_for_quiet()
        with tempfile.TemporaryDirectory() as scratch, _SlotWatcher() as watcher:
            run_s, versions = _round("local:smollm2", None, k, level, Path(scratch))
        rows[level] = (run_s, versions)
        print(
            f"{level:>11}{run_s:>9.2f}{watcher.np or '?':>5}{watcher.total_slots or '?':>7}"
            f"{watcher.threads or '?':>4}  {' '.join(versions)}"
        )
    low, high = rows[levels[0]], rows[levels[-1]]
    same = "identical" if low[1] == high[1] else "DIFFERENT"
    print(
        f"llama-server: run {low[0] / high[0]:.2f}x faster at concurrency {levels[-1]}, versions {same}; "
        f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main() -> None:
    """Parse the arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per answer of the benchmark server")
    parser.add_argument("--k", type=int, default=4, help="proposals in the round")
    parser.add_argument("--local", action="store_true", help="also run against the bundled llama-server")
    parser.add_argument("--local-only", action="store_true", help="only the llama-server rows")
    args = parser.parse_args()
    if not args.local_only:
        fixed_latency(args.latency, args.k, [1, args.k])
    if args.local or args.local_only:
        local_server(args.k, [1, args.k])


if __name__ == "__main__":
    main()
