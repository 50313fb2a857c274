"""The README's "Python" section script runs exactly as written (in a fresh interpreter, in a temporary folder)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_section_script() -> str:
    """The one ```python block under the ``## Python`` heading."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python section holds exactly one script"
    return blocks[0]


def test_the_section_is_the_promised_walk_through():
    script = python_section_script()
    for step in (
        "cotclip.optimize(",
        "cotclip.load_system(",
        "cotclip.evaluate(",
        "cotclip.export(",
        "cotclip.Classifier.load(",
    ):
        assert step in script, step


@pytest.mark.slow
def test_the_readme_python_script_runs_as_written(tmp_path):
    script = tmp_path / "readme_python.py"
    script.write_text(python_section_script(), encoding="utf-8")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "runs" / "python-demo" / "report.md").is_file()
    assert (tmp_path / "best.npz").is_file() and (tmp_path / "best.seed.json").is_file()
    lines = done.stdout.splitlines()
    assert lines[0].startswith("stopped: ") and "test accuracy" in done.stdout
    predicted = next(line for line in lines if "truth:" in line)
    assert predicted.startswith("[") and predicted.count("'") >= 8  # four labels, four truths
