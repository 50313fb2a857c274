"""Import cost of the public API: ``import cotclip`` against a bare interpreter and against loading the libraries.

Each row runs in fresh interpreters (``python -I``), best of ``--repeat`` runs (default 5):

* ``python -I -c pass``: interpreter start-up alone (the floor);
* ``import cotclip``: time inside the interpreter for the import, and whether torch, dspy or litellm got loaded;
* ``cotclip.evaluate``: first access of a scoring function (loads scoring: numpy, torch, ...);
* ``cotclip.optimize``: first access of the optimizer entry (RunConfig, pydantic, yaml);
* ``every name in __all__``: what the lazy attributes defer.

Target (issue 15): ``import cotclip`` < 2 s without loading torch, dspy or litellm.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

HEAVY = ("torch", "dspy", "litellm")
CASES = {
    "import cotclip": "import cotclip",
    "cotclip.evaluate": "import cotclip; cotclip.evaluate",
    "cotclip.optimize": "import cotclip; cotclip.optimize",
    "every name in __all__": "import cotclip\nfor n in cotclip.__all__: getattr(cotclip, n)",
}
PROBE = (
    "import json, sys, time\nstarted = time.perf_counter()\n{code}\nseconds = time.perf_counter() - started\n"
    f"print(json.dumps([seconds, [m for m in {HEAVY!r} if m in sys.modules]]))"
)


def _inside(code: str) -> tuple[float, list[str]]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True
    )
    seconds, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, loaded


def _startup() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    """Print each case's best time over ``--repeat`` fresh interpreters, side by side with the 2 s target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    print(f"{'case':<24}{'best of ' + str(repeat):>12}{'median':>10}  loaded of {', '.join(HEAVY)}")
    startup = sorted(_startup() for _ in range(repeat))
    print(f"{'python -I -c pass':<24}{startup[0]:>11.4f}s{startup[len(startup) // 2]:>9.4f}s  (whole process)")
    for label, code in CASES.items():
        runs = [_inside(code) for _ in range(repeat)]
        times = sorted(seconds for seconds, _ in runs)
        loaded = ", ".join(runs[0][1]) or "none"
        print(f"{label:<24}{times[0]:>11.4f}s{times[len(times) // 2]:>9.4f}s  {loaded}")
    print("target: import cotclip < 2 s, loading none of torch, dspy, litellm")


if __name__ == "__main__":
    main()
