"""Type-check the library with mypy, as installed: ``python tools/typecheck.py [mypy options]``.

The repository maps dotted packages to top-level folders (``cotclip.scoring`` lives in
``scoring/``, see ``[tool.setuptools.package-dir]``) and the editable install resolves them
with an import hook, which mypy cannot follow. So this lays the packages out under their import
names as symbolic links in ``build/typecheck/`` (git-ignored), runs mypy on them with the
configuration in ``pyproject.toml`` (cache in ``build/typecheck/.mypy_cache``), and prints its
findings with the repository's own paths.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "build" / "typecheck"


def package_dirs() -> dict[str, str]:
    """Dotted package -> folder, from pyproject's package-dir mapping."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(config["tool"]["setuptools"]["package-dir"])


def lay_out(mapping: dict[str, str]) -> None:
    """Link each mapped folder at its import path under ``LAYOUT``.

    A folder that holds other mapped folders (the ``cotclip`` application package) is copied
    instead: mypy follows a linked ``__init__.py`` to its real folder, where the linked
    sub-packages are not, and then finds each of them twice.
    """
    targets = {LAYOUT.joinpath(*dotted.split(".")): ROOT / folder for dotted, folder in mapping.items()}
    for link in sorted(targets, key=lambda path: len(path.parts)):
        nested = any(other != link and link in other.parents for other in targets)
        if nested:
            if link.is_symlink() or link.is_file():
                link.unlink()
            shutil.rmtree(link, ignore_errors=True)
            shutil.copytree(targets[link], link, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            link.parent.mkdir(parents=True, exist_ok=True)
            _link(link, targets[link])


def _link(link: pathlib.Path, target: pathlib.Path) -> None:
    if link.is_symlink() and link.resolve() == target.resolve():
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    if not link.exists():
        link.symlink_to(target)


def _repository_path(line: str, mapping: dict[str, str]) -> str:
    """Rewrite ``cotclip/scoring/x.py:3: ...`` (as mypy names it from ``LAYOUT``) to ``scoring/x.py:3: ...``."""
    for dotted, folder in sorted(mapping.items(), key=lambda item: -len(item[0])):
        prefix = "/".join(dotted.split(".")) + "/"
        if line.startswith(prefix):
            return f"{folder}/{line[len(prefix) :]}"
    return line


def main(argv: list[str]) -> int:
    """Run mypy on every mapped package; its exit code is ours."""
    mapping = package_dirs()
    lay_out(mapping)
    # "-p cotclip" already takes in every sub-package; naming one again makes mypy find it twice
    tops = [d for d in sorted(mapping) if not any(d.startswith(other + ".") for other in mapping)]
    packages = [arg for dotted in tops for arg in ("-p", dotted)]
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *argv, *packages]
    # Run from the layout so that a folder in the repository root never shadows an import name.
    result = subprocess.run(command, cwd=LAYOUT, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        print(_repository_path(line, mapping))
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
