"""The distribution ships every subpackage and keeps the one-way data flow."""

from __future__ import annotations

import ast
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAPPING = {
    "systems": "cotclip.systems",
    "scoring": "cotclip.scoring",
    "optimizer": "cotclip.optimizer",
    "prompts": "cotclip.prompts",
}
# Each layer may import only from the layers listed for it.
ALLOWED = {
    "cotclip.systems": {"cotclip.systems"},
    "cotclip.scoring": {"cotclip.systems", "cotclip.scoring"},
    "cotclip.optimizer": {"cotclip.systems", "cotclip.scoring", "cotclip.optimizer", "cotclip.prompts"},
}


def _python_packages() -> set[str]:
    found = set()
    for folder, dotted in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((dotted, *relative)))
    return found


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    missing = sorted(_python_packages() - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"


def _imported_cotclip_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cotclip."):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("cotclip."))
    return names


def test_data_flows_one_way():
    violations = []
    for folder, layer in MAPPING.items():
        if layer not in ALLOWED:
            continue
        for path in (ROOT / folder).rglob("*.py"):
            for module in _imported_cotclip_modules(path):
                top = ".".join(module.split(".")[:2])
                if top not in ALLOWED[layer]:
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, violations
