"""Mutation testing of the core modules with mutmut, each module against the tests that cover it.

A dev tool, not part of CI (it takes minutes per module). Usage, from the repository root::

    .venv/bin/python -m pip install "mutmut==3.8.1"       # into your own venv only
    nice -n 19 .venv/bin/python tools/mutation.py cache runs   # or: all
    nice -n 19 .venv/bin/python tools/mutation.py --rerun cache   # after adding tests: survivors only
    .venv/bin/python tools/mutation.py --list

For each module it lays the package out as ``cotclip/`` in a scratch copy of the work
tree (mutmut needs the import name on disk; the repository maps ``cotclip.scoring`` to
``scoring/``), writes mutmut's settings there (``[tool.mutmut]`` of pyproject.toml plus
this module's ``only_mutate`` and test files), runs ``mutmut run``, and writes
``<workdir>/<module>/summary.json`` and ``survivors.txt`` (every surviving mutant's
diff). mutmut then runs each mutant only against the tests among these files that
executed the mutated function. Tests that start a second Python process (``kill -9``
of a run, the CLI in a subprocess) cannot see mutants and are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("systems", "scoring", "optimizer", "prompts")

#: module key -> (files to mutate, relative to the package root ``cotclip/``; test files or node ids)
#: What every mutmut process sees beside the caller's environment: offline, one BLAS thread, no stray imports.
_ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": "",
}

MODULES: dict[str, tuple[list[str], list[str]]] = {
    "scorer": (
        ["scoring/scorer.py"],
        [
            "tests/scoring/test_scorer.py",
            "tests/scoring/test_scorer_mutants.py",
            "tests/scoring/deploy/test_compiled.py",
        ],
    ),
    "cache": (["scoring/cache.py"], ["tests/scoring/test_cache.py"]),
    "hf": (
        ["scoring/encoders/hf.py", "scoring/encoders/hf_hub.py"],
        [
            "tests/scoring/encoders/test_hf_encoder.py",
            "tests/scoring/encoders/test_hf_mutants.py",
            "tests/scoring/encoders/test_hf_reference.py",
            "tests/scoring/encoders/test_contract.py",
            "tests/scoring/encoders/test_jina_families.py",
        ],
    ),
    "runs": (
        ["optimizer/loop/runs.py"],
        ["tests/optimizer/loop/test_storage.py", "tests/optimizer/loop/test_bad_input.py"],
    ),
    "moves": (
        ["optimizer/loop/moves.py"],
        [
            "tests/optimizer/loop/test_moves.py",
            "tests/optimizer/loop/test_bad_input.py",
            "tests/optimizer/loop/test_loop.py::test_rule_fitting_follows_the_encoder_and_respects_locks_and_thresholds",
        ],
    ),
    "selection": (["optimizer/selection/*"], ["tests/optimizer/selection"]),
    # ready_systems.py (a loader of the bundled example files) is left out: not core.
    "systems": (
        [
            "systems/model.py",
            "systems/io.py",
            "systems/validate.py",
            "systems/_checks.py",
            "systems/seed_format.py",
            "systems/errors.py",
        ],
        [
            "tests/systems",
            # reads the shipped seed file at <repo>/systems/ready/, which the cotclip/ layout moves
            "--deselect",
            "tests/systems/test_systems_cli.py::test_export_seed_json_round_trips_the_shipped_seed_file",
        ],
    ),
}


def _scratch(target: Path) -> None:
    """A copy of the work tree (tracked and untracked, not ignored) with the package under ``cotclip/``."""
    if target.exists():
        shutil.rmtree(target)
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", *PACKAGES, "cotclip", "tests", "pyproject.toml"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listed:
        source = ROOT / name
        if not source.is_file():
            continue
        destination = target / ("cotclip/" + name if name.split("/")[0] in PACKAGES else name)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _settings(only: list[str], tests: list[str]) -> str:
    """The ``[tool.mutmut]`` table for one module: the repository's settings plus its files and tests."""
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    table = {**base, "only_mutate": [f"cotclip/{p}" for p in only], "pytest_add_cli_args_test_selection": tests}
    lines = ["", "[tool.mutmut]"]
    for key, value in table.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _without_mutmut_table(text: str) -> str:
    kept, inside = [], False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line.strip() == "[tool.mutmut]"
        if not inside:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _statuses(scratch: Path) -> dict[str, str]:
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "mutmut"), "results", "--all", "true"],
        cwd=scratch,
        capture_output=True,
        text=True,
    ).stdout
    statuses = {}
    for line in listed.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    return statuses


_SHOW = """
import sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant, status_by_exit_code
for name in sys.argv[1:]:
    mutant = find_mutant(name)
    print(f"# {name}: {status_by_exit_code[mutant.exit_code_by_key[name]]}")
    print(get_diff_for_mutant(name, path=mutant.path))
"""


def _refresh_tests(scratch: Path) -> None:
    """Copy the work tree's current ``tests/`` over the scratch copy's (sources stay as first mutated)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "tests"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, scratch / name)


_GENERATE_ONLY = "cotclip.no_such_mutant"  # a filter nothing matches: mutmut generates, collects, then stops


def _wilson(killed: int, n: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson interval of a sampled kill rate."""
    if n == 0:
        return None
    p, spread = killed / n, z * ((killed / n) * (1 - killed / n) / n + z * z / (4 * n * n)) ** 0.5
    centre, scale = p + z * z / (2 * n), 1 + z * z / n
    return [round((centre - spread) / scale, 4), round((centre + spread) / scale, 4)]


def _chosen(scratch: Path, sample: int | None, seed: int, mutmut: list[str], env: dict) -> list[str] | None:
    """The sampled mutant names (drawn once per scratch copy and kept in ``sample.txt``), or None (all)."""
    kept = scratch / "sample.txt"
    if sample is None:
        return kept.read_text().split() if kept.exists() else None
    statuses = _statuses(scratch)
    if not statuses:
        with open(scratch / "mutmut-generate.log", "w", encoding="utf-8") as log:
            subprocess.run([*mutmut, "run", _GENERATE_ONLY], cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT)
        statuses = _statuses(scratch)
    chosen = sorted(random.Random(seed).sample(sorted(statuses), min(sample, len(statuses))))
    kept.write_text("\n".join(chosen) + "\n")
    (scratch / "sample-seed.txt").write_text(f"{seed}\n")
    return chosen


def _test(scratch: Path, chosen: list[str] | None, rerun: bool, mutmut: list[str], env: dict) -> tuple:
    """Run mutmut on what is still to decide: the sample's unchecked mutants, the survivors (rerun), or all.

    Returns the scope (mutant names the counts are over), the names tested now, mutmut's exit code
    and the verdicts before this run.
    """
    before = _statuses(scratch)
    scope = chosen if chosen is not None else list(before)
    wanted = ("survived", "no tests") if rerun else ("not checked",)
    names = [name for name in scope if before.get(name) in wanted] if rerun or chosen is not None else []
    code = 0
    if names or not (rerun or chosen is not None):
        with open(scratch / ("mutmut-rerun.log" if rerun else "mutmut.log"), "a", encoding="utf-8") as log:
            code = subprocess.run(
                [*mutmut, "run", *names], cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT
            ).returncode
    return scope, names, code, before


def _drawn_seed(scratch: Path) -> int | None:
    """The seed the scratch copy's sample was drawn with (a --rerun is not told it); None if unrecorded."""
    recorded = scratch / "sample-seed.txt"
    return int(recorded.read_text()) if recorded.exists() else None


def _prepare_scratch(
    key: str, scratch: Path, only: list[str], tests: list[str], *, rerun: bool, sample: int | None
) -> None:
    """A fresh scratch copy, or the earlier one (tests refreshed for a rerun), with the module's mutmut settings."""
    if (rerun or sample is not None) and (scratch / "mutants").is_dir():
        if rerun:
            _refresh_tests(scratch)
    elif rerun:
        raise SystemExit(f"no earlier run of {key} in {scratch}; run it without --rerun first")
    else:
        _scratch(scratch)
        (scratch / "sample.txt").unlink(missing_ok=True)
    pyproject = scratch / "pyproject.toml"
    pyproject.write_text(
        _without_mutmut_table(pyproject.read_text(encoding="utf-8")) + _settings(only, tests), encoding="utf-8"
    )


def run_module(key: str, workdir: Path, rerun: bool = False, sample: int | None = None, seed: int = 0) -> dict:
    """Mutate one module in its own scratch copy and return its counts.

    ``sample``: test only that many mutants drawn at random (``seed``) from all the module's
    mutants; mutants already decided in an earlier (even interrupted) run of the same scratch
    copy keep their verdicts. ``rerun``: keep the scratch copy, bring its tests up to date and
    re-test the mutants (of the sample, if one was drawn) that were not killed; new tests in
    the selected files are picked up, and as tests were only added the earlier kills stand.
    """
    only, tests = MODULES[key]
    scratch = workdir / key
    _prepare_scratch(key, scratch, only, tests, rerun=rerun, sample=sample)
    env = {**os.environ, **_ENVIRONMENT}
    mutmut = [str(Path(sys.executable).parent / "mutmut")]
    started = time.monotonic()
    chosen = _chosen(scratch, sample, seed, mutmut, env)
    scope, names, code, before = _test(scratch, chosen, rerun, mutmut, env)
    after = _statuses(scratch)
    if rerun:  # a changed test selection makes mutmut forget every verdict; tests were only added, so kills stand
        after = {**before, **{name: after.get(name, "not checked") for name in names}}
    statuses = {name: after.get(name, "not checked") for name in scope} if chosen is not None else after
    counts = Counter(statuses.values())
    killed, survived = counts["killed"], counts["survived"]
    summary = {
        "module": key,
        "files": only,
        "tests": tests,
        "mutants": len(after),
        "sampled": None if chosen is None else {"n": len(chosen), "seed": _drawn_seed(scratch)},
        "tested_now": len(names) if names else None,
        "rerun": rerun,
        "exit_code": code,
        "wall_s": round(time.monotonic() - started),
        "counts": dict(counts),
        "score": round(killed / (killed + survived), 4) if killed + survived else None,
        "interval95": _wilson(killed, killed + survived) if chosen is not None else None,
    }
    survivors = [name for name, status in statuses.items() if status != "killed"]
    with open(scratch / "survivors.txt", "w", encoding="utf-8") as out:  # one process: `mutmut show` per name is slow
        subprocess.run([sys.executable, "-c", _SHOW, *survivors], cwd=scratch, stdout=out, text=True)
    (scratch / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the named modules (or ``all``) one after another and print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} or all")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cotclip-mutation"))
    parser.add_argument("--list", action="store_true", help="print the module table and exit")
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="re-test only the survivors of an earlier run in --workdir against the current tests",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="test only this many mutants per module, drawn at random (reported with a 95%% interval)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample's draw")
    args = parser.parse_args(argv)
    if args.list or not args.modules:
        for key, (only, tests) in MODULES.items():
            print(f"{key:10} {' '.join(only):32} {' '.join(tests)}")
        return 0
    keys = list(MODULES) if args.modules == ["all"] else args.modules
    unknown = [k for k in keys if k not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; pick from {', '.join(MODULES)} or all")
    for key in keys:
        print(json.dumps(run_module(key, args.workdir, args.rerun, args.sample, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
