"""Other packages use a package through its front file (``__init__``), never its private ``_base``."""

from __future__ import annotations

import ast
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", "runs", "build", "dist", "node_modules", "__pycache__"}


def _folder_to_package() -> dict[str, str]:
    """Source folder -> dotted package, as pyproject's package-dir installs it (``scoring`` -> ``cotclip.scoring``)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"].get("package-dir", {})
    return {folder: dotted for dotted, folder in mapping.items() if folder}


def _package_of(path: pathlib.Path, root: pathlib.Path, folders: dict[str, str]) -> str:
    """The dotted package a file belongs to (for ``__init__.py``: the package itself)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    parts.pop()  # the module's own name, or "__init__"
    if parts:
        parts[0] = folders.get(parts[0], parts[0])
    return ".".join(parts)


def _imported_names(tree: ast.AST, package: str) -> list[tuple[int, list[str]]]:
    """Per import statement: its line and every dotted module or name it reaches, relative imports resolved."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.append((node.lineno, [alias.name for alias in node.names]))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*anchor, *([node.module] if node.module else [])])
            found.append((node.lineno, [module, *(f"{module}.{alias.name}" for alias in node.names)]))
    return found


def _foreign_owner(name: str, package: str) -> str | None:
    """The package whose ``_base`` ``name`` reaches, when that is not ``package`` or one of its parents."""
    parts = name.split(".")
    if "_base" not in parts:
        return None
    owner = ".".join(parts[: parts.index("_base")])
    return None if package == owner or package.startswith(owner + ".") else owner


def foreign_base_imports(path: pathlib.Path, root: pathlib.Path, folders: dict[str, str]) -> list[str]:
    """One line per import statement in ``path`` that reaches another package's ``_base`` module."""
    package = _package_of(path, root, folders)
    problems = []
    for line, names in _imported_names(ast.parse(path.read_text(), str(path)), package):
        owners = [owner for name in names if (owner := _foreign_owner(name, package))]
        if owners:
            problems.append(
                f"{path.relative_to(root)}:{line} imports {owners[0]}._base; import from {owners[0]} instead"
            )
    return problems


def _python_files(root: pathlib.Path) -> list[pathlib.Path]:
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if not any(part in SKIPPED_DIRS or part.startswith(".") for part in path.relative_to(root).parts)
    ]


def test_no_module_imports_another_packages_base():
    folders = _folder_to_package()
    files = _python_files(ROOT)
    assert len(files) > 100, "the scan found too few files; is ROOT the repository root?"
    problems = [problem for path in files for problem in foreign_base_imports(path, ROOT, folders)]
    assert not problems, "\n".join(problems)


def test_the_check_flags_a_foreign_base_and_allows_its_own(tmp_path):
    folders = {"scoring": "cotclip.scoring"}
    (tmp_path / "scoring" / "encoders").mkdir(parents=True)
    (tmp_path / "scoring" / "data").mkdir()
    (tmp_path / "tests").mkdir()
    own = tmp_path / "scoring" / "encoders" / "hf.py"
    own.write_text("from ._base import ImageRef\nfrom cotclip.scoring.encoders._base import Encoder\n")
    front = tmp_path / "scoring" / "encoders" / "__init__.py"
    front.write_text("from . import _base\nfrom ._base import Encoder\n")
    foreign = tmp_path / "scoring" / "data" / "local.py"
    foreign.write_text("from cotclip.scoring.encoders import _base\nfrom ..encoders._base import ImageRef\n")
    test = tmp_path / "tests" / "test_x.py"
    test.write_text("import cotclip.scoring.encoders._base as b\nfrom cotclip.scoring.encoders import Encoder\n")
    assert foreign_base_imports(own, tmp_path, folders) == []
    assert foreign_base_imports(front, tmp_path, folders) == []
    assert [p.split(" ")[0] for p in foreign_base_imports(foreign, tmp_path, folders)] == [
        "scoring/data/local.py:1",
        "scoring/data/local.py:2",
    ]
    assert len(foreign_base_imports(test, tmp_path, folders)) == 1
