"""LLM concurrency: one optimize round of K proposals at --llm-concurrency 1 vs N, same versions.

Run: ``.venv/bin/python benchmarks/bench_llm_concurrency.py`` (``--latency 2 --k 4``;
``--local`` adds the same round against the bundled llama-server, slow on 2 cores).

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
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "optimizer" / "llm"))
from fake_llm_server import FakeServer  # noqa: E402

from cotclip.optimizer.loop.config import RunConfig  # noqa: E402
from cotclip.optimizer.loop.runs import RunDir  # noqa: E402
from cotclip.optimizer.loop.session import optimize  # noqa: E402
from cotclip.scoring.simulation.world import load_world  # noqa: E402


def _round(lm: str, api_base: str | None, k: int, concurrency: int, scratch: Path) -> tuple[float, list[str]]:
    config = RunConfig(name=f"c{concurrency}", runs_dir=str(scratch), data="synthetic:pokemon-like", model="synthetic",
                       lm=lm, api_base=api_base, proposer="oneshot", n_proposals=k, llm_concurrency=concurrency,
                       moves=["fit_rules"],
                       max_evaluations=k, llm_max_tokens=400, llm_timeout_s=600.0, cache_dir=str(scratch / "cache"))
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
    print(f"target: round >= 3x faster at concurrency {levels[-1]} with identical versions: "
          f"{speedup:.2f}x, versions {same} -> {met} (whole run: {low[1] / high[1]:.2f}x)")


def local_server(k: int, levels: list[int]) -> None:
    print(f"\nbundled llama-server (SmolLM2-135M, -np = concurrency, one-shot proposer), K={k}")
    print(f"{'concurrency':>11}{'run s':>9}  versions")
    for level in levels:
        with tempfile.TemporaryDirectory() as scratch:
            run_s, versions = _round("local:smollm2", None, k, level, Path(scratch))
        print(f"{level:>11}{run_s:>9.2f}  {' '.join(versions)}")


def main() -> None:
    """Parse the arguments and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per answer of the benchmark server")
    parser.add_argument("--k", type=int, default=4, help="proposals in the round")
    parser.add_argument("--local", action="store_true", help="also run against the bundled llama-server")
    args = parser.parse_args()
    fixed_latency(args.latency, args.k, [1, args.k])
    if args.local:
        local_server(args.k, [1, args.k])


if __name__ == "__main__":
    main()
