"""``import cotclip`` in a fresh interpreter: a documented ``__all__``, cheap, and free of side effects.

Each check runs in a subprocess so that nothing this test process imported can hide a cost
or a side effect. The import-time budget (2 s) is a ceiling for a loaded machine, not a
benchmark: the measured time is in benchmarks/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "dspy", "litellm", "transformers", "datasets", "optuna", "numpy")


def run_python(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (``-I``: no user site, no cwd on the path) and parse its JSON line."""
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_library_and_sets_no_environment_variable():
    found = run_python(
        "import json, os, sys, time\n"
        "before = dict(os.environ)\n"
        "started = time.perf_counter()\n"
        "import cotclip\n"
        "seconds = time.perf_counter() - started\n"
        f"print(json.dumps({{'seconds': seconds, 'loaded': [m for m in {HEAVY!r} if m in sys.modules],\n"
        "                   'env_changed': sorted(set(os.environ.items()) ^ set(before.items())),\n"
        "                   'version': cotclip.__version__}))\n",
        env={"PATH": "/usr/bin:/bin"},  # nothing preset: an import that set LITELLM_* would show
    )
    assert found["loaded"] == []
    assert found["env_changed"] == []
    assert found["seconds"] < 2.0, f"import cotclip took {found['seconds']:.2f} s"
    assert found["version"].count(".") == 2


def test_import_changes_no_torch_setting():
    found = run_python(
        "import json, torch\n"
        "torch.set_num_threads(3)\n"
        "def settings():\n"
        "    return (torch.get_num_threads(), torch.get_num_interop_threads(),\n"
        "            torch.get_default_dtype() is torch.float32,\n"
        "            torch.are_deterministic_algorithms_enabled(), torch.is_grad_enabled())\n"
        "before = settings()\n"
        "import cotclip\n"
        "for name in cotclip.__all__:\n"
        "    getattr(cotclip, name)\n"
        "print(json.dumps({'before': before, 'after': settings()}))\n"
    )
    assert found["after"] == found["before"]


def test_every_public_name_resolves_and_is_documented():
    found = run_python(
        "import json, os, cotclip\n"
        "before = dict(os.environ)\n"
        "missing, undocumented = [], []\n"
        "for name in cotclip.__all__:\n"
        "    value = getattr(cotclip, name, None)\n"
        "    if value is None: missing.append(name)\n"
        "    elif name != '__version__' and not (getattr(value, '__doc__', None) or '').strip():\n"
        "        undocumented.append(name)\n"
        "env = sorted(set(os.environ.items()) ^ set(before.items()))\n"
        "print(json.dumps({'missing': missing, 'undocumented': undocumented, 'all': list(cotclip.__all__),\n"
        "                  'doc': cotclip.__doc__ or '', 'env': env,\n"
        "                  'dir_ok': set(cotclip.__all__) <= set(dir(cotclip))}))\n"
    )
    assert found["missing"] == [] and found["undocumented"] == []
    assert found["dir_ok"]
    assert found["env"] == []  # resolving the names (importing torch and the libraries) sets nothing either
    for name in (
        "optimize",
        "evaluate",
        "baseline",
        "propose",
        "review",
        "export",
        "load_system",
        "validate_system",
        "convert_system",
        "load_dataset",
        "load_encoder",
        "Classifier",
        "CotclipError",
        "RunConfig",
    ):
        assert name in found["all"], name


def test_an_unknown_name_is_a_clear_attribute_error():
    import cotclip

    with pytest.raises(AttributeError, match="see cotclip.__all__"):
        cotclip.no_such_function  # noqa: B018
